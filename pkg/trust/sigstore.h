// Sigstore (cosign) signatures checked against a policy's sigstoreSigned
// requirement. A signature is a payload, the JSON
//   {"critical": {"type": "cosign container image signature",
//                 "image": {"docker-manifest-digest": "sha256:..."},
//                 "identity": {"docker-reference": "host/repo:tag"}},
//    "optional": {...} or null}
// and the base64 of an ASN.1 DER ECDSA signature over its SHA-256, made by
// one of the requirement's P-256 public keys.
#ifndef OCID_PKG_TRUST_SIGSTORE_H_
#define OCID_PKG_TRUST_SIGSTORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/image/reference.h"
#include "pkg/trust/policy.h"
#include "pkg/trust/sigstore_key.h"
#include "pkg/trust/simple_signing.h"

namespace ocid {

struct SigstoreSignature {
  std::string payload;           // the signed bytes, as stored
  std::string base64_signature;  // the dev.cosignproject.cosign/signature annotation
};

// Parses a payload. InvalidArgument for anything but the format above:
// another type, missing or extra keys in "critical" and its objects,
// values of the wrong type, an optional.creator that is not a string or an
// optional.timestamp that is not an integer.
absl::StatusOr<SimpleSigningClaims> ParseSigstorePayload(absl::string_view payload);

// Parses each of a sigstoreSigned requirement's PEM keys.
absl::StatusOr<std::vector<SigstorePublicKey>> SigstoreKeys(const PolicyRequirement& requirement);

// Checks one signature for the image whose manifest has digest
// `manifest_digest`: base64 and DER well-formed, verified by one of `keys`,
// a payload for that digest claiming an identity the requirement's
// signedIdentity accepts. InvalidArgument says which failed.
absl::Status CheckSigstoreSignature(const std::vector<SigstorePublicKey>& keys,
                                    const PolicyRequirement& requirement,
                                    const ImageReference& image, const std::string& manifest_digest,
                                    const SigstoreSignature& signature);

}  // namespace ocid

#endif  // OCID_PKG_TRUST_SIGSTORE_H_
