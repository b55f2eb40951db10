#include "pkg/trust/testing/sigstore_signer.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ocid {
namespace {

absl::Status OpenSslError(absl::string_view what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return absl::InternalError(absl::StrCat(what, ": ", reason == nullptr ? "failed" : reason));
}

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return std::string(data, length);
}

}  // namespace

void SigstoreTestSigner::Free::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

absl::StatusOr<SigstoreTestSigner> SigstoreTestSigner::Generate(const std::string& curve) {
  EVP_PKEY* key = EVP_EC_gen(curve.c_str());
  if (key == nullptr) return OpenSslError(absl::StrCat("generate an EC key on ", curve));
  return SigstoreTestSigner(key);
}

absl::StatusOr<SigstoreTestSigner> SigstoreTestSigner::FromPrivatePem(absl::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return OpenSslError("read the private key");
  return SigstoreTestSigner(key);
}

absl::StatusOr<std::string> SigstoreTestSigner::PublicPem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return OpenSslError("write the public key");
  return BioContents(bio.get());
}

absl::StatusOr<std::string> SigstoreTestSigner::PrivatePem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("write the private key");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> SigstoreTestSigner::SignDer(absl::string_view payload) const {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) {
    return OpenSslError("EVP_DigestSignInit");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(payload.data());
  size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, payload.size()) != 1) {
    return OpenSslError("EVP_DigestSign (size)");
  }
  std::vector<unsigned char> signature(length);
  if (EVP_DigestSign(ctx.get(), signature.data(), &length, data, payload.size()) != 1) {
    return OpenSslError("EVP_DigestSign");
  }
  return std::string(reinterpret_cast<const char*>(signature.data()), length);
}

absl::StatusOr<std::string> SigstoreTestSigner::SignBase64(absl::string_view payload) const {
  absl::StatusOr<std::string> der = SignDer(payload);
  if (!der.ok()) return der.status();
  return absl::Base64Escape(*der);
}

std::string SigstoreTestSigner::Payload(const std::string& digest, const std::string& reference) {
  nlohmann::json payload = {
      {"critical",
       {{"identity", {{"docker-reference", reference}}},
        {"image", {{"docker-manifest-digest", digest}}},
        {"type", "cosign container image signature"}}},
      {"optional", nullptr},
  };
  return payload.dump();
}

}  // namespace ocid
