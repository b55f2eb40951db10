#include "pkg/crypto/openssl.h"

#include <unistd.h>

#include "debian/libcrypto_soname.h"
#include "debian/libssl_soname.h"
#include "pkg/base/log.h"
#include "pkg/base/shared_library.h"

namespace ocid {
namespace {

#define OCID_RESOLVE(name) RETURN_IF_ERROR(library.Resolve(#name, api.name))

absl::Status ResolveLibcrypto(const SharedLibrary& library, Libcrypto& api) {
  OCID_RESOLVE(BIO_free);
  OCID_RESOLVE(BIO_new_mem_buf);
  OCID_RESOLVE(CRYPTO_free);
  OCID_RESOLVE(d2i_ECDSA_SIG);
  OCID_RESOLVE(ECDSA_SIG_free);
  OCID_RESOLVE(ERR_clear_error);
  OCID_RESOLVE(ERR_error_string_n);
  OCID_RESOLVE(ERR_get_error);
  OCID_RESOLVE(ERR_peek_last_error);
  OCID_RESOLVE(ERR_reason_error_string);
  OCID_RESOLVE(EVP_DecodeBlock);
  OCID_RESOLVE(EVP_Digest);
  OCID_RESOLVE(EVP_DigestFinal_ex);
  OCID_RESOLVE(EVP_DigestInit_ex);
  OCID_RESOLVE(EVP_DigestUpdate);
  OCID_RESOLVE(EVP_DigestVerify);
  OCID_RESOLVE(EVP_DigestVerifyInit);
  OCID_RESOLVE(EVP_EncodeBlock);
  OCID_RESOLVE(EVP_MD_CTX_free);
  OCID_RESOLVE(EVP_MD_CTX_new);
  OCID_RESOLVE(EVP_PKEY_free);
  OCID_RESOLVE(EVP_PKEY_get0_type_name);
  OCID_RESOLVE(EVP_PKEY_get_utf8_string_param);
  OCID_RESOLVE(EVP_PKEY_is_a);
  OCID_RESOLVE(EVP_sha1);
  OCID_RESOLVE(EVP_sha256);
  OCID_RESOLVE(i2d_ECDSA_SIG);
  OCID_RESOLVE(PEM_read_bio_PUBKEY);
  OCID_RESOLVE(RAND_bytes);
  return absl::OkStatus();
}

absl::Status ResolveLibssl(const SharedLibrary& library, Libssl& api) {
  OCID_RESOLVE(SSL_accept);
  OCID_RESOLVE(SSL_connect);
  OCID_RESOLVE(SSL_CTX_check_private_key);
  OCID_RESOLVE(SSL_CTX_ctrl);
  OCID_RESOLVE(SSL_CTX_free);
  OCID_RESOLVE(SSL_CTX_new);
  OCID_RESOLVE(SSL_CTX_set_verify);
  OCID_RESOLVE(SSL_CTX_use_certificate_chain_file);
  OCID_RESOLVE(SSL_CTX_use_PrivateKey_file);
  OCID_RESOLVE(SSL_free);
  OCID_RESOLVE(SSL_get_error);
  OCID_RESOLVE(SSL_new);
  OCID_RESOLVE(SSL_read);
  OCID_RESOLVE(SSL_set_fd);
  OCID_RESOLVE(SSL_shutdown);
  OCID_RESOLVE(SSL_write);
  OCID_RESOLVE(TLS_client_method);
  OCID_RESOLVE(TLS_server_method);
  return absl::OkStatus();
}

#undef OCID_RESOLVE

}  // namespace

absl::StatusOr<const Libcrypto*> LoadLibcrypto() {
  return LoadOnce<Libcrypto>(ocid_debian::kLibcryptoSoname, &ResolveLibcrypto);
}

const Libcrypto& LibcryptoOrExit() {
  absl::StatusOr<const Libcrypto*> api = LoadLibcrypto();
  if (!api.ok()) {
    OCID_LOG(kFatal) << api.status().message();
    _exit(127);  // the dynamic loader's status for a missing library
  }
  return **api;
}

absl::StatusOr<const Libssl*> LoadLibssl() {
  return LoadOnce<Libssl>(ocid_debian::kLibsslSoname, &ResolveLibssl);
}

}  // namespace ocid
