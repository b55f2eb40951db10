// containers "simple signing": a signature is an OpenPGP signed message
// whose payload is the JSON
//   {"critical": {"type": "atomic container signature",
//                 "image": {"docker-manifest-digest": "sha256:..."},
//                 "identity": {"docker-reference": "host/repo:tag"}},
//    "optional": {...}}
// verified with gpgme against the keys of a policy's signedBy requirement, in
// a private keyring made for the check (never the user's ~/.gnupg).
#ifndef OCID_PKG_TRUST_SIMPLE_SIGNING_H_
#define OCID_PKG_TRUST_SIMPLE_SIGNING_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/image/reference.h"
#include "pkg/trust/policy.h"

struct gpgme_context;

namespace ocid {

inline constexpr size_t kMaxSignatureBytes = 4 << 20;

// What a signature's payload claims.
struct SimpleSigningClaims {
  std::string manifest_digest;   // "sha256:<hex>"
  std::string docker_reference;  // as signed, e.g. "quay.io/a/b:v1"
};

// Parses a payload. InvalidArgument for anything but the format above: a
// wrong type, missing or unknown critical keys, values of the wrong type.
absl::StatusOr<SimpleSigningClaims> ParseSimpleSigningPayload(absl::string_view payload);

struct GpgContextDeleter {
  void operator()(gpgme_context* ctx) const;
};

// A temporary GnuPG home holding only the given public keys; removed with
// the object. Verify may be called from one thread at a time: the keyring
// keeps one gpgme context, whose engine setup (a `gpg --version` run) is
// paid once, at Create, rather than by every check.
class GpgKeyring {
 public:
  // Imports `keys` (armored or binary OpenPGP public keys) into a new home
  // under `temp_dir`. InvalidArgument when a key imports nothing.
  static absl::StatusOr<GpgKeyring> Create(const std::vector<std::string>& keys,
                                           const std::string& temp_dir = "/tmp");
  GpgKeyring(GpgKeyring&& other) noexcept;
  GpgKeyring& operator=(GpgKeyring&&) = delete;
  GpgKeyring(const GpgKeyring&) = delete;
  ~GpgKeyring();

  const std::string& home() const { return home_; }

  // Verifies `signature` (a signed OpenPGP message, at most 4 MiB) and
  // returns its payload. An error (InvalidArgument, saying why) unless
  // there is exactly one good signature made by one of the keys (a primary
  // key or one of its subkeys).
  absl::StatusOr<std::string> Verify(absl::string_view signature);

  // The primary fingerprints of the imported keys.
  std::vector<std::string> Fingerprints() const;

 private:
  explicit GpgKeyring(std::string home) : home_(std::move(home)) {}

  std::string home_;
  std::unique_ptr<gpgme_context, GpgContextDeleter> context_;
  // Any key's or subkey's fingerprint -> its primary key's.
  std::map<std::string, std::string> signers_;
};

// Whether `signed_reference` (a signature's docker-reference) is an identity
// `rule` accepts for `image` (the reference being pulled). InvalidArgument
// saying why not.
absl::Status CheckSignedIdentity(const SignedIdentity& rule, const ImageReference& image,
                                 const std::string& signed_reference);

// Checks one signature against a signedBy requirement for the image whose
// manifest has digest `manifest_digest`: a good signature by one of the
// keys in `keyring`, for that digest, claiming an identity the requirement
// accepts. The error says which of these failed.
absl::Status CheckSimpleSignature(GpgKeyring& keyring, const PolicyRequirement& requirement,
                                  const ImageReference& image, const std::string& manifest_digest,
                                  absl::string_view signature);

}  // namespace ocid

#endif  // OCID_PKG_TRUST_SIMPLE_SIGNING_H_
