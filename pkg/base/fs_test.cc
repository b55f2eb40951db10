#include "pkg/base/fs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ocid {
namespace {

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(ListDirTest, NamesEveryEntryButDotAndDotDot) {
  std::string dir = TempPath("list");
  ASSERT_TRUE(MakeDirs(dir + "/sub", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/a.json", "{}").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/.hidden", "").ok());

  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  ASSERT_TRUE(names.ok()) << names.status();
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{".hidden", "a.json", "sub"}));
}

TEST(ListDirTest, AnEmptyDirHasNoEntries) {
  std::string dir = TempPath("empty");
  ASSERT_TRUE(MakeDirs(dir, 0755).ok());
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_TRUE(names->empty());
}

TEST(ListDirTest, OpenErrorsAreReportedWithThePath) {
  std::string missing = TempPath("no-such-dir");
  absl::StatusOr<std::vector<std::string>> names = ListDir(missing);
  EXPECT_EQ(names.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(names.status().message().find(missing), std::string::npos);

  std::string file = TempPath("plain-file");
  ASSERT_TRUE(WriteFileAtomically(file, "x").ok());
  EXPECT_FALSE(ListDir(file).ok());  // ENOTDIR
}

}  // namespace
}  // namespace ocid
