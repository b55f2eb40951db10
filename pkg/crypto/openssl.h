// The OpenSSL functions ocid calls, resolved from libcrypto.so.<N> and
// libssl.so.<N> on first use rather than linked. Linked into a PIE, OpenSSL's
// method tables and ASN.1 templates (330 kB of .data.rel.ro) are written by
// the loader at every start, so an idle ocid that never hashes, verifies or
// serves TLS paid for them; loaded here, they cost only once needed.
#ifndef OCID_PKG_CRYPTO_OPENSSL_H_
#define OCID_PKG_CRYPTO_OPENSSL_H_

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "absl/status/statusor.h"

namespace ocid {

// Each member has the type, and the name, of the libcrypto function it is.
struct Libcrypto {
  decltype(&::BIO_free) BIO_free;
  decltype(&::BIO_new_mem_buf) BIO_new_mem_buf;
  decltype(&::CRYPTO_free) CRYPTO_free;  // what OPENSSL_free expands to
  decltype(&::d2i_ECDSA_SIG) d2i_ECDSA_SIG;
  decltype(&::ECDSA_SIG_free) ECDSA_SIG_free;
  decltype(&::ERR_clear_error) ERR_clear_error;
  decltype(&::ERR_error_string_n) ERR_error_string_n;
  decltype(&::ERR_get_error) ERR_get_error;
  decltype(&::ERR_peek_last_error) ERR_peek_last_error;
  decltype(&::ERR_reason_error_string) ERR_reason_error_string;
  decltype(&::EVP_DecodeBlock) EVP_DecodeBlock;
  decltype(&::EVP_Digest) EVP_Digest;
  decltype(&::EVP_DigestFinal_ex) EVP_DigestFinal_ex;
  decltype(&::EVP_DigestInit_ex) EVP_DigestInit_ex;
  decltype(&::EVP_DigestUpdate) EVP_DigestUpdate;
  decltype(&::EVP_DigestVerify) EVP_DigestVerify;
  decltype(&::EVP_DigestVerifyInit) EVP_DigestVerifyInit;
  decltype(&::EVP_EncodeBlock) EVP_EncodeBlock;
  decltype(&::EVP_MD_CTX_free) EVP_MD_CTX_free;
  decltype(&::EVP_MD_CTX_new) EVP_MD_CTX_new;
  decltype(&::EVP_PKEY_free) EVP_PKEY_free;
  decltype(&::EVP_PKEY_get0_type_name) EVP_PKEY_get0_type_name;
  decltype(&::EVP_PKEY_get_utf8_string_param) EVP_PKEY_get_utf8_string_param;
  decltype(&::EVP_PKEY_is_a) EVP_PKEY_is_a;
  decltype(&::EVP_sha1) EVP_sha1;
  decltype(&::EVP_sha256) EVP_sha256;
  decltype(&::i2d_ECDSA_SIG) i2d_ECDSA_SIG;
  decltype(&::PEM_read_bio_PUBKEY) PEM_read_bio_PUBKEY;
  decltype(&::RAND_bytes) RAND_bytes;
};

// The table; loaded once, thread-safe. FailedPrecondition
// "libcrypto.so.3 cannot be loaded: ..." (or naming a missing symbol).
absl::StatusOr<const Libcrypto*> LoadLibcrypto();

// For code with no error to return (a digest of bytes in memory, a
// WebSocket key): the table, or the process exits with LoadLibcrypto's
// reason, as the dynamic loader would have refused to start it with
// OpenSSL linked and missing.
const Libcrypto& LibcryptoOrExit();

// Each member has the type, and the name, of the libssl function it is.
struct Libssl {
  decltype(&::SSL_accept) SSL_accept;
  decltype(&::SSL_connect) SSL_connect;
  decltype(&::SSL_CTX_check_private_key) SSL_CTX_check_private_key;
  decltype(&::SSL_CTX_ctrl) SSL_CTX_ctrl;  // what SSL_CTX_set_min_proto_version expands to
  decltype(&::SSL_CTX_free) SSL_CTX_free;
  decltype(&::SSL_CTX_new) SSL_CTX_new;
  decltype(&::SSL_CTX_set_verify) SSL_CTX_set_verify;
  decltype(&::SSL_CTX_use_certificate_chain_file) SSL_CTX_use_certificate_chain_file;
  decltype(&::SSL_CTX_use_PrivateKey_file) SSL_CTX_use_PrivateKey_file;
  decltype(&::SSL_free) SSL_free;
  decltype(&::SSL_get_error) SSL_get_error;
  decltype(&::SSL_new) SSL_new;
  decltype(&::SSL_read) SSL_read;
  decltype(&::SSL_set_fd) SSL_set_fd;
  decltype(&::SSL_shutdown) SSL_shutdown;
  decltype(&::SSL_write) SSL_write;
  decltype(&::TLS_client_method) TLS_client_method;
  decltype(&::TLS_server_method) TLS_server_method;
};

// As LoadLibcrypto, for libssl.so.3 (which brings libcrypto with it).
absl::StatusOr<const Libssl*> LoadLibssl();

}  // namespace ocid

#endif  // OCID_PKG_CRYPTO_OPENSSL_H_
