#include "pkg/cgroups/cgroups.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

// A fake /sys/fs/cgroup in a temp dir.
class CgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/ocid-cgroups-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root_ = dir;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(root_).ok()); }

  void Write(const std::string& rel, const std::string& text) {
    std::string path = absl::StrCat(root_, "/", rel);
    ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/')), 0755).ok());
    ASSERT_TRUE(WriteFileAtomically(path, text).ok());
  }

  // A v1 cgroup `path` with cpu and cpuacct jointly mounted (as most
  // distributions do, with a cpuacct symlink) or apart (as this machine).
  void FakeV1(const std::string& path, bool joint_cpu) {
    std::string cpuacct = joint_cpu ? "cpu,cpuacct" : "cpuacct";
    Write(cpuacct + path + "/cpuacct.usage", "123456789\n");
    if (joint_cpu) {
      ASSERT_EQ(symlink("cpu,cpuacct", (root_ + "/cpuacct").c_str()), 0);
    }
    Write("memory" + path + "/memory.usage_in_bytes", "10485760\n");
    Write("memory" + path + "/memory.limit_in_bytes", "9223372036854771712\n");
    Write("memory" + path + "/memory.stat",
          "cache 100\nrss 5\ninactive_file 1\ntotal_cache 4194304\ntotal_rss 2097152\n"
          "total_inactive_file 3145728\ntotal_pgfault 77\ntotal_pgmajfault 3\n");
    Write("pids" + path + "/pids.current", "4\n");
    Write("systemd" + path + "/cgroup.procs", "");
  }

  std::string root_;
};

TEST_F(CgroupsTest, DetectsEachLayout) {
  FakeV1("", /*joint_cpu=*/false);
  absl::StatusOr<Cgroups> v1 = Cgroups::Open(root_);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->layout(), CgroupLayout::kV1);

  Write("unified/cgroup.controllers", "");
  absl::StatusOr<Cgroups> hybrid = Cgroups::Open(root_);
  ASSERT_TRUE(hybrid.ok()) << hybrid.status();
  EXPECT_EQ(hybrid->layout(), CgroupLayout::kHybrid);

  Write("cgroup.controllers", "cpu memory pids\n");
  absl::StatusOr<Cgroups> v2 = Cgroups::Open(root_);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->layout(), CgroupLayout::kV2);
}

TEST_F(CgroupsTest, NothingMountedIsAnError) {
  EXPECT_EQ(Cgroups::Open(root_).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(Cgroups::Open(root_ + "/absent").ok());
}

TEST_F(CgroupsTest, ReadsV1Stats) {
  for (bool joint : {false, true}) {
    SCOPED_TRACE(joint ? "cpu,cpuacct" : "cpuacct apart");
    ASSERT_TRUE(RemoveAll(root_).ok());
    ASSERT_TRUE(MakeDirs(root_, 0755).ok());
    FakeV1("/ocid/pod-p/ocid-c", joint);
    Write("unified/cgroup.controllers", "");
    absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
    ASSERT_TRUE(cgroups.ok()) << cgroups.status();
    absl::StatusOr<CgroupStats> stats = cgroups->Read("/ocid/pod-p/ocid-c");
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->cpu_usage_ns, 123456789u);
    EXPECT_EQ(stats->memory_usage_bytes, 10485760u);
    EXPECT_EQ(stats->memory_working_set_bytes, 10485760u - 3145728u);
    EXPECT_EQ(stats->memory_rss_bytes, 2097152u);
    EXPECT_EQ(stats->page_faults, 77u);
    EXPECT_EQ(stats->major_page_faults, 3u);
    EXPECT_FALSE(stats->memory_limit_bytes.has_value()) << "v1's huge number is no limit";
    EXPECT_EQ(stats->pids, 4u);
  }
}

TEST_F(CgroupsTest, V1LimitAndWorkingSetNeverNegative) {
  FakeV1("/c", false);
  Write("memory/c/memory.limit_in_bytes", "67108864\n");
  Write("memory/c/memory.usage_in_bytes", "1000\n");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok());
  absl::StatusOr<CgroupStats> stats = cgroups->Read("/c");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->memory_limit_bytes, 67108864u);
  EXPECT_EQ(stats->memory_working_set_bytes, 0u) << "inactive_file above usage clamps to 0";
}

