#include "pkg/storage/digest.h"

#include "gtest/gtest.h"

namespace ocid {
namespace {

TEST(DigestTest, ParsesOnlyWellFormedSha256) {
  std::string hex(64, 'a');
  auto digest = ParseDigest("sha256:" + hex);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(digest->String(), "sha256:" + hex);
  EXPECT_FALSE(ParseDigest("sha512:" + hex).ok());
  EXPECT_FALSE(ParseDigest("sha256:" + std::string(63, 'a')).ok());
  EXPECT_FALSE(ParseDigest("sha256:" + std::string(64, 'A')).ok());
  EXPECT_FALSE(ParseDigest(hex).ok());
}

TEST(DigestTest, Sha256MatchesKnownVectors) {
  EXPECT_EQ(Sha256Of("").hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 streaming;
  streaming.Update("ab");
  streaming.Update("c");
  EXPECT_EQ(streaming.Finish().hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace ocid
