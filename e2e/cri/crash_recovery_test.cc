// ocid killed in the middle of RunPodSandbox and CreateContainer (issue 9,
// "intent before side effects"), against a real ocid: after a restart
// nothing half-made is listed, everything the cut-short calls made on the
// host is gone, the same requests succeed again, and the suite's leak census
// finds nothing at the end. Likewise in the middle of StartContainer,
// StopContainer, RemoveContainer, StopPodSandbox and RemovePodSandbox
// (issue 15): a consistent state is listed and the retried call succeeds. Also: a pod whose infra process died is NOTREADY
// after a restart and still removed cleanly. Not in specs.txt.
//
// The crash points are ocid's test-only ones (pkg/base/crash_point.h): ocid
// started with OCID_TEST_CRASH_AT=<point> _exits there, as a SIGKILL would.
// The fixture starts ocid with this process's environment, so the variable
// is set around a restart (before gRPC's threads could read it: they never
// do after start-up).
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "e2e/cri/contract_support.h"
#include "nlohmann/json.hpp"

namespace ocid::e2e {
namespace {

class CriCrashRecovery : public ContractTest {
 protected:
  // The run's state dir (root, runroot, IPAM, runtime state under it).
  static std::string StateDir() {
    const std::string& scratch = Info().scratch_dir;
    return scratch.substr(0, scratch.rfind('/'));
  }

  // Restarts ocid (SIGKILL: it may be dead already, at a crash point) with
  // OCID_TEST_CRASH_AT=`point`, or without it for "".
  absl::Status RestartAt(const std::string& point) {
    if (point.empty()) {
      ::unsetenv("OCID_TEST_CRASH_AT");
    } else {
      ::setenv("OCID_TEST_CRASH_AT", point.c_str(), 1);
    }
    absl::Status restarted = RestartOcid(/*kill=*/true);
    ::unsetenv("OCID_TEST_CRASH_AT");
    return restarted;
  }

  // The calls without the fixture's bookkeeping (a pod the test removes
  // itself; safe from several threads).
  absl::StatusOr<std::string> RunPodRaw(const v1::PodSandboxConfig& config) {
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = config;
    v1::RunPodSandboxResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::RunPodSandbox, request, &response);
    if (!status.ok()) return status;
    return response.pod_sandbox_id();
  }
  absl::StatusOr<std::string> CreateRaw(const std::string& pod_id,
                                        const v1::PodSandboxConfig& pod_config,
                                        const v1::ContainerConfig& config) {
    v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(pod_id);
    *request.mutable_config() = config;
    *request.mutable_sandbox_config() = pod_config;
    v1::CreateContainerResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::CreateContainer, request, &response);
    if (!status.ok()) return status;
    return response.container_id();
  }

  // Pods listed under `name`.
  std::vector<v1::PodSandbox> PodsNamed(const std::string& name) {
    std::vector<v1::PodSandbox> named;
    absl::StatusOr<std::vector<v1::PodSandbox>> pods = ListPods();
    EXPECT_TRUE(pods.ok()) << pods.status();
    if (!pods.ok()) return named;
    for (const v1::PodSandbox& pod : *pods) {
      if (pod.metadata().name() == name) named.push_back(pod);
    }
    return named;
  }

