#include "pkg/cgroups/cgroups.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/cgroups/fake_cgroup_tree.h"

namespace ocid {
namespace {

// A fake /sys/fs/cgroup in a temp dir.
class CgroupsTest : public FakeCgroupTree {
 protected:

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

TEST_F(CgroupsTest, SwapAccountingFollowsTheMemsswFilesOrTheV2MemoryController) {
  FakeV1("", /*joint_cpu=*/false);
  absl::StatusOr<Cgroups> v1 = Cgroups::Open(root_);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_FALSE(v1->SwapAccounting()) << "no memory.memsw.limit_in_bytes";
  Write("memory/memory.memsw.limit_in_bytes", "9223372036854771712\n");
  EXPECT_TRUE(v1->SwapAccounting());

  ASSERT_TRUE(RemoveAll(root_).ok());
  Write("cgroup.controllers", "cpuset cpu io pids\n");
  absl::StatusOr<Cgroups> v2 = Cgroups::Open(root_);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_FALSE(v2->SwapAccounting());
  Write("cgroup.controllers", "cpuset cpu io memory pids\n");
  EXPECT_TRUE(v2->SwapAccounting());
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

TEST_F(CgroupsTest, AnOpenedHandleReadsAgainUntilTheCgroupIsRemoved) {
  FakeV1("/p/c", false);
  absl::StatusOr<Cgroups> v1 = Cgroups::Open(root_);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->OpenCgroup("/p/gone").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<CgroupHandle> handle = v1->OpenCgroup("/p/c");
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_EQ(v1->Read(*handle, /*with_pids=*/true)->pids, 4u);
  EXPECT_EQ(v1->Read(*handle, /*with_pids=*/false)->pids, 0u) << "pids.current not read";
  Write("cpuacct/p/c/cpuacct.usage", "5\n");
  EXPECT_EQ(v1->Read(*handle, false)->cpu_usage_ns, 5u) << "each read is fresh";
  ASSERT_TRUE(RemoveAll(root_ + "/memory/p/c").ok());
  EXPECT_EQ(v1->Read(*handle, false).status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(RemoveAll(root_).ok());
  Write("cgroup.controllers", "cpu memory pids\n");
  Write("p/c/cpu.stat", "usage_usec 7\n");
  Write("p/c/pids.current", "3\n");
  Write("p/none/cgroup.procs", "");  // no controller enabled: zeros
  absl::StatusOr<Cgroups> v2 = Cgroups::Open(root_);
  ASSERT_TRUE(v2.ok()) << v2.status();
  handle = v2->OpenCgroup("/p/c");
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_EQ(v2->Read(*handle, true)->cpu_usage_ns, 7000u);
  EXPECT_EQ(v2->Read(*handle, true)->pids, 3u);
  EXPECT_EQ(v2->Read(*handle, false)->pids, 0u);
  absl::StatusOr<CgroupHandle> none = v2->OpenCgroup("/p/none");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(v2->Read(*none, true)->cpu_usage_ns, 0u);
  ASSERT_TRUE(RemoveAll(root_ + "/p").ok());
  EXPECT_EQ(v2->Read(*handle, true).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(v2->Read(*none, true).status().code(), absl::StatusCode::kNotFound);
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

// A `sleep` child of the test, as a process in a container would be.
pid_t StartSleep() {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sleep", "sleep", "100", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int TermSignal(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status)) return 0;
  return WTERMSIG(status);
}

TEST_F(CgroupsTest, KillSignalsEveryListedProcessBelowTooUnderTheFreezer) {
  FakeV1("", false);
  pid_t init = StartSleep(), child = StartSleep(), outside = StartSleep();
  ASSERT_GT(init, 0);
  ASSERT_GT(child, 0);
  ASSERT_GT(outside, 0);
  // The fake kernel lists them; the real one would drop each as it exits.
  Write("freezer/ocid/pod-p/ocid-c/cgroup.procs", absl::StrCat(init, "\n"));
  Write("freezer/ocid/pod-p/ocid-c/freezer.state", "xxxxxx\n");
  Write("freezer/ocid/pod-p/ocid-c/nested/cgroup.procs", absl::StrCat(child, "\n"));
  Write("freezer/ocid/pod-p/cgroup.procs", absl::StrCat(outside, "\n"));
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();

  absl::Status killed = cgroups->Kill("/ocid/pod-p/ocid-c", absl::Seconds(5));
  EXPECT_TRUE(killed.ok()) << killed;
  EXPECT_EQ(TermSignal(init), SIGKILL);
  EXPECT_EQ(TermSignal(child), SIGKILL) << "a process in a cgroup below is killed too";
  EXPECT_EQ(*ReadFileToString(root_ + "/freezer/ocid/pod-p/ocid-c/freezer.state", 100), "THAWED\n")
      << "frozen while listed, thawed after";
  EXPECT_EQ(kill(outside, 0), 0) << "the pod's other processes are left alone";
  kill(outside, SIGKILL);
  TermSignal(outside);

  EXPECT_TRUE(cgroups->Kill("/ocid/pod-p/gone", absl::Seconds(1)).ok()) << "nothing to kill";

  // An empty cgroup is not frozen (nor thawed): nothing in it to kill.
  Write("freezer/ocid/pod-p/ocid-e/cgroup.procs", "");
  Write("freezer/ocid/pod-p/ocid-e/freezer.state", "xxxxxx\n");
  EXPECT_TRUE(cgroups->Kill("/ocid/pod-p/ocid-e", absl::Seconds(1)).ok());
  EXPECT_EQ(*ReadFileToString(root_ + "/freezer/ocid/pod-p/ocid-e/freezer.state", 100), "xxxxxx\n");

  // A cgroup the freezer does not have is listed from the memory controller.
  pid_t lone = StartSleep();
  ASSERT_GT(lone, 0);
  Write("memory/ocid/pod-p/ocid-m/cgroup.procs", absl::StrCat(lone, "\n"));
  killed = cgroups->Kill("/ocid/pod-p/ocid-m", absl::Seconds(5));
  EXPECT_TRUE(killed.ok()) << killed;
  EXPECT_EQ(TermSignal(lone), SIGKILL);
}

TEST_F(CgroupsTest, KillOnV2WritesCgroupKill) {
  Write("cgroup.controllers", "memory pids\n");
  Write("ocid/pod-p/ocid-c/cgroup.kill", "0");
  Write("ocid/pod-p/ocid-c/cgroup.procs", "");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  ASSERT_TRUE(cgroups->Kill("/ocid/pod-p/ocid-c", absl::Seconds(1)).ok());
  EXPECT_EQ(*ReadFileToString(root_ + "/ocid/pod-p/ocid-c/cgroup.kill", 100), "1");
}

TEST_F(CgroupsTest, OomKilledReadsTheMemoryControllersCounters) {
  FakeV1("/c", false);
  Write("memory/c/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  absl::StatusOr<Cgroups> v1 = Cgroups::Open(root_);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->OomKilled("/c").value_or(true), false);
  Write("memory/c/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  EXPECT_EQ(v1->OomKilled("/c").value_or(false), true);
  Write("memory/c/memory.oom_control", "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n");
  EXPECT_EQ(v1->OomKilled("/c").value_or(false), true) << "under OOM with the killer off";
  EXPECT_EQ(v1->OomKilled("/gone").status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(RemoveAll(root_).ok());
  Write("cgroup.controllers", "memory pids\n");
  Write("c/memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 0\n");
  absl::StatusOr<Cgroups> v2 = Cgroups::Open(root_);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->OomKilled("/c").value_or(true), false);
  Write("c/memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n");
  EXPECT_EQ(v2->OomKilled("/c").value_or(false), true);
  EXPECT_EQ(v2->OomKilled("/gone").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CgroupsTest, SetLimitsWritesV1FilesAndPutsTheOldBackWhenOneIsRefused) {
  FakeV1("", false);
  Write("cpu/ocid/pod-p/cpu.shares", "1024\n");
  Write("cpu/ocid/pod-p/cpu.cfs_quota_us", "-1\n");
  Write("cpu/ocid/pod-p/cpu.cfs_period_us", "100000\n");
  Write("memory/ocid/pod-p/memory.limit_in_bytes", "9223372036854771712\n");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  auto read = [&](const std::string& rel) {
    return ReadFileToString(absl::StrCat(root_, "/", rel), 100).value_or("?");
  };

  CgroupLimits limits;
  limits.cpu_shares = 512;
  limits.cpu_quota = 50000;
  limits.cpu_period = 50000;
  limits.memory_limit = 64 << 20;
  absl::Status set = cgroups->SetLimits("/ocid/pod-p", limits);
  ASSERT_TRUE(set.ok()) << set;
  EXPECT_EQ(read("cpu/ocid/pod-p/cpu.shares"), "512");
  EXPECT_EQ(read("cpu/ocid/pod-p/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(read("cpu/ocid/pod-p/cpu.cfs_period_us"), "50000");
  EXPECT_EQ(read("memory/ocid/pod-p/memory.limit_in_bytes"), "67108864");

  // A file the kernel refuses to write (a read-only proc file stands in).
  ASSERT_TRUE(RemoveAll(root_ + "/memory/ocid/pod-p/memory.limit_in_bytes").ok());
  ASSERT_EQ(symlink("/proc/version", (root_ + "/memory/ocid/pod-p/memory.limit_in_bytes").c_str()),
            0);
  limits.cpu_shares = 2048;
  limits.memory_limit = 32 << 20;
  set = cgroups->SetLimits("/ocid/pod-p", limits);
  EXPECT_FALSE(set.ok());
  EXPECT_NE(set.message().find("memory.limit_in_bytes"), std::string::npos) << set;
  EXPECT_EQ(read("cpu/ocid/pod-p/cpu.shares"), "512") << "the old value is back";

  // Unset fields are left alone; a missing cgroup is made.
  CgroupLimits shares;
  shares.cpu_shares = 100;
  ASSERT_TRUE(cgroups->SetLimits("/ocid/pod-p", shares).ok());
  EXPECT_EQ(read("cpu/ocid/pod-p/cpu.cfs_quota_us"), "50000");
  Write("cpu/ocid/pod-new/cpu.shares", "1024\n");  // what the kernel makes with the dir
  ASSERT_TRUE(cgroups->SetLimits("/ocid/pod-new", shares).ok());
  EXPECT_EQ(read("cpu/ocid/pod-new/cpu.shares"), "100");
}

TEST_F(CgroupsTest, SetLimitsOnV2WritesWeightCpuMaxAndMemoryMax) {
  Write("cgroup.controllers", "cpu memory pids\n");
  Write("cgroup.subtree_control", "");
  Write("ocid/cgroup.subtree_control", "");
  Write("ocid/pod-p/cpu.weight", "100\n");
  Write("ocid/pod-p/cpu.max", "max 100000\n");
  Write("ocid/pod-p/memory.max", "max\n");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  auto read = [&](const std::string& rel) {
    return ReadFileToString(absl::StrCat(root_, "/", rel), 100).value_or("?");
  };
  CgroupLimits limits;
  limits.cpu_shares = 1024;
  limits.cpu_quota = 20000;
  limits.memory_limit = 64 << 20;
  ASSERT_TRUE(cgroups->SetLimits("/ocid/pod-p", limits).ok());
  EXPECT_EQ(read("ocid/pod-p/cpu.weight"), "39") << "runc's shares-to-weight mapping";
  EXPECT_EQ(read("ocid/pod-p/cpu.max"), "20000 100000") << "the period kept";
  EXPECT_EQ(read("ocid/pod-p/memory.max"), "67108864");
  CgroupLimits unlimited;
  unlimited.cpu_quota = -1;
  unlimited.memory_limit = -1;
  ASSERT_TRUE(cgroups->SetLimits("/ocid/pod-p", unlimited).ok());
  EXPECT_EQ(read("ocid/pod-p/cpu.max"), "max 100000");
  EXPECT_EQ(read("ocid/pod-p/memory.max"), "max");
  EXPECT_EQ(read("ocid/cgroup.subtree_control"), "") << "controllers already there";
}

}  // namespace
}  // namespace ocid
