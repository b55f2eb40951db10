// Resources on the real kernel (not in specs.txt): swap limited to the
// memory limit when none is asked; every process of a container killed
// when it stops, also in the host's PID namespace; UpdatePodSandboxResources
// as read from the pod's cgroup files, and a value the kernel refuses; an
// OOM kill reported as OOMKilled with the memory cgroup's own count, and
// one of a child while the init runs on, as it happens (the memory
// cgroup's OOM event); a cpuset naming CPUs the machine lacks and an
// unknown cgroup_parent refused, naming the field, before anything is
// made or applied. The
// paths are the cgroupfs driver's on cgroup v1 (this machine's hybrid
// layout): /sys/fs/cgroup/<controller>/ocid/pod-<pod>/ocid-<container>.
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

// The first line of a cgroup file ("" when it cannot be read).
std::string ReadCgroupFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string PodCgroup(const std::string& controller, const std::string& pod_id) {
  return absl::StrCat(kCgroupRoot, "/", controller, "/ocid/pod-", pod_id);
}

std::string ContainerCgroup(const std::string& controller, const std::string& pod_id,
                            const std::string& container_id) {
  return absl::StrCat(PodCgroup(controller, pod_id), "/ocid-", container_id);
}

// The pids of live (not zombie) processes whose arguments contain `marker`.
std::vector<std::string> ProcessesWith(const std::string& marker) {
  std::vector<std::string> found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return found;
  while (struct dirent* entry = readdir(proc)) {
    std::string pid = entry->d_name;
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmdline("/proc/" + pid + "/cmdline");
    std::stringstream args;
    args << cmdline.rdbuf();
    if (!absl::StrContains(args.str(), marker)) continue;
    std::string stat = ReadCgroupFile("/proc/" + pid + "/stat");
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') continue;
    found.push_back(pid);
  }
  closedir(proc);
  return found;
}

class Resources : public CriTest {
 protected:
  absl::StatusOr<std::string> RunContainer(const Pod& pod, v1::ContainerConfig config,
                                           const std::vector<std::string>& cmd) {
    config.clear_command();
    for (const std::string& arg : cmd) config.add_command(arg);
    absl::StatusOr<std::string> id = CreateContainer(pod, config);
    if (!id.ok()) return id;
    absl::Status started = StartContainer(*id);
    if (!started.ok()) return started;
    return id;
  }

  absl::Status UpdatePod(const std::string& pod_id, const v1::LinuxContainerResources& resources,
                         const v1::LinuxContainerResources& overhead = {}) {
    v1::UpdatePodSandboxResourcesRequest request;
    request.set_pod_sandbox_id(pod_id);
    *request.mutable_resources() = resources;
    *request.mutable_overhead() = overhead;
    v1::UpdatePodSandboxResourcesResponse response;
    return Call(&v1::RuntimeService::Stub::UpdatePodSandboxResources, request, &response);
  }

  // Waits up to `timeout` for no live process to carry `marker`.
  std::vector<std::string> WaitGone(const std::string& marker, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    std::vector<std::string> left = ProcessesWith(marker);
    while (!left.empty() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
      left = ProcessesWith(marker);
    }
    return left;
  }

  // A pod and container config in the host's PID namespace.
  static v1::NamespaceOption HostPid() {
    v1::NamespaceOption options;
    options.set_pid(v1::NODE);
    return options;
  }
};

TEST_F(Resources, MemoryLimitWithoutSwapRequestLimitsSwapToIt) {
  if (access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) != 0) {
    GTEST_SKIP() << "this host's memory cgroup has no swap accounting "
                    "(/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes is missing)";
  }
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("swap-"));
  v1::ContainerConfig config = DefaultContainerConfig("swap-default-");
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 << 20);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunContainer(pod, config, {"top"}));
  const std::string memory = ContainerCgroup("memory", pod.id, id);
  EXPECT_EQ(ReadCgroupFile(memory + "/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(ReadCgroupFile(memory + "/memory.memsw.limit_in_bytes"), "67108864")
      << "memory+swap equal to the limit: no swap beyond it";

  // An explicit request is used as given.
  v1::ContainerConfig more = DefaultContainerConfig("swap-explicit-");
  more.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 << 20);
  more.mutable_linux()->mutable_resources()->set_memory_swap_limit_in_bytes(128 << 20);
  OCID_ASSERT_OK_AND_ASSIGN(std::string explicit_id, RunContainer(pod, more, {"top"}));
  EXPECT_EQ(ReadCgroupFile(ContainerCgroup("memory", pod.id, explicit_id) +
                           "/memory.memsw.limit_in_bytes"),
            "134217728");
}