  // What the suite's census would find now, for the host parts a pod or
  // container makes (mounts, pins, IPAM leases, veths, runtime state), so
  // that a leak is pinned on the case that made it.
  std::vector<std::string> Leftovers() {
    const std::string state = StateDir();
    std::vector<std::string> left;
    std::istringstream mounts(ReadAll("/proc/self/mountinfo"));
    std::string line;
    while (std::getline(mounts, line)) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ');
      if (fields.size() > 4 && absl::StartsWith(fields[4], state + "/") &&
          fields[4] != state + "/run/ns") {
        left.push_back("mount " + fields[4]);
      }
    }
    for (const char* type : {"net", "ipc", "uts"}) {
      std::string dir = absl::StrCat(state, "/run/ns/", type);
      for (const std::string& pin : Entries(dir)) left.push_back("pin " + dir + "/" + pin);
    }
    const std::string subnet = Info().pod_cidr.substr(0, Info().pod_cidr.rfind('.') + 1);
    for (const std::string& network : Entries(state + "/ipam")) {
      for (const std::string& lease : Entries(state + "/ipam/" + network)) {
        if (absl::StartsWith(lease, subnet)) left.push_back("IPAM lease " + lease);
      }
    }
    for (const std::string& link : Entries("/sys/class/net/" + Info().cni_bridge + "/brif")) {
      left.push_back("veth " + link);
    }
    for (const char* runtime : {"runc", "crun"}) {
      for (const std::string& id : Entries(absl::StrCat(state, "/runtime/", runtime))) {
        left.push_back(absl::StrCat(runtime, " state of ", id));
      }
    }
    for (const std::string& id : Entries(state + "/run/pods")) left.push_back("pod dir " + id);
    for (const std::string& id : Entries(state + "/run/containers")) {
      left.push_back("bundle " + id);
    }
    for (const std::string& id : Entries(state + "/run/conmon-sockets")) {
      left.push_back("conmon socket dir " + id);
    }
    return left;
  }
};

// ---- a crash at each step of RunPodSandbox and CreateContainer ------------

class CriCrashAtPoint : public CriCrashRecovery,
                        public ::testing::WithParamInterface<std::string> {};

TEST_P(CriCrashAtPoint, RestartedOcidUndoesTheCutShortCall) {
  const std::string point = GetParam();
  const bool in_run_pod = absl::StartsWith(point, "run_pod.");
  OCID_ASSERT_OK(PullImage(kDefaultImage).status());
  const v1::PodSandboxConfig pod_config = DefaultPodConfig("crash-");
  const v1::ContainerConfig config = DefaultContainerConfig("crash-");
  std::string pod_id;

  OCID_ASSERT_OK(RestartAt(point));
  if (in_run_pod) {
    absl::StatusOr<std::string> cut = RunPodRaw(pod_config);
    ASSERT_FALSE(cut.ok()) << "ocid did not stop at " << point;
  } else {
    OCID_ASSERT_OK_AND_ASSIGN(pod_id, RunPodRaw(pod_config));
    absl::StatusOr<std::string> cut = CreateRaw(pod_id, pod_config, config);
    ASSERT_FALSE(cut.ok()) << "ocid did not stop at " << point;
  }
  OCID_ASSERT_OK(RestartAt(""));

  // Nothing half-made is listed: no pod for a cut RunPod, the pod (ready)
  // and no container for a cut CreateContainer.
  std::vector<v1::PodSandbox> listed = PodsNamed(pod_config.metadata().name());
  if (in_run_pod) {
    EXPECT_TRUE(listed.empty()) << "a half-made pod is listed";
    EXPECT_TRUE(Leftovers().empty())
        << "left after the restart: " << testing::PrintToString(Leftovers());
  } else {
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].state(), v1::SANDBOX_READY);
    v1::ContainerFilter in_pod;
    in_pod.set_pod_sandbox_id(pod_id);
    OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> containers, ListContainers(in_pod));
    EXPECT_TRUE(containers.empty()) << "a half-made container is listed";
  }

  // The same requests succeed now: the names were freed with what was undone.
  if (in_run_pod) {
    OCID_ASSERT_OK_AND_ASSIGN(pod_id, RunPodRaw(pod_config));
  }
  absl::StatusOr<std::string> id = CreateRaw(pod_id, pod_config, config);
  OCID_EXPECT_OK(id.status());
  if (id.ok()) OCID_EXPECT_OK(StartContainer(*id));
  OCID_EXPECT_OK(StopPod(pod_id));
  OCID_EXPECT_OK(RemovePod(pod_id));
  EXPECT_TRUE(PodsNamed(pod_config.metadata().name()).empty());
  std::vector<std::string> left = Leftovers();
  EXPECT_TRUE(left.empty()) << "left behind: " << testing::PrintToString(left);
}

