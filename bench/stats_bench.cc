// ListContainerStats over many running containers (run it with
// bench/stats_bench.sh, which starts a local registry holding busybox). A
// private ocid on fresh dirs pulls REGISTRY/busybox:latest and runs
// --containers `sleep` containers in --pods pods, then calls, back to back
// and --calls times each:
//   ListContainerStats (no filter): every container's cgroup files, read
//     on request, and its writable layer's usage (walked at most once per
//     10 s, StatsCollector::kFsUsageMaxAge: back-to-back calls reuse it, as
//     kubelet's summary and eviction callers do within one period);
//   ListContainers (the floor): the same records and a reply of the same
//     length, with no file read.
// Reports p50/p99 of both and their ratio against the target (issue 11):
// ListContainerStats p50 under 10 ms with 100 containers.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "bench/bench_support.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr double kListStatsP50TargetMs = 10;

struct Options {
  std::string registry;
  std::string ocid = "cmd/ocid/ocid";
  int containers = 100;
  int pods = 10;
  int calls = 200;
};

absl::Status ToAbsl(const char* name, const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(name, ": ", status.error_message()));
}

template <typename Stub, typename Request, typename Response>
absl::Status Call(Stub& stub,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                  const char* name, const Request& request, Response* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  return ToAbsl(name, (stub.*method)(&context, request, response));
}

cri::PodSandboxConfig PodConfig(int n, const std::string& log_root) {
  cri::PodSandboxConfig config;
  std::string name = absl::StrCat("stats-bench-", n);
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("ocid-bench");
  config.mutable_metadata()->set_uid("uid-" + NewRandomId().substr(0, 16));
  config.set_log_directory(log_root + "/" + name);
  auto* namespaces =
      config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  namespaces->set_network(cri::POD);
  namespaces->set_ipc(cri::POD);
  namespaces->set_pid(cri::CONTAINER);
  return config;
}

cri::ContainerConfig SleepConfig(const std::string& image, int n) {
  cri::ContainerConfig config;
  config.mutable_metadata()->set_name(absl::StrCat("sleeper-", n));
  config.mutable_image()->set_image(image);
  for (const char* arg : {"/bin/sh", "-c", "exec sleep 3600"}) config.add_command(arg);
  config.set_log_path(absl::StrCat("sleeper-", n, ".log"));
  return config;
}

// Removes the pods (and so their containers) it made, then stops ocid.
class Session {
 public:
  Session(Subprocess ocid, std::string dir) : ocid_(std::move(ocid)), dir_(std::move(dir)) {
    runtime_ = cri::RuntimeService::NewStub(
        grpc::CreateChannel("unix:" + dir_ + "/ocid.sock", grpc::InsecureChannelCredentials()));
    images_ = cri::ImageService::NewStub(
        grpc::CreateChannel("unix:" + dir_ + "/ocid.sock", grpc::InsecureChannelCredentials()));
  }
  ~Session() {
    for (const std::string& id : pods_) {
      cri::RemovePodSandboxRequest request;
      request.set_pod_sandbox_id(id);
      cri::RemovePodSandboxResponse response;
      (void)Call(*runtime_, &cri::RuntimeService::Stub::RemovePodSandbox, "RemovePodSandbox",
                 request, &response);
    }
    if (ocid_.Running()) {
      (void)ocid_.Signal(SIGTERM);
      for (int i = 0; i < 1500 && ocid_.Running(); ++i) ::usleep(10000);
    }
    KillConmonsUnder(dir_);
  }
  cri::RuntimeService::Stub& runtime() { return *runtime_; }
  cri::ImageService::Stub& images() { return *images_; }
  void Made(const std::string& pod) { pods_.push_back(pod); }

 private:
  Subprocess ocid_;
  std::string dir_;
  std::unique_ptr<cri::RuntimeService::Stub> runtime_;
  std::unique_ptr<cri::ImageService::Stub> images_;
  std::vector<std::string> pods_;
};

