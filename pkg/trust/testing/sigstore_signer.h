// For tests: an ECDSA P-256 key pair made with OpenSSL that signs sigstore
// (cosign) payloads as cosign does: base64 of a DER ECDSA signature over
// the payload's SHA-256.
#ifndef OCID_PKG_TRUST_TESTING_SIGSTORE_SIGNER_H_
#define OCID_PKG_TRUST_TESTING_SIGSTORE_SIGNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace ocid {

class SigstoreTestSigner {
 public:
  // A new P-256 key, or (`curve`) one on another curve, for tests of keys
  // the policy refuses.
  static absl::StatusOr<SigstoreTestSigner> Generate(const std::string& curve = "P-256");
  // A key read back from PrivatePem().
  static absl::StatusOr<SigstoreTestSigner> FromPrivatePem(absl::string_view pem);

  // The public key as a PEM "PUBLIC KEY" block (what policy.json names).
  absl::StatusOr<std::string> PublicPem() const;
  // The private key, PEM PKCS#8, unencrypted.
  absl::StatusOr<std::string> PrivatePem() const;
  // The DER ECDSA signature of `payload`'s SHA-256.
  absl::StatusOr<std::string> SignDer(absl::string_view payload) const;
  // SignDer, base64: the dev.cosignproject.cosign/signature annotation.
  absl::StatusOr<std::string> SignBase64(absl::string_view payload) const;

  // The payload cosign signs for `digest` ("sha256:...") and `reference`.
  static std::string Payload(const std::string& digest, const std::string& reference);

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const;
  };
  explicit SigstoreTestSigner(EVP_PKEY* key) : key_(key) {}

  std::unique_ptr<EVP_PKEY, Free> key_;
};

}  // namespace ocid

#endif  // OCID_PKG_TRUST_TESTING_SIGSTORE_SIGNER_H_
