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
// else. Reports p50/p99/max per phase (ListContainers too), ContainerStatus
// over that floor, the lifecycles completed, and the targets: ContainerStatus
// p99 under load < 2 ms (issue 9, 10 clients) and < 5 ms (issue 15, 20
// clients for 10 minutes).
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
#include "bench/cri_session.h"
#include "pkg/base/fs.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr double kStatusP99TargetMs = 2;
constexpr double kStatusP99LooseTargetMs = 5;

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

// ---- the measurement ----

struct Samples {
  std::vector<double> status, list, version;  // milliseconds
};

// Calls ContainerStatus on `id`, ListContainers (every container, as
// kubelet's relist does), then Version (the floor), until `stop`, one round
// per interval.
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
    cri::ListContainersResponse listed;
    start = absl::Now();
    RETURN_IF_ERROR(Call(*stub, &cri::RuntimeService::Stub::ListContainers, "ListContainers",
                         cri::ListContainersRequest(), &listed));
    samples->list.push_back(MillisSince(start));
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
  PrintLatencies(phase, "ListContainers", samples.list);
  PrintLatencies(phase, "Version (floor)", samples.version);
  std::printf("  %-22s %-16s %8s %9.3f %9.3f\n", phase.c_str(), "Status - floor", "",
              Percentile(samples.status, 50) - Percentile(samples.version, 50),
              Percentile(samples.status, 99) - Percentile(samples.version, 99));
}

absl::Status RunBench(const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("status"));
  OcidCgroupParent cgroup_parent;  // destroyed after ocid, before the dir
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid,
                   OcidSession::Start(options.ocid, dir->path(), options.registry));
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
  // Issue 9's target with 10 clients; issue 15's (20 clients, 10 minutes:
  // --clients 20 --seconds 600) is 5 ms. A run that ends without an error
  // had none: one failed call stops it.
  double p99 = Percentile(load.samples.status, 99);
  bool met = p99 < kStatusP99TargetMs;
  bool met_loose = p99 < kStatusP99LooseTargetMs;
  std::printf("\ntargets:\n  %-60s %9.3f ms  %s\n", "ContainerStatus p99 under load < 2 ms", p99,
              met ? "met" : "MISSED");
  std::printf("  %-60s %9.3f ms  %s\n", "ContainerStatus p99 under load < 5 ms", p99,
              met_loose ? "met" : "MISSED");
  std::printf("targets: %d met, %d MISSED\n", met + met_loose, 2 - met - met_loose);
  return absl::OkStatus();
}

void OnSignal(int) { interrupted = 1; }

bool ParseFlags(int argc, char** argv, Options* options) {
  return ParseBenchFlags(argc, argv,
                         {{"--registry", TextFlag(&options->registry)},
                          {"--ocid", TextFlag(&options->ocid)},
                          {"--clients", CountFlag(&options->clients)},
                          {"--seconds", CountFlag(&options->seconds)},
                          {"--idle-seconds", CountFlag(&options->idle_seconds)},
                          {"--status-interval-us", CountFlag(&options->status_interval_us, true)}});
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