TEST_F(Resources, StopKillsTheBackgroundProcessesOfAHostPidContainer) {
  v1::PodSandboxConfig pod_config = DefaultPodConfig("hostpid-kill-");
  *pod_config.mutable_linux()->mutable_security_context()->mutable_namespace_options() = HostPid();
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(pod_config));
  const std::string uuid = NewUuid();
  const std::string marker = "ocid-bg-" + uuid;
  v1::ContainerConfig config = DefaultContainerConfig("hostpid-kill-");
  *config.mutable_linux()->mutable_security_context()->mutable_namespace_options() = HostPid();
  // The shell leaves a child in the background that carries the marker (the
  // shell's own arguments hold it only in two parts).
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id, RunContainer(pod, config,
                                   {"sh", "-c",
                                    absl::StrCat("m=ocid-bg-; sh -c \"sleep 1000; : ${m}", uuid,
                                                 "\" & sleep 1000")}));
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ProcessesWith(marker).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(ProcessesWith(marker).empty()) << "the background child did not start";

  OCID_ASSERT_OK(StopContainer(id, 2));
  std::vector<std::string> left = ProcessesWith(marker);
  EXPECT_TRUE(left.empty()) << "still running after StopContainer: pid " << left.front();
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_EQ(status.status().state(), v1::CONTAINER_EXITED);
}

TEST_F(Resources, AnInitThatExitsTakesItsBackgroundProcessesWithIt) {
  v1::PodSandboxConfig pod_config = DefaultPodConfig("hostpid-exit-");
  *pod_config.mutable_linux()->mutable_security_context()->mutable_namespace_options() = HostPid();
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(pod_config));
  const std::string uuid = NewUuid();
  const std::string marker = "ocid-bg-" + uuid;
  v1::ContainerConfig config = DefaultContainerConfig("hostpid-exit-");
  *config.mutable_linux()->mutable_security_context()->mutable_namespace_options() = HostPid();
  // The init waits for its background child to show, then exits by itself.
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      RunContainer(pod, config,
                   {"sh", "-c",
                    absl::StrCat("m=ocid-bg-; sh -c \"sleep 1000; : ${m}", uuid,
                                 "\" & while ! grep -q ", uuid,
                                 " /proc/$!/cmdline 2>/dev/null; do sleep 0.1; done; "
                                 "exit 0")}));
  OCID_ASSERT_OK(WaitForContainerState(id, v1::CONTAINER_EXITED));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  ASSERT_EQ(status.status().exit_code(), 0) << "the init saw its child start";
  std::vector<std::string> left = WaitGone(marker, absl::Seconds(5));
  EXPECT_TRUE(left.empty()) << "still running after its init exited: pid " << left.front();
}

TEST_F(Resources, UpdatePodSandboxResourcesWritesThePodCgroupOrKeepsTheOldValues) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("pod-update-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            RunContainer(pod, DefaultContainerConfig("pod-update-"), {"top"}));
  v1::LinuxContainerResources resources;
  resources.set_cpu_shares(512);
  resources.set_cpu_quota(50000);
  resources.set_cpu_period(100000);
  resources.set_memory_limit_in_bytes(128 << 20);
  v1::LinuxContainerResources overhead;
  overhead.set_memory_limit_in_bytes(16 << 20);
  OCID_ASSERT_OK(UpdatePod(pod.id, resources, overhead));
  const std::string cpu = PodCgroup("cpu", pod.id);
  const std::string memory = PodCgroup("memory", pod.id);
  EXPECT_EQ(ReadCgroupFile(cpu + "/cpu.shares"), "512");
  EXPECT_EQ(ReadCgroupFile(cpu + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(ReadCgroupFile(cpu + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(ReadCgroupFile(memory + "/memory.limit_in_bytes"),
            absl::StrCat((128 << 20) + (16 << 20)))
      << "the containers' sum plus the pod's overhead";

  // A quota below the kernel's 1 ms minimum: refused after the shares were
  // written, which get their old value back.
  v1::LinuxContainerResources refused;
  refused.set_cpu_shares(1024);
  refused.set_cpu_quota(500);
  absl::Status status = UpdatePod(pod.id, refused);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "cpu.cfs_quota_us")) << status;
  EXPECT_EQ(ReadCgroupFile(cpu + "/cpu.shares"), "512") << "the old value stays";
  EXPECT_EQ(ReadCgroupFile(cpu + "/cpu.cfs_quota_us"), "50000");

  v1::LinuxContainerResources negative;
  negative.set_cpu_shares(-2);
  status = UpdatePod(pod.id, negative);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "resources.cpu_shares")) << status;
  EXPECT_TRUE(absl::IsNotFound(UpdatePod("no-such-pod", resources)));

  // The container keeps running under the new limits.
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse container, ContainerStatus(id));
  EXPECT_EQ(container.status().state(), v1::CONTAINER_RUNNING);
}