INSTANTIATE_TEST_SUITE_P(
    Points, CriCrashAtPoint,
    ::testing::Values("run_pod.recorded", "run_pod.pinned", "run_pod.network_added",
                      "run_pod.files_written", "run_pod.shm_mounted", "run_pod.infra_started",
                      "create_container.recorded", "create_container.dirs_made",
                      "create_container.rootfs_mounted", "create_container.spec_written",
                      "create_container.runtime_created"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name = info.param;
      for (char& c : name) {
        if (c == '.') c = '_';
      }
      return name;
    });

// ---- a crash at each step of PullImage ------------------------------------

// The pull of an image not held is cut short at `point`: after a restart
// the image is either whole (listed, a container of it runs) or not listed
// at all, no half-written blob or half-unpacked layer is left in storage,
// and the client's retried pull succeeds.
class CriCrashInPull : public CriCrashRecovery,
                       public ::testing::WithParamInterface<std::string> {
 protected:
  // Half-done work under the image storage: ingest files, unpack temp dirs.
  std::vector<std::string> HalfDone() {
    const std::string storage = Info().root_dir + "/storage";
    std::vector<std::string> left;
    for (const std::string& name : Entries(storage + "/content/ingest")) {
      left.push_back("ingest " + name);
    }
    for (const std::string& name : Entries(storage + "/layers")) {
      if (absl::StartsWith(name, ".unpack-")) left.push_back("layer temp " + name);
    }
    return left;
  }

  // The stored blobs and unpacked layers, by path.
  std::set<std::string> Stored() {
    const std::string storage = Info().root_dir + "/storage";
    std::set<std::string> stored;
    std::error_code error;
    for (auto it = std::filesystem::recursive_directory_iterator(storage + "/content/blobs", error);
         !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      if (it->is_regular_file()) stored.insert(it->path().string());
    }
    for (const std::string& name : Entries(storage + "/layers")) stored.insert("layer " + name);
    return stored;
  }
};

TEST_P(CriCrashInPull, RestartedOcidKeepsTheImageWholeOrNotAtAll) {
  const std::string point = GetParam();
  const std::string image = kNginxImage;  // several layers; other cases pull it again
  OCID_ASSERT_OK(RemoveImage(image));
  ASSERT_TRUE(absl::IsNotFound(ImageStatus(image).status()));
  const std::set<std::string> before = Stored();

  OCID_ASSERT_OK(RestartAt(point));
  absl::StatusOr<std::string> cut = PullImage(image);
  ASSERT_FALSE(cut.ok()) << "ocid did not stop at " << point;
  OCID_ASSERT_OK(RestartAt(""));

  std::vector<std::string> half = HalfDone();
  EXPECT_TRUE(half.empty()) << "left half-done: " << testing::PrintToString(half);
  absl::StatusOr<v1::Image> status = ImageStatus(image);
  if (point == "pull_image.recorded") {
    OCID_EXPECT_OK(status.status());  // the record was written: the pull was done
  } else {
    EXPECT_TRUE(absl::IsNotFound(status.status())) << "a half-pulled image is listed";
    // What the cut pull committed without a record was collected at start.
    std::set<std::string> after = Stored();
    std::vector<std::string> orphans;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(orphans));
    EXPECT_TRUE(orphans.empty()) << "kept without an image: " << testing::PrintToString(orphans);
  }

  // The retry succeeds and the image is whole: a container of it runs.
  OCID_ASSERT_OK(PullImage(image).status());
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(DefaultPodConfig("pull-crash-")));
  v1::ContainerConfig config = DefaultContainerConfig("pull-crash-");
  config.mutable_image()->set_image(image);
  config.clear_command();
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_EXPECT_OK(StartContainer(id));
  OCID_EXPECT_OK(StopPod(pod.id));
  OCID_EXPECT_OK(RemovePod(pod.id));
  std::vector<std::string> left = Leftovers();
  EXPECT_TRUE(left.empty()) << "left behind: " << testing::PrintToString(left);
}

INSTANTIATE_TEST_SUITE_P(
    Points, CriCrashInPull,
    ::testing::Values("pull_image.blob_partly_written", "pull_image.layer_unpacked_not_renamed",
                      "pull_image.layers_unpacked", "pull_image.recorded"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name = info.param;
      for (char& c : name) {
        if (c == '.') c = '_';
      }
      return name;
    });

