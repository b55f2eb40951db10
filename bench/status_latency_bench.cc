// ContainerStatus latency under lifecycle load (run it with
// bench/status_latency_bench.sh, which starts a local registry holding
// busybox). A private ocid on fresh dirs pulls REGISTRY/busybox:latest and
// runs one pod with one long-running `sleep` container (the target). One
// poller thread calls ContainerStatus on the target every --status-interval-us
// (0: back to back) and records each call's latency:
//   idle: for --idle-seconds, with nothing else going on (the floor);
//   load: for --seconds, while --clients threads each loop full lifecycles
//         (RunPodSandbox, CreateContainer, StartContainer, StopContainer,
//         RemoveContainer, StopPodSandbox, RemovePodSandbox).
// Every record update a lifecycle makes is persisted by ocid; the question is
// whether a reader of another container waits on those writes.
// The floor, in the same loop right after each ContainerStatus: Version, which
// touches no store, so that it pays the same gRPC round trip and the same
// CPU contention (2 cores, 10 clients starting runc and conmon) and nothing
// else. Reports p50/p99/max per phase, ContainerStatus over that floor, the
// lifecycles completed, and the target (issue 9): ContainerStatus p99 under
// load < 2 ms.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "bench/bench_support.h"
#include "pkg/base/fs.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr absl::Duration kRpcTimeout = absl::Seconds(60);
constexpr absl::Duration kPullTimeout = absl::Seconds(120);
constexpr double kStatusP99TargetMs = 2;

struct Options {
  std::string registry;                // 127.0.0.1:PORT
  std::string ocid = "cmd/ocid/ocid";  // runfiles path
  int clients = 10;
  int seconds = 20;      // the load phase
  int idle_seconds = 3;  // the no-load phase before it
  int status_interval_us = 1000;
};

// Set by SIGINT/SIGTERM so that every loop stops and the teardown still runs
// (a signal handler can only reach a global).
volatile std::sig_atomic_t interrupted = 0;

absl::Status ToAbsl(const char* name, const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(name, ": ", status.error_message()));
}

// Removes /sys/fs/cgroup/*/ocid (the parent of ocid's cgroupsPath, which
// the runtime leaves behind) on destruction, if this run made it.
class OcidCgroupParent {
 public:
  OcidCgroupParent() {
    std::error_code error;
    for (const auto& controller : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      if (std::filesystem::exists(controller.path() / "ocid", error)) existed_ = true;
    }
  }
  ~OcidCgroupParent() {
    if (existed_) return;
    std::error_code error;
    for (const auto& controller : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      ::rmdir((controller.path() / "ocid").c_str());  // fails harmlessly when in use
    }
  }

 private:
  bool existed_ = false;
};

cri::PodSandboxConfig PodConfig(const std::string& name, const std::string& log_root) {
  cri::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("ocid-bench");
  config.mutable_metadata()->set_uid("uid-" + NewRandomId().substr(0, 16));
  config.set_hostname(name);
  config.set_log_directory(log_root + "/" + name);
  auto* namespaces =
      config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  namespaces->set_network(cri::POD);
  namespaces->set_ipc(cri::POD);
  namespaces->set_pid(cri::CONTAINER);
  return config;
}

cri::ContainerConfig SleepConfig(const std::string& image) {
  cri::ContainerConfig config;
  config.mutable_metadata()->set_name("sleeper");
  config.mutable_image()->set_image(image);
  for (const char* arg : {"/bin/sh", "-c", "exec sleep 3600"}) config.add_command(arg);
  cri::KeyValue* path = config.add_envs();
  path->set_key("PATH");
  path->set_value("/usr/sbin:/usr/bin:/sbin:/bin");
  config.set_log_path("sleeper.log");
  return config;
}

