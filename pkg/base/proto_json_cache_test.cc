#include "pkg/base/proto_json_cache.h"

#include <google/protobuf/struct.pb.h>

#include "gtest/gtest.h"

namespace ocid {
namespace {

using Value = google::protobuf::Value;

TEST(ProtoJsonCacheTest, ParsesAndKeepsEachText) {
  ProtoJsonCache<Value> cache(4);
  absl::StatusOr<Value> first = cache.Parse(R"("one")");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->string_value(), "one");
  absl::StatusOr<Value> again = cache.Parse(R"("one")");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->string_value(), "one");
  EXPECT_EQ(cache.size(), 1u);
  // A changed text is another entry with its own value, never the old one.
  absl::StatusOr<Value> changed = cache.Parse(R"("two")");
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->string_value(), "two");
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ProtoJsonCacheTest, UnparsableIsAnErrorAndNotKept) {
  ProtoJsonCache<Value> cache(4);
  absl::StatusOr<Value> bad = cache.Parse("{not json");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ProtoJsonCacheTest, DropsTheLeastRecentlyUsedWhenFull) {
  ProtoJsonCache<Value> cache(2);
  ASSERT_TRUE(cache.Parse("1").ok());
  ASSERT_TRUE(cache.Parse("2").ok());
  ASSERT_TRUE(cache.Parse("1").ok());  // 2 is now the least recent
  ASSERT_TRUE(cache.Parse("3").ok());  // pushes 2 out
  EXPECT_EQ(cache.size(), 2u);
  // All three still parse right, whichever are kept.
  EXPECT_EQ(cache.Parse("1")->number_value(), 1);
  EXPECT_EQ(cache.Parse("2")->number_value(), 2);
  EXPECT_EQ(cache.Parse("3")->number_value(), 3);
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace ocid