// ---- a crash at each step of Start, Stop, Remove and the pod's Stop/Remove -

// A pod with a running container (only created for a start_container.*
// point); ocid dies in the call `point` belongs to. After a restart the
// pod and container are listed in a state the call could have left (done or
// not, never half), the client's retry of the call succeeds, and once the
// pod is removed nothing is left.
class CriCrashInLifecycle : public CriCrashRecovery,
                            public ::testing::WithParamInterface<std::string> {
 protected:
  std::vector<v1::Container> ContainersOf(const std::string& pod_id) {
    v1::ContainerFilter in_pod;
    in_pod.set_pod_sandbox_id(pod_id);
    absl::StatusOr<std::vector<v1::Container>> listed = ListContainers(in_pod);
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? *listed : std::vector<v1::Container>{};
  }

  // What Leftovers() does not see and the suite's census finds only at the
  // end: cgroups (cgroupfs: /ocid/pod-<id> in every hierarchy, the
  // containers' below it) and processes (conmon, the runtime, the infra)
  // naming one of `ids`.
  static std::vector<std::string> TracesOf(const std::vector<std::string>& ids) {
    std::vector<std::string> left;
    for (const std::string& hierarchy : Entries("/sys/fs/cgroup")) {
      const std::string base = absl::StrCat("/sys/fs/cgroup/", hierarchy, "/ocid");
      for (const std::string& name : Entries(base)) {
        for (const std::string& id : ids) {
          if (absl::StrContains(name, id)) left.push_back(absl::StrCat("cgroup ", base, "/", name));
        }
      }
    }
    for (const std::string& pid : Entries("/proc")) {
      int number = 0;
      if (!absl::SimpleAtoi(pid, &number)) continue;
      std::string cmdline = ReadAll(absl::StrCat("/proc/", pid, "/cmdline"));
      for (char& c : cmdline) {
        if (c == '\0') c = ' ';
      }
      for (const std::string& id : ids) {
        if (absl::StrContains(cmdline, id)) {
          left.push_back(absl::StrCat("process ", pid, ": ", cmdline));
          break;
        }
      }
    }
    return left;
  }
};

