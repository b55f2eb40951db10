#include "pkg/streaming/spdy_headers.h"

#include <string>

#include "gtest/gtest.h"

namespace ocid::streaming::spdy {
namespace {

TEST(SpdyHeaders, BlocksRoundTripThroughOneCompressionContext) {
  HeaderCompressor compressor;
  HeaderDecompressor decompressor;
  // Later blocks depend on the context the earlier ones built.
  for (int i = 0; i < 5; ++i) {
    Headers in = {{"streamType", "stdout"}, {"port", std::to_string(8000 + i)}};
    absl::StatusOr<std::string> wire = compressor.Compress(in);
    ASSERT_TRUE(wire.ok()) << wire.status();
    absl::StatusOr<Headers> out = decompressor.Decompress(*wire);
    ASSERT_TRUE(out.ok()) << out.status();
    Headers want = {{"streamtype", "stdout"}, {"port", std::to_string(8000 + i)}};
    EXPECT_EQ(*out, want);
  }
}

TEST(SpdyHeaders, RepeatedNamesTravelJoinedAndComeBackApart) {
  std::string block = EncodeHeaderBlock({{"a", "1"}, {"b", "x"}, {"A", "2"}});
  // Two entries: "a" with "1\0002", then "b".
  EXPECT_EQ(block.substr(0, 4), std::string("\0\0\0\2", 4));
  absl::StatusOr<Headers> out = DecodeHeaderBlock(block);
  ASSERT_TRUE(out.ok()) << out.status();
  Headers want = {{"a", "1"}, {"a", "2"}, {"b", "x"}};
  EXPECT_EQ(*out, want);
  EXPECT_EQ(HeaderValue(*out, "B"), "x");
  EXPECT_EQ(HeaderValue(*out, "c"), "");
}

TEST(SpdyHeaders, BadBlocksAreErrors) {
  EXPECT_FALSE(DecodeHeaderBlock(std::string("\0\0", 2)).ok());
  // One header whose name length runs past the end.
  EXPECT_FALSE(DecodeHeaderBlock(std::string("\0\0\0\1\0\0\0\x09" "ab", 10)).ok());
  // Upper case names are not allowed on the wire.
  std::string upper("\0\0\0\1\0\0\0\1A\0\0\0\0", 13);
  EXPECT_FALSE(DecodeHeaderBlock(upper).ok());
  // Too many entries.
  EXPECT_FALSE(DecodeHeaderBlock(std::string("\0\0\1\0", 4), 100).ok());
}

TEST(SpdyHeaders, GarbageAndBombsAreRefused) {
  HeaderDecompressor garbage;
  EXPECT_FALSE(garbage.Decompress("this is not zlib").ok());

  HeaderCompressor compressor;
  absl::StatusOr<std::string> big = compressor.Compress({{"x", std::string(100000, 'a')}});
  ASSERT_TRUE(big.ok());
  EXPECT_LT(big->size(), 2000u);  // compresses well: a bomb in miniature
  HeaderDecompressor bounded(64 << 10);
  EXPECT_FALSE(bounded.Decompress(*big).ok());
}

}  // namespace
}  // namespace ocid::streaming::spdy
