#include "pkg/trust/testing/gpg_signer.h"

#include <stdlib.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"

namespace ocid {

absl::StatusOr<GpgSigner> GpgSigner::Create(const std::string& email) {
  // Short, under /tmp: gpg-agent's socket lives in the home.
  std::string home = "/tmp/ocid-gpgtest-XXXXXX";
  if (::mkdtemp(home.data()) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  GpgSigner signer(home, email);
  RETURN_IF_ERROR(signer
                      .Gpg(absl::StrCat("--passphrase '' --quick-gen-key 'Test <", email,
                                        ">' ed25519 sign never"))
                      .status());
  return signer;
}

GpgSigner::GpgSigner(GpgSigner&& other) noexcept
    : home_(std::exchange(other.home_, std::string())), email_(std::move(other.email_)) {}

GpgSigner::~GpgSigner() {
  if (home_.empty()) return;
  std::string kill = absl::StrCat("gpgconf --homedir '", home_, "' --kill all >/dev/null 2>&1");
  if (std::system(kill.c_str()) != 0) {
    // Nothing ran in it (no agent yet): fine.
  }
  RemoveAll(home_).IgnoreError();
}

absl::StatusOr<std::string> GpgSigner::Gpg(const std::string& args) const {
  std::string out = home_ + "/out";
  std::string command =
      absl::StrCat("gpg --homedir '", home_, "' --batch --yes --quiet --pinentry-mode loopback ",
                   args, " >'", out, "' 2>'", home_, "/err'");
  int rc = std::system(command.c_str());
  if (rc != 0) {
    absl::StatusOr<std::string> err = ReadFileToString(home_ + "/err", 1 << 20);
    return absl::InternalError(
        absl::StrCat("`", command, "` failed (", rc, "): ", err.ok() ? *err : ""));
  }
  return ReadFileToString(out, 16 << 20);
}

absl::StatusOr<std::string> GpgSigner::PublicKey(bool armored) const {
  return Gpg(absl::StrCat(armored ? "--armor " : "", "--export '", email_, "'"));
}

absl::StatusOr<std::string> GpgSigner::Sign(const std::string& data) const {
  std::string in = home_ + "/payload";
  RETURN_IF_ERROR(WriteFileAtomically(in, data, 0600, Durability::kVolatile));
  return Gpg(
      absl::StrCat("--passphrase '' --local-user '", email_, "' --output - --sign '", in, "'"));
}

std::string GpgSigner::Payload(const std::string& digest, const std::string& reference) {
  return absl::StrCat(
      R"({"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":")",
      digest, R"("},"identity":{"docker-reference":")", reference,
      R"("}},"optional":{"creator":"ocid test"}})");
}

}  // namespace ocid