// The private ocid and the ids of what was made through it. Thread-safe:
// the client threads share it. On destruction every pod ocid still lists is
// removed, ocid gets SIGTERM (SIGKILL after 15 s), and whatever a dead ocid
// left is removed behind its back.
class OcidSession {
 public:
  static absl::StatusOr<std::unique_ptr<OcidSession>> Start(const Options& options,
                                                            const std::string& dir);
  ~OcidSession();

  // A stub on a connection of its own, so that no caller queues behind
  // another one's calls in the client.
  std::unique_ptr<cri::RuntimeService::Stub> NewRuntimeStub() const;
  absl::Status Pull(const std::string& image);
  // One lifecycle with `stub`; on an error, the pod is removed again.
  absl::Status Lifecycle(cri::RuntimeService::Stub& stub, const std::string& name,
                         const std::string& image, std::string* running_id = nullptr);

 private:
  OcidSession(Subprocess process, std::string dir)
      : process_(std::move(process)), dir_(std::move(dir)) {}
  absl::Status WaitUntilServing();
  void RemoveAllPods();

  Subprocess process_;
  std::string dir_;
  absl::Mutex mu_;
  std::set<std::string> containers_ ABSL_GUARDED_BY(mu_);  // made and not yet removed
};

absl::StatusOr<std::unique_ptr<OcidSession>> OcidSession::Start(const Options& options,
                                                                const std::string& dir) {
  ASSIGN_OR_RETURN(Subprocess process, StartLoopbackOcid(options.ocid, dir, options.registry));
  std::unique_ptr<OcidSession> session(new OcidSession(std::move(process), dir));
  RETURN_IF_ERROR(session->WaitUntilServing());
  return session;
}

std::unique_ptr<cri::RuntimeService::Stub> OcidSession::NewRuntimeStub() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return cri::RuntimeService::NewStub(grpc::CreateCustomChannel(
      "unix:" + dir_ + "/ocid.sock", grpc::InsecureChannelCredentials(), args));
}

absl::Status OcidSession::WaitUntilServing() {
  auto stub = NewRuntimeStub();
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  cri::VersionResponse version;
  return ToAbsl("Version", stub->Version(&context, cri::VersionRequest(), &version));
}

absl::Status OcidSession::Pull(const std::string& image) {
  auto images = cri::ImageService::NewStub(
      grpc::CreateChannel("unix:" + dir_ + "/ocid.sock", grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kPullTimeout));
  cri::PullImageRequest request;
  request.mutable_image()->set_image(image);
  cri::PullImageResponse response;
  return ToAbsl("PullImage", images->PullImage(&context, request, &response));
}

// One call with the usual deadline.
template <typename Request, typename Response>
absl::Status Call(cri::RuntimeService::Stub& stub,
                  grpc::Status (cri::RuntimeService::Stub::*method)(grpc::ClientContext*,
                                                                    const Request&, Response*),
                  const char* name, const Request& request, Response* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kRpcTimeout));
  return ToAbsl(name, (stub.*method)(&context, request, response));
}

