#include "pkg/base/trash.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

std::string TempDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// A small tree like a container's layer dirs.
void MakeTree(const std::string& dir) {
  ASSERT_TRUE(MakeDirs(dir + "/upper/etc", 0755).ok());
  ASSERT_TRUE(MakeDirs(dir + "/work/work", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/upper/etc/hosts", "x").ok());
}

TEST(TrashTest, ADiscardedTreeIsGoneAtOnceAndRemovedInTheBackground) {
  std::string root = TempDir("discard");
  Trash trash(root + "/trash");
  ASSERT_TRUE(trash.Open().ok());
  MakeTree(root + "/containers/c1");
  MakeTree(root + "/containers/c2");

  ASSERT_TRUE(trash.Discard(root + "/containers/c1").ok());
  EXPECT_FALSE(Exists(root + "/containers/c1")) << "not moved out of the way";
  ASSERT_TRUE(trash.Discard(root + "/containers/c2").ok());
  EXPECT_TRUE(trash.Discard(root + "/containers/never-made").ok()) << "gone already is fine";
  trash.Drain();
  EXPECT_TRUE(ListDir(root + "/trash").value().empty()) << "the trash was not emptied";
  EXPECT_TRUE(ListDir(root + "/containers").value().empty());
}

TEST(TrashTest, OpenEmptiesWhatAnEarlierRunLeft) {
  std::string root = TempDir("leftovers");
  MakeTree(root + "/trash/c1.0123456789abcdef");  // a crash before the removal
  Trash trash(root + "/trash");
  ASSERT_TRUE(trash.Open().ok());
  trash.Drain();
  EXPECT_TRUE(Exists(root + "/trash"));
  EXPECT_TRUE(ListDir(root + "/trash").value().empty());
}

TEST(TrashTest, ATreeThatCannotBeMovedIsRemovedInPlace) {
  std::string root = TempDir("unmovable");
  Trash trash(root + "/no-trash-dir");  // never opened: the rename fails
  MakeTree(root + "/containers/c1");
  ASSERT_TRUE(trash.Discard(root + "/containers/c1").ok());
  EXPECT_FALSE(Exists(root + "/containers/c1"));
}

}  // namespace
}  // namespace ocid
