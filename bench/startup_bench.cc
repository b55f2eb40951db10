// Startup benchmark: time from exec of ocid to the first Version answered
// over its socket (median of --runs), and ocid's idle RSS. The floor, measured
// in the same run, is exec + exit of /bin/true. Idle RSS is smaps_rollup's
// Rss 1 s after the last run's Version (VmRSS printed beside it). Besides
// the report, "result:" lines for bench/lean_bench.sh.
//
//   bazel run -c opt //bench:startup_bench [-- --runs 20 --ocid PATH]
#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "bench/bench_support.h"
#include "pkg/base/subprocess.h"

namespace ocid {
namespace {

struct Options {
  std::string ocid = "cmd/ocid/ocid";  // runfiles path under bazel run
  int runs = 20;
};

struct StartupSample {
  double millis;
  long rss_kb = -1, anon_kb = -1, file_kb = -1, vm_rss_kb = -1;
};

// Set by SIGINT/SIGTERM: the runs stop, and the run going ends with its
// ocid stopped and its dir removed (a handler can only reach a global).
volatile std::sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

// One ocid start on private dirs: exec -> socket -> Version answered.
absl::StatusOr<StartupSample> MeasureOnce(const Options& options, bool measure_rss) {
  char pattern[] = "/tmp/ocid-bench.XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  std::string dir = pattern;
  std::string socket = dir + "/ocid.sock";
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};

  absl::Time start = absl::Now();
  auto ocid = Subprocess::SpawnLogged(
      {std::filesystem::absolute(options.ocid).string(), "--config", dir + "/none.conf",
       "--config-dir", dir + "/none.d", "--listen", socket, "--root", dir + "/root",
       "--runroot", dir + "/run", "--cni-config-dir", dir + "/net.d"},
      dir + "/ocid.log");
  if (!ocid.ok()) return ocid.status();

  struct stat st;
  while (::stat(socket.c_str(), &st) != 0) {
    if (absl::Now() - start > absl::Seconds(10)) return absl::DeadlineExceededError("no socket");
    if (!ocid->Running()) return absl::InternalError("ocid exited; see its log");
    ::usleep(100);
  }
  auto stub = runtime::v1::RuntimeService::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  runtime::v1::VersionResponse response;
  grpc::Status status = stub->Version(&context, runtime::v1::VersionRequest(), &response);
  if (!status.ok()) return absl::InternalError("Version: " + status.error_message());
  StartupSample sample{absl::ToDoubleMilliseconds(absl::Now() - start)};

  if (measure_rss) {
    ::sleep(1);  // idle
    sample.rss_kb = SmapsRollupKb(ocid->pid(), "Rss");
    sample.vm_rss_kb = ProcStatusKb(ocid->pid(), "VmRSS");
    sample.anon_kb = ProcStatusKb(ocid->pid(), "RssAnon");
    sample.file_kb = ProcStatusKb(ocid->pid(), "RssFile");
  }
  (void)ocid->Signal(SIGTERM);
  (void)ocid->Wait();
  return sample;
}

double ExecFloorMillis() {
  absl::Time start = absl::Now();
  auto child = Subprocess::SpawnLogged({"/bin/true"});
  if (child.ok()) (void)child->Wait();
  return absl::ToDoubleMilliseconds(absl::Now() - start);
}

int Run(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--ocid") {
      options.ocid = argv[i + 1];
    } else if (flag == "--runs" && absl::SimpleAtoi(argv[i + 1], &options.runs) &&
               options.runs > 0) {
    } else {
      std::fprintf(stderr, "usage: startup_bench [--runs N] [--ocid PATH]\n");
      return 2;
    }
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::vector<double> startup, floor;
  StartupSample last{};
  for (int i = 0; i < options.runs; ++i) {
    if (interrupted) {
      std::fprintf(stderr, "startup_bench: interrupted\n");
      return 1;
    }
    auto sample = MeasureOnce(options, i == options.runs - 1);
    if (!sample.ok()) {
      std::fprintf(stderr, "run %d: %s\n", i, sample.status().ToString().c_str());
      return 1;
    }
    startup.push_back(sample->millis);
    last = *sample;
    floor.push_back(ExecFloorMillis());
  }
  double median = Percentile(startup, 50), floor_median = Percentile(floor, 50);
  double p90 = Percentile(startup, 90);
  double max = *std::max_element(startup.begin(), startup.end());
  // A start far above the median is the symptom to watch (a client that
  // missed the socket and sat out gRPC's reconnect backoff): count them.
  long slow = std::count_if(startup.begin(), startup.end(), [](double ms) { return ms > 100; });
  std::printf(
      "startup to first Version: median %.2f ms, p90 %.2f, min %.2f, max %.2f; %ld of %d runs "
      "> 100 ms\n",
      median, p90, *std::min_element(startup.begin(), startup.end()), max, slow, options.runs);
  std::printf("floor (exec /bin/true):   median %.2f ms; ocid/floor ratio %.1fx\n",
              floor_median, median / floor_median);
  std::printf(
      "idle RSS (smaps_rollup Rss): %ld kB (VmRSS %ld kB: anon %ld kB, file-backed %ld "
      "kB)\n",
      last.rss_kb, last.vm_rss_kb, last.anon_kb, last.file_kb);
  // Issue 15's targets: start-up under 25 ms, idle RSS at most 8 MB.
  std::printf("targets: startup < 25 ms: %s; idle RSS <= 8192 kB: %s\n",
              median < 25 ? "met" : "MISSED", last.rss_kb <= 8192 ? "met" : "MISSED");
  PrintResult("startup.runs", options.runs);
  PrintResult("startup.first_version_ms_p50", median);
  PrintResult("startup.first_version_ms_p90", p90);
  PrintResult("startup.first_version_ms_max", max);
  PrintResult("startup.runs_over_100ms", static_cast<double>(slow));
  PrintResult("startup.floor_ms_p50", floor_median);
  PrintResult("startup.idle_rss_kb", static_cast<double>(last.rss_kb));
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