absl::Status OcidSession::Lifecycle(cri::RuntimeService::Stub& stub, const std::string& name,
                                    const std::string& image, std::string* running_id) {
  using S = cri::RuntimeService::Stub;
  cri::RunPodSandboxRequest run;
  *run.mutable_config() = PodConfig(name, dir_ + "/podlogs");
  cri::RunPodSandboxResponse ran;
  RETURN_IF_ERROR(Call(stub, &S::RunPodSandbox, "RunPodSandbox", run, &ran));
  const std::string pod_id = ran.pod_sandbox_id();
  // RemovePodSandbox also removes the pod's containers.
  absl::Cleanup remove_pod = [&] {
    cri::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod_id);
    cri::RemovePodSandboxResponse removed;
    absl::Status status = Call(stub, &S::RemovePodSandbox, "RemovePodSandbox", remove, &removed);
    if (!status.ok()) {
      std::fprintf(stderr, "cleanup of %s: %s\n", name.c_str(), status.ToString().c_str());
    }
  };

  cri::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod_id);
  *create.mutable_config() = SleepConfig(image);
  *create.mutable_sandbox_config() = run.config();
  cri::CreateContainerResponse created;
  RETURN_IF_ERROR(Call(stub, &S::CreateContainer, "CreateContainer", create, &created));
  const std::string id = created.container_id();
  {
    absl::MutexLock lock(&mu_);
    containers_.insert(id);
  }
  cri::StartContainerRequest start;
  start.set_container_id(id);
  cri::StartContainerResponse started;
  RETURN_IF_ERROR(Call(stub, &S::StartContainer, "StartContainer", start, &started));
  if (running_id != nullptr) {  // the target: kept running
    std::move(remove_pod).Cancel();
    *running_id = id;
    return absl::OkStatus();
  }

  cri::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(0);
  cri::StopContainerResponse stopped;
  RETURN_IF_ERROR(Call(stub, &S::StopContainer, "StopContainer", stop, &stopped));
  cri::RemoveContainerRequest remove;
  remove.set_container_id(id);
  cri::RemoveContainerResponse removed;
  RETURN_IF_ERROR(Call(stub, &S::RemoveContainer, "RemoveContainer", remove, &removed));
  {
    absl::MutexLock lock(&mu_);
    containers_.erase(id);
  }
  cri::StopPodSandboxRequest stop_pod;
  stop_pod.set_pod_sandbox_id(pod_id);
  cri::StopPodSandboxResponse stopped_pod;
  RETURN_IF_ERROR(Call(stub, &S::StopPodSandbox, "StopPodSandbox", stop_pod, &stopped_pod));
  std::move(remove_pod).Cancel();
  cri::RemovePodSandboxRequest remove_pod_request;
  remove_pod_request.set_pod_sandbox_id(pod_id);
  cri::RemovePodSandboxResponse removed_pod;
  return Call(stub, &S::RemovePodSandbox, "RemovePodSandbox", remove_pod_request, &removed_pod);
}

void OcidSession::RemoveAllPods() {
  auto stub = NewRuntimeStub();
  cri::ListPodSandboxResponse pods;
  absl::Status listed = Call(*stub, &cri::RuntimeService::Stub::ListPodSandbox, "ListPodSandbox",
                             cri::ListPodSandboxRequest(), &pods);
  if (!listed.ok()) std::fprintf(stderr, "teardown: %s\n", listed.ToString().c_str());
  for (const cri::PodSandbox& pod : pods.items()) {
    cri::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(pod.id());
    cri::RemovePodSandboxResponse response;
    absl::Status removed = Call(*stub, &cri::RuntimeService::Stub::RemovePodSandbox,
                                "RemovePodSandbox", request, &response);
    if (!removed.ok()) std::fprintf(stderr, "teardown: %s\n", removed.ToString().c_str());
  }
  // Containers of removed pods are gone too.
  if (listed.ok()) {
    cri::ListContainersResponse left;
    absl::Status listed_left = Call(*stub, &cri::RuntimeService::Stub::ListContainers,
                                    "ListContainers", cri::ListContainersRequest(), &left);
    if (listed_left.ok() && left.containers_size() == 0) {
      absl::MutexLock lock(&mu_);
      containers_.clear();
    }
  }
}

OcidSession::~OcidSession() {
  if (process_.Running()) RemoveAllPods();
  if (process_.Running()) {
    (void)process_.Signal(SIGTERM);
    for (int i = 0; i < 1500 && process_.Running(); ++i) ::usleep(10000);
  }
  // Subprocess's destructor sends SIGKILL if it is still running. What ocid
  // could not remove, by the runtime (the default handler, runc):
  absl::MutexLock lock(&mu_);
  for (const std::string& id : containers_) {
    auto child =
        Subprocess::SpawnLogged({"/usr/sbin/runc", "--root", "/run/runc", "delete", "--force", id});
    if (child.ok()) (void)child->Wait();
  }
  KillConmonsUnder(dir_);
}

