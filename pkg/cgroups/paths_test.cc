#include "pkg/cgroups/paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "pkg/base/fs.h"

namespace ocid {
namespace {

TEST(PodCgroupPath, KubeletPathFormIsCleaned) {
  EXPECT_EQ(*PodCgroupPath("/kubepods/burstable/pod123", "p"), "/kubepods/burstable/pod123");
  EXPECT_EQ(*PodCgroupPath("/kubepods//besteffort/./pod1/", "p"), "/kubepods/besteffort/pod1");
  EXPECT_EQ(*PodCgroupPath("/kubepods/../../x", "p"), "/x");
}

TEST(PodCgroupPath, SystemdSliceFormExpandsToNestedPath) {
  EXPECT_EQ(*PodCgroupPath("kubepods-burstable-pod123.slice", "p"),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice");
  EXPECT_EQ(*PodCgroupPath("kubepods.slice", "p"), "/kubepods.slice");
  EXPECT_EQ(*PodCgroupPath("-.slice", "p"), "/");
}

TEST(PodCgroupPath, NoParentIsOcidsOwn) {
  EXPECT_EQ(*PodCgroupPath("", "abc"), "/ocid/pod-abc");
  EXPECT_EQ(*PodCgroupPath("/", "abc"), "/ocid/pod-abc");
  EXPECT_TRUE(PodCgroupIsOurs(""));
  EXPECT_TRUE(PodCgroupIsOurs("//"));
  EXPECT_FALSE(PodCgroupIsOurs("/kubepods"));
  EXPECT_FALSE(PodCgroupIsOurs("kubepods.slice"));
}

TEST(PodCgroupPath, UnknownFormsNameTheField) {
  for (const char* bad :
       {"kubepods", "kubepods/pod1.slice", "a--b.slice", "-a.slice", "a-.slice", ".slice"}) {
    absl::StatusOr<std::string> path = PodCgroupPath(bad, "p");
    ASSERT_FALSE(path.ok()) << bad;
    EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(path.status().message().find("config.linux.cgroup_parent"), std::string::npos)
        << path.status();
  }
}

TEST(ChildCgroups, LiveBelowThePod) {
  EXPECT_EQ(ContainerCgroupPath("/ocid/pod-p", "c1"), "/ocid/pod-p/ocid-c1");
  EXPECT_EQ(ConmonCgroupPath("/kubepods/pod1", "c1"), "/kubepods/pod1/ocid-conmon-c1");
  EXPECT_EQ(InfraCgroupPath("/kubepods/pod1", "p1"), "/kubepods/pod1/ocid-infra-p1");
}

TEST(CheckCgroupDriver, SystemdIsRefusedWithoutSystemdAsPid1) {
  char dir[] = "/tmp/ocid-paths-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string proc = dir;
  ASSERT_TRUE(MakeDirs(proc + "/1", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(proc + "/1/comm", "tini\n").ok());
  EXPECT_TRUE(CheckCgroupDriver("cgroupfs", proc).ok());
  absl::Status systemd = CheckCgroupDriver("systemd", proc);
  EXPECT_EQ(systemd.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(systemd.message().find("systemd is not running as PID 1"), std::string::npos)
      << systemd;
  EXPECT_NE(systemd.message().find("tini"), std::string::npos) << systemd;
  EXPECT_EQ(CheckCgroupDriver("lxcfs", proc).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(RemoveAll(proc).ok());
}

}  // namespace
}  // namespace ocid
