#include "pkg/storage/digest.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "pkg/crypto/openssl.h"

namespace ocid {

absl::StatusOr<Digest> ParseDigest(absl::string_view text) {
  size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", text, "\" is not of the form sha256:<hex>"));
  }
  absl::string_view algorithm = text.substr(0, colon);
  absl::string_view hex = text.substr(colon + 1);
  if (algorithm != "sha256") {
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", text, "\": algorithm \"", algorithm, "\" is not sha256"));
  }
  bool valid = hex.size() == 64;
  for (char ch : hex) valid = valid && (absl::ascii_isdigit(ch) || (ch >= 'a' && ch <= 'f'));
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", text, "\": not 64 lowercase hex digits"));
  }
  return Digest{std::string(algorithm), std::string(hex)};
}

struct Sha256::State {
  const Libcrypto& crypto = LibcryptoOrExit();
  EVP_MD_CTX* context = crypto.EVP_MD_CTX_new();
  ~State() { crypto.EVP_MD_CTX_free(context); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->crypto.EVP_DigestInit_ex(state_->context, state_->crypto.EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::Update(absl::string_view data) {
  state_->crypto.EVP_DigestUpdate(state_->context, data.data(), data.size());
}

Digest Sha256::Finish() {
  unsigned char bytes[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  state_->crypto.EVP_DigestFinal_ex(state_->context, bytes, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[bytes[i] >> 4];
    hex += kHex[bytes[i] & 15];
  }
  return Digest{"sha256", hex};
}

Digest Sha256Of(absl::string_view data) {
  Sha256 hasher;
  hasher.Update(data);
  return hasher.Finish();
}

}  // namespace ocid
