// Needs root (mounts, a user namespace by ocid-pinns): tagged local and
// exclusive, as the sandbox's namespaces_test.
#include "pkg/container/idmapped_volumes.h"

#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/sandbox/namespaces.h"

namespace ocid {
namespace {

constexpr uint32_t kHostId = 1u << 20;

// Mount points at or under `dir`.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> found;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && absl::StartsWith(fields[4], dir)) found.push_back(fields[4]);
  }
  return found;
}

class IdmappedVolumesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = ::getenv("TEST_TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/idmap-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    host_ = dir_ + "/host";
    bundle_ = dir_ + "/bundle";
    ASSERT_TRUE(MakeDirs(host_, 0755).ok());
    ASSERT_TRUE(MakeDirs(bundle_, 0711).ok());
    std::ofstream(host_ + "/f1000") << "data";
    ASSERT_EQ(::chown((host_ + "/f1000").c_str(), 1000, 1000), 0);
    char cwd[4096];
    ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
    UserNamespaceMappings mappings{{{0, kHostId, 65536}}, {{0, kHostId, 65536}}};
    absl::StatusOr<UniqueFd> userns = MakeUserNamespace(std::string(cwd) + "/cmd/ocid/ocid-pinns",
                                                        dir_ + "/ns", "ctr-mount0", mappings);
    ASSERT_TRUE(userns.ok()) << userns.status();
    userns_ = std::move(*userns);
  }
  void TearDown() override {
    for (const std::string& mount : MountsUnder(dir_)) ::umount2(mount.c_str(), MNT_DETACH);
    // The pin dir stays a (private) mount of itself: detached above.
    EXPECT_TRUE(RemoveAll(dir_).ok());
  }

  runtime::v1::Mount HostMount(const std::string& path) {
    runtime::v1::Mount mount;
    mount.set_host_path(path);
    mount.set_container_path("/vol");
    return mount;
  }

  std::string dir_, host_, bundle_;
  UniqueFd userns_;
};

TEST_F(IdmappedVolumesTest, TheHostPathIsAttachedIdmappedAndDetachedBeforeTheBundleGoes) {
  absl::StatusOr<ScopedMount> attached =
      MountIdmappedVolume(HostMount(host_), "config.mounts[3]", userns_.get(), bundle_, 3);
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(attached->target(), IdmappedVolumePath(bundle_, 3));
  EXPECT_EQ(attached->target(), bundle_ + "/idmap/3");
  struct stat st;
  ASSERT_EQ(::stat((attached->target() + "/f1000").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kHostId + 1000) << "disk 1000 seen through 0 -> 1048576";
  ASSERT_EQ(::stat((bundle_ + "/idmap").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u) << "runc in a pod user namespace must reach it";
  attached->Release();  // as CreateContainer does: RemoveBundle detaches it

  ASSERT_TRUE(RemoveBundle(bundle_).ok());
  EXPECT_EQ(MountsUnder(bundle_), std::vector<std::string>{});
  EXPECT_NE(::lstat(bundle_.c_str(), &st), 0) << "the bundle is gone";
  ASSERT_EQ(::stat((host_ + "/f1000").c_str(), &st), 0) << "the host's file stays";
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_TRUE(RemoveBundle(bundle_).ok()) << "idempotent";
  EXPECT_TRUE(UnmountIdmappedVolumes(bundle_).ok());
}

TEST_F(IdmappedVolumesTest, AFileIsAttachedOnAFile) {
  absl::StatusOr<ScopedMount> attached = MountIdmappedVolume(
      HostMount(host_ + "/f1000"), "config.mounts[0]", userns_.get(), bundle_, 0);
  ASSERT_TRUE(attached.ok()) << attached.status();
  struct stat st;
  ASSERT_EQ(::stat(attached->target().c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_uid, kHostId + 1000);
}

TEST_F(IdmappedVolumesTest, WhatTheHostCannotIdmapIsInvalidArgumentNamingTheHostPath) {
  struct Case {
    std::string host_path, words;
  };
  for (const Case& c :
       {Case{"/proc/sys", "this host cannot idmap the host path /proc/sys"},
        Case{dir_ + "/missing", "does not exist"}, Case{"relative", "is not absolute"}}) {
    absl::StatusOr<ScopedMount> attached =
        MountIdmappedVolume(HostMount(c.host_path), "config.mounts[1]", userns_.get(), bundle_, 1);
    ASSERT_FALSE(attached.ok()) << c.host_path;
    EXPECT_EQ(attached.status().code(), absl::StatusCode::kInvalidArgument) << attached.status();
    EXPECT_TRUE(absl::StartsWith(attached.status().message(), "config.mounts[1].host_path: "))
        << attached.status();
    EXPECT_TRUE(absl::StrContains(attached.status().message(), c.words)) << attached.status();
  }
  EXPECT_EQ(MountsUnder(bundle_), std::vector<std::string>{});
}

}  // namespace
}  // namespace ocid
