// Parses arbitrary bytes as what a signer or a registry controls: a
// simple-signing payload, a sigstore payload and a sigstore attachment
// manifest. No crash, and what parses names a digest and an identity.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "pkg/trust/sigstore.h"
#include "pkg/trust/sigstore_attachments.h"
#include "pkg/trust/simple_signing.h"

namespace {

void JudgeIdentity(const ocid::SimpleSigningClaims& claims) {
  absl::StatusOr<ocid::ImageReference> image = ocid::ParseImageReference("quay.io/a/b:v1");
  if (!image.ok()) std::abort();
  // Any claimed identity is judged without crashing.
  ocid::SignedIdentity rule;
  ocid::CheckSignedIdentity(rule, *image, claims.docker_reference).IgnoreError();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ocid::SimpleSigningClaims> claims = ocid::ParseSimpleSigningPayload(text);
  if (claims.ok()) JudgeIdentity(*claims);
  absl::StatusOr<ocid::SimpleSigningClaims> sigstore = ocid::ParseSigstorePayload(text);
  if (sigstore.ok()) JudgeIdentity(*sigstore);
  absl::StatusOr<std::vector<ocid::SigstoreLayer>> layers =
      ocid::ParseSigstoreAttachmentManifest(text);
  if (layers.ok()) {
    for (const ocid::SigstoreLayer& layer : *layers) {
      if (layer.size < 0 || layer.digest.hex.size() != 64) std::abort();
    }
  }
  return 0;
}