TEST_F(CgroupsTest, ReadsV2Stats) {
  Write("cgroup.controllers", "cpu memory pids\n");
  Write("kubepods/pod1/cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
  Write("kubepods/pod1/memory.current", "8388608\n");
  Write("kubepods/pod1/memory.max", "max\n");
  Write("kubepods/pod1/memory.stat",
        "anon 1048576\nfile 4096\ninactive_file 2097152\npgfault 12\npgmajfault 1\n");
  Write("kubepods/pod1/pids.current", "2\n");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok());
  absl::StatusOr<CgroupStats> stats = cgroups->Read("/kubepods/pod1");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cpu_usage_ns, 2500000u);
  EXPECT_EQ(stats->memory_usage_bytes, 8388608u);
  EXPECT_EQ(stats->memory_working_set_bytes, 8388608u - 2097152u);
  EXPECT_EQ(stats->memory_rss_bytes, 1048576u);
  EXPECT_EQ(stats->page_faults, 12u);
  EXPECT_EQ(stats->major_page_faults, 1u);
  EXPECT_FALSE(stats->memory_limit_bytes.has_value());
  EXPECT_EQ(stats->pids, 2u);

  Write("kubepods/pod1/memory.max", "1073741824\n");
  EXPECT_EQ(cgroups->Read("/kubepods/pod1")->memory_limit_bytes, 1073741824u);
}

TEST_F(CgroupsTest, MissingCgroupIsNotFoundAndGarbageIsDataLoss) {
  FakeV1("/c", false);
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok());
  EXPECT_EQ(cgroups->Read("/gone").status().code(), absl::StatusCode::kNotFound);
  Write("memory/c/memory.usage_in_bytes", "lots\n");
  EXPECT_EQ(cgroups->Read("/c").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(CgroupsTest, RemoveTakesTheDirOutOfEveryHierarchy) {
  FakeV1("", false);
  ASSERT_TRUE(MakeDirs(root_ + "/memory/ocid/pod-p", 0755).ok());
  ASSERT_TRUE(MakeDirs(root_ + "/pids/ocid/pod-p", 0755).ok());
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok());
  EXPECT_EQ(cgroups->Dirs("/ocid/pod-p").size(), 4u);  // cpuacct, memory, pids, systemd
  EXPECT_TRUE(cgroups->Remove("/ocid/pod-p").ok());
  EXPECT_NE(access((root_ + "/memory/ocid/pod-p").c_str(), F_OK), 0);
  EXPECT_NE(access((root_ + "/pids/ocid/pod-p").c_str(), F_OK), 0);
  EXPECT_TRUE(cgroups->Remove("/ocid/pod-p").ok()) << "idempotent";
  ASSERT_TRUE(MakeDirs(root_ + "/memory/ocid/pod-p/child", 0755).ok());
  EXPECT_FALSE(cgroups->Remove("/ocid/pod-p").ok()) << "a non-empty cgroup stays";
}

TEST_F(CgroupsTest, JoinWritesThePidInEveryHierarchy) {
  FakeV1("", false);
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok());
  // A fake tree has no kernel to make cgroup.procs: make it as the kernel would.
  for (const std::string& dir : cgroups->Dirs("/ocid/pod-p/ocid-infra")) {
    ASSERT_TRUE(MakeDirs(dir, 0755).ok());
    ASSERT_TRUE(WriteFileAtomically(dir + "/cgroup.procs", "").ok());
  }
  ASSERT_TRUE(cgroups->Join("/ocid/pod-p/ocid-infra", 4242).ok());
  for (const std::string& dir : cgroups->Dirs("/ocid/pod-p/ocid-infra")) {
    EXPECT_EQ(*ReadFileToString(dir + "/cgroup.procs", 100), "4242") << dir;
  }
}

TEST_F(CgroupsTest, JoinGivesNewCpusetLevelsTheirParentsCpusAndMems) {
  FakeV1("", false);
  Write("cpuset/cpuset.cpus", "0-1\n");
  Write("cpuset/cpuset.mems", "0\n");
  for (const char* level : {"cpuset/ocid", "cpuset/ocid/pod-p", "cpuset/ocid/pod-p/ocid-infra"}) {
    Write(std::string(level) + "/cpuset.cpus", "");
    Write(std::string(level) + "/cpuset.mems", "");
    Write(std::string(level) + "/cgroup.procs", "");
  }
  Write("cpuset/ocid/cpuset.cpus", "1\n");  // a level with its own keeps it
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok());
  for (const std::string& dir : cgroups->Dirs("/ocid/pod-p/ocid-infra")) {
    ASSERT_TRUE(MakeDirs(dir, 0755).ok());
    ASSERT_TRUE(WriteFileAtomically(dir + "/cgroup.procs", "").ok());
  }
  absl::Status joined = cgroups->Join("/ocid/pod-p/ocid-infra", 7);
  ASSERT_TRUE(joined.ok()) << joined;
  EXPECT_EQ(*ReadFileToString(root_ + "/cpuset/ocid/pod-p/ocid-infra/cpuset.cpus", 100), "1\n");
  EXPECT_EQ(*ReadFileToString(root_ + "/cpuset/ocid/pod-p/ocid-infra/cpuset.mems", 100), "0\n");
  EXPECT_EQ(*ReadFileToString(root_ + "/cpuset/ocid/pod-p/ocid-infra/cgroup.procs", 100), "7");
}

}  // namespace
}  // namespace ocid
