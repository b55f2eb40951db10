// A sigstore (cosign) public key: an ECDSA P-256 key in a PEM "PUBLIC KEY"
// block (SubjectPublicKeyInfo), and the check of a signature made with it:
// ASN.1 DER ECDSA over the SHA-256 of the signed bytes. OpenSSL's EVP API.
#ifndef OCID_PKG_TRUST_SIGSTORE_KEY_H_
#define OCID_PKG_TRUST_SIGSTORE_KEY_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace ocid {

class SigstorePublicKey {
 public:
  // InvalidArgument unless `pem` holds a PEM public key that is ECDSA on
  // P-256 (prime256v1), saying what it holds instead.
  static absl::StatusOr<SigstorePublicKey> FromPem(absl::string_view pem);

  // OK when `der_signature` is a DER-encoded ECDSA signature of `data`
  // (hashed with SHA-256) by this key. InvalidArgument otherwise, telling a
  // malformed signature ("not an ASN.1 DER ECDSA signature") from one that
  // does not verify.
  absl::Status Verify(absl::string_view data, absl::string_view der_signature) const;

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const;
  };
  explicit SigstorePublicKey(EVP_PKEY* key) : key_(key) {}

  std::unique_ptr<EVP_PKEY, Free> key_;
};

}  // namespace ocid

#endif  // OCID_PKG_TRUST_SIGSTORE_KEY_H_