TEST_P(CriCrashInLifecycle, RestartedOcidListsAConsistentStateAndTheRetrySucceeds) {
  const std::string point = GetParam();
  const std::string call = point.substr(0, point.find('.'));
  OCID_ASSERT_OK(PullImage(kDefaultImage).status());
  const v1::PodSandboxConfig pod_config = DefaultPodConfig("crash-life-");
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(pod_config));
  const v1::ContainerConfig config = DefaultContainerConfig("crash-life-");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  if (call != "start_container") OCID_ASSERT_OK(StartContainer(id));
  ASSERT_FALSE(TracesOf({pod.id, id}).empty()) << "the census does not see conmon";

  // The cut call. The stop signal's point is passed only with a timeout;
  // the others are reached by the SIGKILL path (timeout 0).
  OCID_ASSERT_OK(RestartAt(point));
  absl::Status cut;
  if (call == "start_container") {
    cut = StartContainer(id);
  } else if (call == "stop_container") {
    cut = StopContainer(id, point == "stop_container.signal_sent" ? 30 : 0);
  } else if (call == "remove_container") {
    cut = RemoveContainer(id);
  } else if (call == "stop_pod") {
    cut = StopPod(pod.id);
  } else {
    ASSERT_EQ(call, "remove_pod");
    cut = RemovePod(pod.id);
  }
  ASSERT_FALSE(cut.ok()) << "ocid did not stop at " << point;
  OCID_ASSERT_OK(RestartAt(""));

  // What is listed: a removal cut short was finished by the restarted
  // ocid (its record said removing), so neither the container nor, for
  // RemovePodSandbox, the pod is left; otherwise the pod and its container,
  // each in a state of before or after the call.
  std::vector<v1::PodSandbox> pods = PodsNamed(pod_config.metadata().name());
  const bool pod_removed = call == "remove_pod";
  ASSERT_EQ(pods.size(), pod_removed ? 0u : 1u) << "a removal cut short was not finished";
  if (point == "stop_pod.containers_stopped") {
    EXPECT_EQ(pods[0].state(), v1::SANDBOX_READY) << "its infra still runs";
  } else if (call == "stop_pod") {
    EXPECT_EQ(pods[0].state(), v1::SANDBOX_NOTREADY) << "its infra was stopped";
  } else if (!pod_removed) {
    EXPECT_EQ(pods[0].state(), v1::SANDBOX_READY);
  }
  std::vector<v1::Container> containers = ContainersOf(pod.id);
  if (call == "remove_container" || pod_removed) {
    EXPECT_TRUE(containers.empty()) << "a removal cut short left its container listed";
    EXPECT_TRUE(HasCode(ContainerStatus(id).status(), absl::StatusCode::kNotFound));
  } else {
    ASSERT_EQ(containers.size(), 1u);
    EXPECT_EQ(containers[0].id(), id);
    // The state the call left: RUNNING once the runtime started it, EXITED
    // (in time: conmon's exit file may land after the restart) once it was
    // killed; after the stop signal alone, either.
    if (call == "start_container") {
      EXPECT_EQ(containers[0].state(), v1::CONTAINER_RUNNING)
          << "the runtime started it, the record must say so";
    } else if (point != "stop_container.signal_sent") {
      OCID_EXPECT_OK(WaitForContainerState(id, v1::CONTAINER_EXITED, absl::Seconds(15)));
    } else {
      EXPECT_TRUE(containers[0].state() == v1::CONTAINER_RUNNING ||
                  containers[0].state() == v1::CONTAINER_EXITED)
          << v1::ContainerState_Name(containers[0].state());
    }
    absl::StatusOr<v1::ContainerStatusResponse> status = ContainerStatus(id);
    EXPECT_TRUE(status.ok()) << "listed but not there: " << status.status();
  }

  // The other List calls kubelet makes take what is left in their stride.
  {
    v1::ListContainerStatsRequest request;
    v1::ListContainerStatsResponse response;
    OCID_EXPECT_OK(Call(&v1::RuntimeService::Stub::ListContainerStats, request, &response));
    v1::ListPodSandboxStatsRequest pod_request;
    v1::ListPodSandboxStatsResponse pod_response;
    OCID_EXPECT_OK(
        Call(&v1::RuntimeService::Stub::ListPodSandboxStats, pod_request, &pod_response));
    if (!pod_removed) OCID_EXPECT_OK(PodStatus(pod.id, /*verbose=*/true).status());
  }

  // The client's retry succeeds and does what the call was to do.
  if (call == "start_container") {
    absl::Status again = StartContainer(id);
    EXPECT_TRUE(again.ok() || HasCode(again, absl::StatusCode::kFailedPrecondition)) << again;
    OCID_EXPECT_OK(WaitForContainerState(id, v1::CONTAINER_RUNNING, absl::Seconds(5)));
    absl::StatusOr<ExecResult> exec = ExecSync(id, {"true"}, 10);
    EXPECT_TRUE(exec.ok()) << "RUNNING, but not running: " << exec.status();
  } else if (call == "stop_container") {
    OCID_EXPECT_OK(StopContainer(id, 0));
    OCID_EXPECT_OK(WaitForContainerState(id, v1::CONTAINER_EXITED, absl::Seconds(5)));
  } else if (call == "remove_container") {
    OCID_EXPECT_OK(RemoveContainer(id));
    EXPECT_TRUE(ContainersOf(pod.id).empty());
    EXPECT_TRUE(HasCode(ContainerStatus(id).status(), absl::StatusCode::kNotFound));
    // Its name was freed: the same create makes a new container.
    absl::StatusOr<std::string> again = CreateContainer(pod, config);
    OCID_EXPECT_OK(again.status());
    if (again.ok()) {
      EXPECT_NE(*again, id);
      OCID_EXPECT_OK(StartContainer(*again));
    }
  } else if (call == "stop_pod") {
    OCID_EXPECT_OK(StopPod(pod.id));
    std::vector<v1::PodSandbox> stopped = PodsNamed(pod_config.metadata().name());
    ASSERT_EQ(stopped.size(), 1u);
    EXPECT_EQ(stopped[0].state(), v1::SANDBOX_NOTREADY);
    for (const v1::Container& c : ContainersOf(pod.id)) {
      EXPECT_EQ(c.state(), v1::CONTAINER_EXITED) << c.id();
    }
  } else {
    OCID_EXPECT_OK(RemovePod(pod.id));
    EXPECT_TRUE(PodsNamed(pod_config.metadata().name()).empty());
    EXPECT_TRUE(HasCode(ContainerStatus(id).status(), absl::StatusCode::kNotFound));
  }

  OCID_EXPECT_OK(StopPod(pod.id));
  OCID_EXPECT_OK(RemovePod(pod.id));
  EXPECT_TRUE(PodsNamed(pod_config.metadata().name()).empty());
  std::vector<std::string> left = Leftovers();
  EXPECT_TRUE(left.empty()) << "left behind: " << testing::PrintToString(left);
  std::vector<std::string> traces = TracesOf({pod.id, id});
  EXPECT_TRUE(traces.empty()) << "left behind: " << testing::PrintToString(traces);
}

