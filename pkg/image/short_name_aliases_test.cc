#include "pkg/image/short_name_aliases.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(ShortNameAliasCacheTest, AMissingFileIsEmptyAndRecordsPersistAcrossOpens) {
  const std::string path = TempPath("persist.conf");
  absl::StatusOr<std::unique_ptr<ShortNameAliasCache>> cache = ShortNameAliasCache::Open(path);
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_TRUE((*cache)->Aliases().empty());
  ASSERT_TRUE((*cache)->Record("busybox", "docker.io/library/busybox").ok());
  ASSERT_TRUE((*cache)->Record("app", "quay.io/team/app").ok());
  ASSERT_TRUE((*cache)->Record("busybox", "quay.io/busybox").ok());  // replaced
  EXPECT_THAT((*cache)->Aliases(),
              ElementsAre(Pair("app", "quay.io/team/app"), Pair("busybox", "quay.io/busybox")));

  absl::StatusOr<std::unique_ptr<ShortNameAliasCache>> again = ShortNameAliasCache::Open(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT((*again)->Aliases(),
              ElementsAre(Pair("app", "quay.io/team/app"), Pair("busybox", "quay.io/busybox")));
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("[aliases]\n\"app\" = \"quay.io/team/app\"\n"));
}

TEST(ShortNameAliasCacheTest, MalformedOrForeignContentIsAnErrorNamingTheFile) {
  const std::string path = TempPath("bad.conf");
  for (const char* text : {"[aliases]\n\"busybox\" = \"busybox\"\n",
                           "unqualified-search-registries = [\"quay.io\"]\n", "[aliases\n"}) {
    std::ofstream(path) << text;
    absl::StatusOr<std::unique_ptr<ShortNameAliasCache>> cache = ShortNameAliasCache::Open(path);
    ASSERT_FALSE(cache.ok()) << text;
    EXPECT_THAT(std::string(cache.status().message()), HasSubstr(path)) << text;
  }
}

TEST(ShortNameAliasCacheTest, AFailedWriteChangesNothing) {
  const std::string dir = TempPath("gone");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  absl::StatusOr<std::unique_ptr<ShortNameAliasCache>> cache =
      ShortNameAliasCache::Open(dir + "/missing-dir/aliases.conf");
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_FALSE((*cache)->Record("busybox", "docker.io/library/busybox").ok());
  EXPECT_TRUE((*cache)->Aliases().empty());
}

}  // namespace
}  // namespace ocid
