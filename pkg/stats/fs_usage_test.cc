#include "pkg/stats/fs_usage.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "pkg/base/fs.h"

namespace ocid {
namespace {

TEST(MeasureTree, CountsBytesAndInodesAndHardLinksOnce) {
  char dir[] = "/tmp/ocid-fs-usage-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string root = dir;
  FsUsage empty = MeasureTree(root);
  EXPECT_EQ(empty.inodes, 1u);  // the root itself

  ASSERT_TRUE(MakeDirs(root + "/a/b", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(root + "/a/b/big", std::string(1 << 20, 'x')).ok());
  ASSERT_TRUE(WriteFileAtomically(root + "/small", "y").ok());
  ASSERT_EQ(link((root + "/a/b/big").c_str(), (root + "/a/big-again").c_str()), 0);
  ASSERT_EQ(symlink("/etc/passwd", (root + "/link").c_str()), 0);
  FsUsage usage = MeasureTree(root);
  // root, a, a/b, big (once), small, link
  EXPECT_EQ(usage.inodes, 6u);
  EXPECT_GE(usage.bytes, uint64_t{1} << 20);
  EXPECT_LT(usage.bytes, uint64_t{2} << 20) << "the hard link is counted once";

  EXPECT_EQ(MeasureTree(root + "/absent").inodes, 0u);
  ASSERT_TRUE(RemoveAll(root).ok());
}

}  // namespace
}  // namespace ocid
