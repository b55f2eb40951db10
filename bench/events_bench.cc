// What the lifecycle events and the metrics endpoint cost (issue 14; run it
// with bench/events_bench.sh, which starts a local registry holding
// busybox). Two private ocids on fresh dirs run the same --iterations
// sequential lifecycles (RunPodSandbox .. RemovePodSandbox with one running
// busybox container), timed per lifecycle:
//   plain:    no subscriber, metrics off;
//   observed: --subscribers GetContainerEvents streams read by threads of
//             their own, and the metrics endpoint on, scraped every 100 ms.
// Reports p50/p99 of both and the difference of the p50s; target: under 2%.
// Since wall time on a small, busy machine also moves with whatever else
// runs, it also reports the CPU time ocid itself and this process (the
// subscribers' side) used per lifecycle: the events' own cost.
// --metrics 0 leaves the metrics endpoint off in the observed phase, to
// tell the two costs apart.
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "bench/cri_session.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr double kTargetPercent = 2;
constexpr int kMetricsPort = 19391;

struct Options {
  std::string registry;                // 127.0.0.1:PORT
  std::string ocid = "cmd/ocid/ocid";  // runfiles path
  int iterations = 50;
  int subscribers = 10;
  int metrics = 1;
};

volatile std::sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

// One GET /metrics on loopback; the bytes read (0 on any error).
size_t Scrape(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<uint16_t>(port));
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&peer), sizeof(peer)) != 0) {
    return 0;
  }
  const char request[] = "GET /metrics HTTP/1.0\r\n\r\n";
  if (::send(fd.get(), request, sizeof(request) - 1, MSG_NOSIGNAL) < 0) return 0;
  size_t total = 0;
  char buffer[16384];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof(buffer))) > 0;) total += n;
  return total;
}

struct Phase {
  std::vector<double> lifecycle_ms;
  uint64_t events_read = 0;
  int scrapes = 0;
  double ocid_cpu_ms = 0;    // per lifecycle
  double client_cpu_ms = 0;  // this process, per lifecycle
};

double SelfCpuMillis() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

absl::StatusOr<Phase> RunPhase(const Options& options, bool observed) {
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("events"));
  OcidCgroupParent cgroup_parent;  // destroyed after ocid, before the dir
  std::vector<std::string> extra;
  const bool metrics = observed && options.metrics != 0;
  if (metrics) extra = {"--metrics-port", std::to_string(kMetricsPort)};
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid,
                   OcidSession::Start(options.ocid, dir->path(), options.registry, extra));
  const std::string image = options.registry + "/busybox:latest";
  RETURN_IF_ERROR(ocid->Pull(image));

  Phase phase;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> events{0};
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<cri::RuntimeService::Stub>> stubs;
  std::vector<std::thread> readers;
  if (observed) {
    for (int i = 0; i < options.subscribers; ++i) {
      stubs.push_back(ocid->NewRuntimeStub());
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      auto reader =
          stubs.back()->GetContainerEvents(contexts.back().get(), cri::GetEventsRequest());
      reader->WaitForInitialMetadata();
      readers.emplace_back([&events, reader = std::move(reader)]() mutable {
        cri::ContainerEventResponse event;
        while (reader->Read(&event)) ++events;
        reader->Finish().ok();
      });
    }
  }
  if (metrics) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        if (Scrape(kMetricsPort) > 0) ++phase.scrapes;
        absl::SleepFor(absl::Milliseconds(100));
      }
    });
  }

  auto stub = ocid->NewRuntimeStub();
  absl::Status status = ocid->Lifecycle(*stub, "warm-up", image);
  const double ocid_cpu_start = ProcCpuMillis(ocid->pid());
  const double client_cpu_start = SelfCpuMillis();
  for (int i = 0; status.ok() && i < options.iterations && !interrupted; ++i) {
    absl::Time start = absl::Now();
    status = ocid->Lifecycle(*stub, absl::StrCat("events-", i), image);
    phase.lifecycle_ms.push_back(MillisSince(start));
  }
  if (!phase.lifecycle_ms.empty()) {
    const double runs = static_cast<double>(phase.lifecycle_ms.size());
    phase.ocid_cpu_ms = (ProcCpuMillis(ocid->pid()) - ocid_cpu_start) / runs;
    phase.client_cpu_ms = (SelfCpuMillis() - client_cpu_start) / runs;
  }
  stop = true;
  for (auto& context : contexts) context->TryCancel();
  for (std::thread& reader : readers) reader.join();
  phase.events_read = events.load();
  RETURN_IF_ERROR(status);
  if (interrupted) return absl::CancelledError("interrupted");
  return phase;
}

absl::Status RunBench(const Options& options) {
  std::fprintf(stderr, "events_bench: plain phase, %d lifecycles\n", options.iterations);
  ASSIGN_OR_RETURN(Phase plain, RunPhase(options, false));
  std::fprintf(stderr, "events_bench: observed phase, %d subscribers + metrics\n",
               options.subscribers);
  ASSIGN_OR_RETURN(Phase observed, RunPhase(options, true));
  std::printf("\nlifecycle (RunPodSandbox .. RemovePodSandbox), ms\n");
  std::printf("  %-36s %6s %9s %9s %13s %13s\n", "phase", "runs", "p50", "p99",
              "ocid cpu/run", "client cpu/run");
  auto row = [](const std::string& label, const Phase& phase) {
    std::printf("  %-36s %6zu %9.2f %9.2f %13.2f %13.2f\n", label.c_str(),
                phase.lifecycle_ms.size(), Percentile(phase.lifecycle_ms, 50),
                Percentile(phase.lifecycle_ms, 99), phase.ocid_cpu_ms, phase.client_cpu_ms);
  };
  row("no subscribers, metrics off", plain);
  row(absl::StrCat(options.subscribers, " subscribers, metrics ", options.metrics ? "on" : "off"),
      observed);
  std::printf("\nevents read by the subscribers: %llu (%d scrapes of /metrics)\n",
              static_cast<unsigned long long>(observed.events_read), observed.scrapes);
  double base = Percentile(plain.lifecycle_ms, 50);
  double percent = 100 * (Percentile(observed.lifecycle_ms, 50) - base) / base;
  bool met = percent < kTargetPercent;
  std::printf("\ntargets:\n  %-60s %8.2f %%  %s\n",
              "lifecycle p50, observed vs plain: difference < 2%", percent, met ? "met" : "MISSED");
  std::printf("targets: %d met, %d MISSED\n", met ? 1 : 0, met ? 0 : 1);
  return absl::OkStatus();
}

bool ParseFlags(int argc, char** argv, Options* options) {
  return ParseBenchFlags(argc, argv,
                         {{"--registry", TextFlag(&options->registry)},
                          {"--ocid", TextFlag(&options->ocid)},
                          {"--iterations", CountFlag(&options->iterations)},
                          {"--subscribers", CountFlag(&options->subscribers)},
                          {"--metrics", CountFlag(&options->metrics, /*zero_ok=*/true)}});
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: events_bench --registry 127.0.0.1:PORT [--iterations 50] "
                 "[--subscribers 10] [--metrics 1|0]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf("events bench: %s/busybox:latest, runc, private ocids; p99 is nearest-rank\n",
              options.registry.c_str());
  absl::Status status = RunBench(options);
  if (!status.ok()) {
    std::fprintf(stderr, "events_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