// ---- the measurement ----

struct Samples {
  std::vector<double> status, version;  // milliseconds
};

// Calls ContainerStatus on `id`, then Version (the floor), until `stop`,
// one pair per interval.
absl::Status PollStatus(OcidSession& ocid, const std::string& id, const Options& options,
                        const std::atomic<bool>& stop, Samples* samples) {
  auto stub = ocid.NewRuntimeStub();
  cri::ContainerStatusRequest request;
  request.set_container_id(id);
  while (!stop.load() && !interrupted) {
    cri::ContainerStatusResponse response;
    absl::Time start = absl::Now();
    RETURN_IF_ERROR(Call(*stub, &cri::RuntimeService::Stub::ContainerStatus, "ContainerStatus",
                         request, &response));
    samples->status.push_back(MillisSince(start));
    cri::VersionResponse version;
    start = absl::Now();
    RETURN_IF_ERROR(Call(*stub, &cri::RuntimeService::Stub::Version, "Version",
                         cri::VersionRequest(), &version));
    samples->version.push_back(MillisSince(start));
    if (response.status().state() != cri::CONTAINER_RUNNING) {
      return absl::InternalError(absl::StrCat("the target container is ",
                                              cri::ContainerState_Name(response.status().state())));
    }
    if (options.status_interval_us > 0) ::usleep(options.status_interval_us);
  }
  return absl::OkStatus();
}

absl::Status PollFor(OcidSession& ocid, const std::string& id, const Options& options,
                     absl::Duration how_long, Samples* samples) {
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread poller([&] { status = PollStatus(ocid, id, options, stop, samples); });
  absl::Time end = absl::Now() + how_long;
  while (absl::Now() < end && !interrupted) absl::SleepFor(absl::Milliseconds(50));
  stop = true;
  poller.join();
  return status;
}

struct LoadResult {
  Samples samples;
  int lifecycles = 0;
  double client_seconds = 0;  // from the clients' start until the last one finished
};

// The clients loop lifecycles until the poller's time is up; each finishes
// the lifecycle it is in, so that it leaves nothing behind.
absl::StatusOr<LoadResult> MeasureLoad(OcidSession& ocid, const std::string& target,
                                       const Options& options) {
  LoadResult result;
  std::atomic<bool> stop{false};
  std::atomic<int> lifecycles{0};
  absl::Mutex mu;
  absl::Status first_error;
  const std::string image = options.registry + "/busybox:latest";
  absl::Time start = absl::Now();
  std::vector<std::thread> clients;
  for (int c = 0; c < options.clients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = ocid.NewRuntimeStub();
      for (int i = 0; !stop.load() && !interrupted; ++i) {
        absl::Status status = ocid.Lifecycle(*stub, absl::StrCat("load-", c, "-", i), image);
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = status;
          stop = true;  // one failure ends the run: the numbers would not mean anything
          return;
        }
        ++lifecycles;
      }
    });
  }
  absl::Status polled =
      PollFor(ocid, target, options, absl::Seconds(options.seconds), &result.samples);
  stop = true;
  for (std::thread& client : clients) client.join();
  result.client_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.lifecycles = lifecycles.load();
  RETURN_IF_ERROR(first_error);
  RETURN_IF_ERROR(polled);
  if (interrupted) return absl::CancelledError("interrupted");
  return result;
}

void PrintLatencies(const std::string& phase, const char* call, const std::vector<double>& millis) {
  double max = millis.empty() ? NAN : *std::max_element(millis.begin(), millis.end());
  std::printf("  %-22s %-16s %8zu %9.3f %9.3f %9.3f\n", phase.c_str(), call, millis.size(),
              Percentile(millis, 50), Percentile(millis, 99), max);
}

