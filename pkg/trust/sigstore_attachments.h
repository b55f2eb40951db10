// Sigstore signatures stored in the registry beside the image (cosign's
// and containers' "sigstore attachments"): the image manifest with digest
// sha256:<hex> has its signatures in the manifest tagged "sha256-<hex>.sig"
// in the same repository, one layer per signature, whose blob is the signed
// payload (media type application/vnd.dev.cosign.simplesigning.v1+json)
// and whose "dev.cosignproject.cosign/signature" annotation is the base64
// signature. Read when registries.d says use-sigstore-attachments: true.
#ifndef OCID_PKG_TRUST_SIGSTORE_ATTACHMENTS_H_
#define OCID_PKG_TRUST_SIGSTORE_ATTACHMENTS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/image/registry_client.h"
#include "pkg/storage/digest.h"
#include "pkg/trust/sigstore.h"

namespace ocid {

inline constexpr char kSigstorePayloadMediaType[] =
    "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr char kSigstoreSignatureAnnotation[] = "dev.cosignproject.cosign/signature";

// "sha256-<hex>.sig" for "sha256:<hex>"; InvalidArgument for another digest.
absl::StatusOr<std::string> SigstoreAttachmentTag(const std::string& manifest_digest);

struct SigstoreLayer {
  Digest digest;
  int64_t size = 0;
  std::string base64_signature;
};

// The signature layers of an attachment manifest (an OCI or Docker image
// manifest). InvalidArgument for bad JSON, more than 128 layers, a layer of
// another media type, without the signature annotation, or with a bad
// digest or a size over 4 MiB.
absl::StatusOr<std::vector<SigstoreLayer>> ParseSigstoreAttachmentManifest(absl::string_view body);

// Where attachments are read: the manifest for a tag (nullopt when there is
// none, a 404) and a blob (at most `max_bytes`, its digest checked).
struct AttachmentSource {
  std::function<absl::StatusOr<std::optional<std::string>>(const std::string& tag)> manifest;
  std::function<absl::StatusOr<std::string>(const SigstoreLayer& layer, size_t max_bytes)> blob;
};

// The attachments of `repository` on the registry `client` talks to.
AttachmentSource RegistryAttachmentSource(RegistryClient& client, const std::string& repository);

// The sigstore signatures of the image manifest `manifest_digest`: none when
// the .sig tag does not exist. Errors name the tag and the layer.
absl::StatusOr<std::vector<SigstoreSignature>> ReadSigstoreAttachments(
    const AttachmentSource& source, const std::string& manifest_digest);

}  // namespace ocid

#endif  // OCID_PKG_TRUST_SIGSTORE_ATTACHMENTS_H_