TEST_F(Resources, AnOomKillIsReportedAsOOMKilledAndCountedByTheCgroup) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("oom-"));
  v1::ContainerConfig config = DefaultContainerConfig("oom-");
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(32 << 20);
  // The shell holds 200 MB of output in memory: far over 32 MiB (swap
  // included: no swap request, so none beyond the limit).
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      RunContainer(pod, config, {"sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a)"}));
  OCID_ASSERT_OK(WaitForContainerState(id, v1::CONTAINER_EXITED));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_EQ(status.status().reason(), "OOMKilled") << status.status().ShortDebugString();
  EXPECT_EQ(status.status().exit_code(), 137) << status.status().ShortDebugString();
  // What ocid reads as the second source, beside conmon's oom file.
  std::ifstream control(ContainerCgroup("memory", pod.id, id) + "/memory.oom_control");
  std::string key;
  uint64_t value = 0, oom_kills = 0;
  while (control >> key >> value) {
    if (key == "oom_kill") oom_kills = value;
  }
  EXPECT_GE(oom_kills, 1u) << "the container's memory cgroup counted the kill";
}

TEST_F(Resources, AnOomKillOfAChildIsReportedAsItHappensWhileTheInitRunsOn) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("oom-child-"));
  v1::ContainerConfig config = DefaultContainerConfig("oom-child-");
  config.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(32 << 20);
  // The subshell holding 200 MB is the OOM killer's pick; the init sleeps on.
  // The subshell raises its own oom_score_adj (no privilege needed) so that a
  // busy machine, where the victim's exit is slow and the kernel picks again,
  // still never picks the init.
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      RunContainer(pod, config,
                   {"sh", "-c",
                    "(echo 1000 > /proc/self/oom_score_adj; "
                    "x=$(head -c 200000000 /dev/zero | tr '\\0' a)); exec sleep 3600"}));
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  v1::ContainerStatusResponse status;
  while (absl::Now() < deadline) {
    OCID_ASSERT_OK_AND_ASSIGN(status, ContainerStatus(id));
    if (status.status().reason() == "OOMKilled") break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(status.status().reason(), "OOMKilled") << status.status().ShortDebugString();
  EXPECT_EQ(status.status().state(), v1::CONTAINER_RUNNING)
      << "the init runs on: " << status.status().ShortDebugString();

  OCID_ASSERT_OK(StopContainer(id, 0));
  OCID_ASSERT_OK_AND_ASSIGN(status, ContainerStatus(id));
  EXPECT_EQ(status.status().state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(status.status().reason(), "OOMKilled") << "kept at the exit";
}

TEST_F(Resources, ACpusetTheMachineLacksIsRefusedNamingTheFieldBeforeAnythingIsApplied) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("cpuset-"));
  v1::ContainerConfig config = DefaultContainerConfig("cpuset-");
  config.mutable_linux()->mutable_resources()->set_cpuset_cpus("0-4095");
  absl::StatusOr<std::string> refused = CreateContainer(pod, config);
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "config.linux.resources.cpuset_cpus"))
      << refused.status();
  v1::ContainerFilter of_pod;
  of_pod.set_pod_sandbox_id(pod.id);
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> made, ListContainers(of_pod));
  EXPECT_TRUE(made.empty()) << "nothing was made";
  config.mutable_linux()->mutable_resources()->set_cpuset_cpus("");
  config.mutable_linux()->mutable_resources()->set_cpuset_mems("64");
  refused = CreateContainer(pod, config);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "config.linux.resources.cpuset_mems"))
      << refused.status();

  config.mutable_linux()->mutable_resources()->set_cpuset_mems("");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunContainer(pod, config, {"top"}));
  const std::string memory = ContainerCgroup("memory", pod.id, id) + "/memory.limit_in_bytes";
  const std::string before = ReadCgroupFile(memory);
  v1::UpdateContainerResourcesRequest update;
  update.set_container_id(id);
  update.mutable_linux()->set_memory_limit_in_bytes(48 << 20);
  update.mutable_linux()->set_cpuset_cpus("4095");
  v1::UpdateContainerResourcesResponse response;
  absl::Status status =
      Call(&v1::RuntimeService::Stub::UpdateContainerResources, update, &response);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "linux.cpuset_cpus")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "CPU 4095")) << status;
  EXPECT_EQ(ReadCgroupFile(memory), before) << "the memory limit was not applied either";
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse container, ContainerStatus(id));
  EXPECT_EQ(container.status().resources().linux().memory_limit_in_bytes(), 0);
}

TEST_F(Resources, AnUnknownCgroupParentFormIsRefusedNamingTheField) {
  v1::PodSandboxConfig config = DefaultPodConfig("cgroup-parent-");
  config.mutable_linux()->set_cgroup_parent("kubepods/burstable");  // neither a path nor a slice
  absl::StatusOr<Pod> pod = RunPod(config);
  ASSERT_TRUE(absl::IsInvalidArgument(pod.status())) << pod.status();
  EXPECT_TRUE(absl::StrContains(pod.status().message(), "linux.cgroup_parent")) << pod.status();
}

}  // namespace
}  // namespace ocid::e2e