void PrintPhase(const std::string& phase, const Samples& samples) {
  PrintLatencies(phase, "ContainerStatus", samples.status);
  PrintLatencies(phase, "Version (floor)", samples.version);
  std::printf("  %-22s %-16s %8s %9.3f %9.3f\n", phase.c_str(), "Status - floor", "",
              Percentile(samples.status, 50) - Percentile(samples.version, 50),
              Percentile(samples.status, 99) - Percentile(samples.version, 99));
}

absl::Status RunBench(const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("status"));
  OcidCgroupParent cgroup_parent;  // destroyed after ocid, before the dir
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid, OcidSession::Start(options, dir->path()));
  const std::string image = options.registry + "/busybox:latest";
  RETURN_IF_ERROR(ocid->Pull(image));
  std::string target;
  {
    auto stub = ocid->NewRuntimeStub();
    RETURN_IF_ERROR(ocid->Lifecycle(*stub, "status-target", image, &target));
  }
  // One lifecycle first so that nothing is measured cold.
  {
    auto stub = ocid->NewRuntimeStub();
    RETURN_IF_ERROR(ocid->Lifecycle(*stub, "warm-up", image));
  }

  std::fprintf(stderr, "status_latency_bench: idle phase, %d s\n", options.idle_seconds);
  Samples idle;
  RETURN_IF_ERROR(PollFor(*ocid, target, options, absl::Seconds(options.idle_seconds), &idle));
  std::fprintf(stderr, "status_latency_bench: load phase, %d clients, %d s\n", options.clients,
               options.seconds);
  ASSIGN_OR_RETURN(LoadResult load, MeasureLoad(*ocid, target, options));

  std::printf("\nContainerStatus on one running container, and its floor, ms\n");
  std::printf("  %-22s %-16s %8s %9s %9s %9s\n", "phase", "call", "calls", "p50", "p99", "max");
  PrintPhase("no load", idle);
  PrintPhase(absl::StrCat(options.clients, " lifecycle clients"), load.samples);
  std::printf("\nlifecycles completed under load: %d in %.1f s (%.2f/s, %d clients)\n",
              load.lifecycles, load.client_seconds, load.lifecycles / load.client_seconds,
              options.clients);
  double p99 = Percentile(load.samples.status, 99);
  bool met = p99 < kStatusP99TargetMs;
  std::printf("\ntargets:\n  %-60s %9.3f ms  %s\n", "ContainerStatus p99 under load < 2 ms", p99,
              met ? "met" : "MISSED");
  std::printf("targets: %d met, %d MISSED\n", met ? 1 : 0, met ? 0 : 1);
  return absl::OkStatus();
}

void OnSignal(int) { interrupted = 1; }

bool ParseFlags(int argc, char** argv, Options* options) {
  if (argc % 2 == 0) return false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    auto positive = [&](int* out) { return absl::SimpleAtoi(value, out) && *out > 0; };
    bool ok = true;
    if (flag == "--registry") {
      options->registry = value;
    } else if (flag == "--ocid") {
      options->ocid = value;
    } else if (flag == "--clients") {
      ok = positive(&options->clients);
    } else if (flag == "--seconds") {
      ok = positive(&options->seconds);
    } else if (flag == "--idle-seconds") {
      ok = positive(&options->idle_seconds);
    } else if (flag == "--status-interval-us") {
      ok =
          absl::SimpleAtoi(value, &options->status_interval_us) && options->status_interval_us >= 0;
    } else {
      ok = false;
    }
    if (!ok) return false;
  }
  return options->registry.rfind("127.0.0.1:", 0) == 0;
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: status_latency_bench --registry 127.0.0.1:PORT [--clients 10] "
                 "[--seconds 20] [--idle-seconds 3] [--status-interval-us 1000 (0: back to "
                 "back)]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf(
      "status latency bench: %s/busybox:latest, runc, a private ocid; ContainerStatus + "
      "Version every %d us; p99 is nearest-rank\n",
      options.registry.c_str(), options.status_interval_us);
  absl::Status status = RunBench(options);
  if (!status.ok()) {
    std::fprintf(stderr, "status_latency_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