INSTANTIATE_TEST_SUITE_P(
    Points, CriCrashInLifecycle,
    ::testing::Values("start_container.runtime_started", "start_container.recorded",
                      "stop_container.signal_sent", "stop_container.killed",
                      "stop_container.exited", "remove_container.stopped",
                      "remove_container.runtime_deleted", "remove_container.rootfs_unmounted",
                      "remove_container.bundle_removed", "stop_pod.containers_stopped",
                      "stop_pod.infra_stopped", "stop_pod.shm_unmounted",
                      "stop_pod.network_removed", "stop_pod.unpinned", "stop_pod.recorded",
                      "remove_pod.stopped", "remove_pod.containers_removed",
                      "remove_pod.cgroups_removed", "remove_pod.files_removed"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name = info.param;
      for (char& c : name) {
        if (c == '.') c = '_';
      }
      return name;
    });

// ---- the user's report: calls in flight when ocid is SIGKILLed ------------

// Three rounds, killed ever later: while the first RunPods run, once the
// first pod is listed (others mid-RunPod), and a moment after (creates in
// flight too).
TEST_F(CriCrashRecovery, SigkillWithSixPodsInFlightLeavesNothingOnceTheyAreRemoved) {
  OCID_ASSERT_OK(PullImage(kDefaultImage).status());
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    std::vector<std::thread> threads;
    std::atomic<int> started{0};
    for (int i = 0; i < 6; ++i) {
      threads.emplace_back([&] {
        v1::PodSandboxConfig pod_config = DefaultPodConfig("in-flight-");
        ++started;
        absl::StatusOr<std::string> pod = RunPodRaw(pod_config);
        if (pod.ok()) {
          CreateRaw(*pod, pod_config, DefaultContainerConfig("in-flight-")).IgnoreError();
        }
      });
    }
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (round > 0 && absl::Now() < deadline) {
      absl::StatusOr<std::vector<v1::PodSandbox>> pods = ListPods();
      if (started == 6 && pods.ok() && !pods->empty()) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    absl::SleepFor(round == 0 ? absl::Milliseconds(30) : absl::Milliseconds(100 * (round - 1)));
    pid_t ocid = OcidPid();
    ASSERT_GT(ocid, 0) << "ocid's process not found";
    ASSERT_EQ(::kill(ocid, SIGKILL), 0);
    for (std::thread& t : threads) t.join();  // their calls fail with the connection
    OCID_ASSERT_OK(RestartAt(""));

    // As the user did: remove every pod listed (crictl rmp -fa).
    OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::PodSandbox> pods, ListPods());
    RecordProperty(absl::StrCat("round_", round, "_pods_listed"), static_cast<int>(pods.size()));
    for (const v1::PodSandbox& pod : pods) {
      OCID_EXPECT_OK(StopPod(pod.id()));
      OCID_EXPECT_OK(RemovePod(pod.id()));
    }
    EXPECT_TRUE(ContainerIds().empty());
    std::vector<std::string> left = Leftovers();
    EXPECT_TRUE(left.empty()) << "left behind: " << testing::PrintToString(left);
  }
}

