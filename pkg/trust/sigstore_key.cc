#include "pkg/trust/sigstore_key.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "pkg/base/status_macros.h"
#include "pkg/crypto/openssl.h"

namespace ocid {
namespace {

// FromPem loads libcrypto before anything else here runs: every key and
// signature object comes from it.
const Libcrypto& Crypto() { return LibcryptoOrExit(); }

// The reason of the newest error on OpenSSL's queue (emptied), for messages.
std::string OpenSslReason() {
  unsigned long code = Crypto().ERR_peek_last_error();
  Crypto().ERR_clear_error();
  if (code == 0) return "no detail";
  const char* reason = Crypto().ERR_reason_error_string(code);
  return reason == nullptr ? absl::StrCat("error ", code) : reason;
}

struct BioFree {
  void operator()(BIO* bio) const { Crypto().BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { Crypto().EVP_MD_CTX_free(ctx); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { Crypto().ECDSA_SIG_free(sig); }
};

// DER and nothing else: one ECDSA-Sig-Value SEQUENCE, no trailing bytes,
// in the one canonical encoding (BER variants are refused).
bool IsDerEcdsaSignature(absl::string_view der) {
  const unsigned char* in = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* cursor = in;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(
      Crypto().d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (sig == nullptr || cursor != in + der.size()) {
    Crypto().ERR_clear_error();
    return false;
  }
  unsigned char* encoded = nullptr;
  int length = Crypto().i2d_ECDSA_SIG(sig.get(), &encoded);
  bool same = length == static_cast<int>(der.size()) &&
              std::string(reinterpret_cast<char*>(encoded), length) == der;
  Crypto().CRYPTO_free(encoded, OPENSSL_FILE, OPENSSL_LINE);
  return same;
}

}  // namespace

void SigstorePublicKey::Free::operator()(EVP_PKEY* key) const { Crypto().EVP_PKEY_free(key); }

absl::StatusOr<SigstorePublicKey> SigstorePublicKey::FromPem(absl::string_view pem) {
  RETURN_IF_ERROR(LoadLibcrypto().status());
  std::unique_ptr<BIO, BioFree> bio(
      Crypto().BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  EVP_PKEY* raw = Crypto().PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM public key (-----BEGIN PUBLIC KEY-----): ", OpenSslReason()));
  }
  SigstorePublicKey key(raw);
  if (!Crypto().EVP_PKEY_is_a(raw, "EC")) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", Crypto().EVP_PKEY_get0_type_name(raw), " key, not an ECDSA P-256 key"));
  }
  char group[64] = {0};
  size_t group_length = 0;
  if (!Crypto().EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                               sizeof(group), &group_length)) {
    Crypto().ERR_clear_error();
    return absl::InvalidArgumentError("an EC key on an unnamed curve, not P-256");
  }
  if (std::string(group, group_length) != SN_X9_62_prime256v1) {
    return absl::InvalidArgumentError(
        absl::StrCat("an EC key on curve ", group, ", not P-256 (prime256v1)"));
  }
  return key;
}

absl::Status SigstorePublicKey::Verify(absl::string_view data,
                                       absl::string_view der_signature) const {
  if (!IsDerEcdsaSignature(der_signature)) {
    return absl::InvalidArgumentError("not an ASN.1 DER ECDSA signature");
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(Crypto().EVP_MD_CTX_new());
  if (ctx == nullptr) return absl::ResourceExhaustedError("EVP_MD_CTX_new");
  if (Crypto().EVP_DigestVerifyInit(ctx.get(), nullptr, Crypto().EVP_sha256(), nullptr,
                                    key_.get()) != 1) {
    return absl::InternalError(absl::StrCat("EVP_DigestVerifyInit: ", OpenSslReason()));
  }
  int verified = Crypto().EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(der_signature.data()), der_signature.size(),
      reinterpret_cast<const unsigned char*>(data.data()), data.size());
  Crypto().ERR_clear_error();
  if (verified != 1) {
    return absl::InvalidArgumentError("the signature does not verify with the key");
  }
  return absl::OkStatus();
}

}  // namespace ocid
