// For tests: a fake /sys/fs/cgroup in a temp dir, as a gtest fixture to
// derive from. Files are written under root_; the tree goes at TearDown.
#ifndef OCID_PKG_CGROUPS_FAKE_CGROUP_TREE_H_
#define OCID_PKG_CGROUPS_FAKE_CGROUP_TREE_H_

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {

class FakeCgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/ocid-fake-cgroups-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root_ = dir;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(root_).ok()); }

  // Creates `rel` (and its dirs) with `text`, replacing it whole.
  void Write(const std::string& rel, const std::string& text) {
    std::string path = absl::StrCat(root_, "/", rel);
    ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/')), 0755).ok());
    ASSERT_TRUE(WriteFileAtomically(path, text).ok());
  }
  // Rewrites `rel` in place (no rename), as the kernel updates a file: a
  // watch on it stays.
  void Rewrite(const std::string& rel, const std::string& text) {
    std::string path = absl::StrCat(root_, "/", rel);
    ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/')), 0755).ok());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
  }

  std::string root_;
};

}  // namespace ocid

#endif  // OCID_PKG_CGROUPS_FAKE_CGROUP_TREE_H_