// ---- a pod whose infra died while ocid was down ---------------------------

TEST_F(CriCrashRecovery, PodWhoseInfraDiedIsNotReadyAfterARestartAndRemovedCleanly) {
  v1::PodSandboxConfig pod_config = DefaultPodConfig("infra-dead-");
  pod_config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      v1::NamespaceMode::POD);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(pod_config));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "infra-dead-"));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse before,
                            PodStatus(pod.id, /*verbose=*/true));
  ASSERT_EQ(before.status().state(), v1::SANDBOX_READY);
  nlohmann::json info = nlohmann::json::parse(before.info().at("info"), nullptr, false);
  ASSERT_TRUE(info.is_object() && info["infra_pid"].is_number_integer()) << info.dump();
  const pid_t infra = info["infra_pid"].get<pid_t>();
  ASSERT_GT(infra, 0);

  ASSERT_EQ(::kill(infra, SIGKILL), 0);
  OCID_ASSERT_OK(RestartOcid(/*kill=*/false));

  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse after, PodStatus(pod.id));
  EXPECT_EQ(after.status().state(), v1::SANDBOX_NOTREADY);
  std::vector<v1::PodSandbox> listed = PodsNamed(pod_config.metadata().name());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::SANDBOX_NOTREADY);
  // Its container shared the PID namespace that went with the infra.
  EXPECT_TRUE(WaitForContainerState(id, v1::CONTAINER_EXITED, absl::Seconds(30)).ok());
  EXPECT_TRUE(HasCode(CreateRaw(pod.id, pod_config, DefaultContainerConfig("late-")).status(),
                      absl::StatusCode::kFailedPrecondition));

  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK(RemovePod(pod.id));
  std::vector<std::string> left = Leftovers();
  EXPECT_TRUE(left.empty()) << "left behind (CNI DEL, unpin): " << testing::PrintToString(left);
}

// What a reboot does to a pod while ocid is down: its infra is gone and
// so are the mounts under the runroot (pins, shm), and with them the netns
// and its veth; the IP lease (host-local keeps it on disk) is not. After the
// restart the pod is NOTREADY, and its removal still runs CNI DEL from the
// cached result, which releases the lease.
TEST_F(CriCrashRecovery, PodWhosePinsVanishedIsNotReadyAfterARestartAndRemovedCleanly) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("reboot-"));
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse before,
                            PodStatus(pod.id, /*verbose=*/true));
  nlohmann::json info = nlohmann::json::parse(before.info().at("info"), nullptr, false);
  ASSERT_TRUE(info.is_object() && info["net_ns"].is_string()) << info.dump();

  pid_t ocid = OcidPid();
  ASSERT_GT(ocid, 0) << "ocid's process not found";
  ASSERT_EQ(::kill(ocid, SIGKILL), 0);
  if (info["infra_pid"].get<pid_t>() > 0) ::kill(info["infra_pid"].get<pid_t>(), SIGKILL);
  for (const char* key : {"shm_path", "net_ns", "ipc_ns", "uts_ns"}) {
    const std::string path = info[key].get<std::string>();
    if (path.empty()) continue;
    ASSERT_EQ(::umount2(path.c_str(), MNT_DETACH), 0) << path << ": " << std::strerror(errno);
    if (std::string(key) != "shm_path") ::unlink(path.c_str());
  }
  OCID_ASSERT_OK(RestartAt(""));

  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse after, PodStatus(pod.id));
  EXPECT_EQ(after.status().state(), v1::SANDBOX_NOTREADY);
  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK(RemovePod(pod.id));
  std::vector<std::string> left = Leftovers();
  EXPECT_TRUE(left.empty()) << "left behind (CNI DEL, unpin): " << testing::PrintToString(left);
}

}  // namespace
}  // namespace ocid::e2e
