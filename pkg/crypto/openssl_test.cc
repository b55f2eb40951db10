#include "pkg/crypto/openssl.h"

#include <string>

#include "gtest/gtest.h"

namespace ocid {
namespace {

TEST(OpensslTest, LibcryptoHashesThroughTheLoadedTable) {
  absl::StatusOr<const Libcrypto*> crypto = LoadLibcrypto();
  ASSERT_TRUE(crypto.ok()) << crypto.status();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ASSERT_EQ((*crypto)->EVP_Digest("abc", 3, digest, &length, (*crypto)->EVP_sha256(), nullptr), 1);
  ASSERT_EQ(length, 32u);
  // FIPS 180-2's first SHA-256 example.
  EXPECT_EQ(digest[0], 0xba);
  EXPECT_EQ(digest[31], 0xad);
}

TEST(OpensslTest, LoadedOnceAndSharedByEveryCaller) {
  absl::StatusOr<const Libcrypto*> first = LoadLibcrypto();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, &LibcryptoOrExit());
  absl::StatusOr<const Libcrypto*> again = LoadLibcrypto();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
}

TEST(OpensslTest, LibsslMakesAServerContext) {
  absl::StatusOr<const Libssl*> ssl = LoadLibssl();
  ASSERT_TRUE(ssl.ok()) << ssl.status();
  SSL_CTX* context = (*ssl)->SSL_CTX_new((*ssl)->TLS_server_method());
  ASSERT_NE(context, nullptr);
  EXPECT_EQ((*ssl)->SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, nullptr),
            1);
  (*ssl)->SSL_CTX_free(context);
}

}  // namespace
}  // namespace ocid
