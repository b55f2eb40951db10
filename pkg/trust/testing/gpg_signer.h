// For tests: a GnuPG home of its own with one secret key made by `gpg
// --batch`, which signs simple-signing payloads. The home (and the
// gpg-agent that signing starts in it) is gone with the object.
#ifndef OCID_PKG_TRUST_TESTING_GPG_SIGNER_H_
#define OCID_PKG_TRUST_TESTING_GPG_SIGNER_H_

#include <string>

#include "absl/status/statusor.h"

namespace ocid {

class GpgSigner {
 public:
  // A new ed25519 key for `email`.
  static absl::StatusOr<GpgSigner> Create(const std::string& email);
  GpgSigner(GpgSigner&& other) noexcept;
  GpgSigner& operator=(GpgSigner&&) = delete;
  ~GpgSigner();

  const std::string& home() const { return home_; }
  const std::string& email() const { return email_; }
  // The public key, binary and armored.
  absl::StatusOr<std::string> PublicKey(bool armored = false) const;
  // `data` as a signed OpenPGP message (gpg --sign).
  absl::StatusOr<std::string> Sign(const std::string& data) const;

  // The payload skopeo/containers sign for `digest` and `reference`.
  static std::string Payload(const std::string& digest, const std::string& reference);

 private:
  GpgSigner(std::string home, std::string email)
      : home_(std::move(home)), email_(std::move(email)) {}
  absl::StatusOr<std::string> Gpg(const std::string& args) const;

  std::string home_;
  std::string email_;
};

}  // namespace ocid

#endif  // OCID_PKG_TRUST_TESTING_GPG_SIGNER_H_