absl::Status Populate(Session& session, const Options& options, const std::string& image,
                      const std::string& log_root) {
  {
    // The socket exists before ocid serves on it.
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    cri::VersionResponse version;
    RETURN_IF_ERROR(
        ToAbsl("Version", session.runtime().Version(&context, cri::VersionRequest(), &version)));
  }
  cri::PullImageRequest pull;
  pull.mutable_image()->set_image(image);
  cri::PullImageResponse pulled;
  RETURN_IF_ERROR(
      Call(session.images(), &cri::ImageService::Stub::PullImage, "PullImage", pull, &pulled));
  absl::Time start = absl::Now();
  for (int p = 0; p < options.pods; ++p) {
    cri::RunPodSandboxRequest run;
    *run.mutable_config() = PodConfig(p, log_root);
    cri::RunPodSandboxResponse ran;
    RETURN_IF_ERROR(Call(session.runtime(), &cri::RuntimeService::Stub::RunPodSandbox,
                         "RunPodSandbox", run, &ran));
    session.Made(ran.pod_sandbox_id());
    for (int c = p; c < options.containers; c += options.pods) {
      cri::CreateContainerRequest create;
      create.set_pod_sandbox_id(ran.pod_sandbox_id());
      *create.mutable_config() = SleepConfig(image, c);
      *create.mutable_sandbox_config() = run.config();
      cri::CreateContainerResponse created;
      RETURN_IF_ERROR(Call(session.runtime(), &cri::RuntimeService::Stub::CreateContainer,
                           "CreateContainer", create, &created));
      cri::StartContainerRequest start_request;
      start_request.set_container_id(created.container_id());
      cri::StartContainerResponse started;
      RETURN_IF_ERROR(Call(session.runtime(), &cri::RuntimeService::Stub::StartContainer,
                           "StartContainer", start_request, &started));
    }
  }
  std::printf("made %d pods with %d running containers in %.1f s\n", options.pods,
              options.containers, absl::ToDoubleSeconds(absl::Now() - start));
  return absl::OkStatus();
}

// /sys/fs/cgroup/*/ocid, the parent of the pods' cgroups, is removed on
// destruction when this run made it.
class CgroupParentSweep {
 public:
  CgroupParentSweep() {
    std::error_code error;
    for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      if (std::filesystem::exists(h.path() / "ocid", error)) existed_ = true;
    }
  }
  ~CgroupParentSweep() {
    if (existed_) return;
    std::error_code error;
    for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      ::rmdir((h.path() / "ocid").c_str());
    }
  }

 private:
  bool existed_ = false;
};

absl::Status RunBench(const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("stats"));
  CgroupParentSweep sweep;  // after the session's pods are gone
  ASSIGN_OR_RETURN(Subprocess ocid, StartLoopbackOcid(options.ocid, dir->path(), options.registry));
  Session session(std::move(ocid), dir->path());
  RETURN_IF_ERROR(
      Populate(session, options, options.registry + "/busybox:latest", dir->path() + "/logs"));

  std::vector<double> stats_ms, list_ms;
  size_t listed_stats = 0, listed = 0;
  for (int i = 0; i < options.calls; ++i) {
    cri::ListContainerStatsResponse stats;
    absl::Time start = absl::Now();
    RETURN_IF_ERROR(Call(session.runtime(), &cri::RuntimeService::Stub::ListContainerStats,
                         "ListContainerStats", cri::ListContainerStatsRequest(), &stats));
    stats_ms.push_back(MillisSince(start));
    listed_stats = stats.stats_size();
    cri::ListContainersResponse containers;
    start = absl::Now();
    RETURN_IF_ERROR(Call(session.runtime(), &cri::RuntimeService::Stub::ListContainers,
                         "ListContainers", cri::ListContainersRequest(), &containers));
    list_ms.push_back(MillisSince(start));
    listed = containers.containers_size();
  }
  double p50 = Percentile(stats_ms, 50), p99 = Percentile(stats_ms, 99);
  double floor50 = Percentile(list_ms, 50), floor99 = Percentile(list_ms, 99);
  std::printf("ListContainerStats (%zu containers): p50 %.2f ms, p99 %.2f ms\n", listed_stats, p50,
              p99);
  std::printf("ListContainers floor (%zu containers): p50 %.2f ms, p99 %.2f ms\n", listed, floor50,
              floor99);
  std::printf("ratio over the floor: p50 %.1fx, p99 %.1fx\n", p50 / floor50, p99 / floor99);
  std::printf("target: p50 < %.0f ms: %s\n", kListStatsP50TargetMs,
              p50 < kListStatsP50TargetMs ? "met" : "MISSED");
  return absl::OkStatus();
}

bool ParseFlags(int argc, char** argv, Options* options) {
  return ParseBenchFlags(argc, argv,
                         {{"--registry", TextFlag(&options->registry)},
                          {"--ocid", TextFlag(&options->ocid)},
                          {"--containers", CountFlag(&options->containers)},
                          {"--pods", CountFlag(&options->pods)},
                          {"--calls", CountFlag(&options->calls)}});
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: stats_bench --registry 127.0.0.1:PORT [--containers 100] [--pods 10] "
                 "[--calls 200]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("stats bench: %s/busybox:latest, runc, a private ocid; p99 is nearest-rank\n",
              options.registry.c_str());
  absl::Status status = RunBench(options);
  if (!status.ok()) {
    std::fprintf(stderr, "stats_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
