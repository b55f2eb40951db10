// What a list of many containers costs ocid in memory (issue 14; run it
// with bench/list_memory_bench.sh, which starts a local registry holding
// busybox). One private ocid gets --pods pods of --containers busybox
// containers each (created, not started: 1000 by default), then alternates
// --calls times, per call:
//   Version           the floor: a call that builds nothing;
//   ListContainers    one response with every container;
//   StreamContainers  the same items in batches of 100.
// Before each call ocid's peak RSS is reset (5 into /proc/PID/clear_refs,
// which sets VmHWM to the current RSS); after it, VmHWM less the RSS before
// is the memory the call took at its peak. So that a call's memory shows
// each time, not only when the heap first grows, ocid runs with glibc's
// malloc returning freed memory at once (GLIBC_TUNABLES trim_threshold=0,
// top_pad=0; --trim 0 leaves malloc as it is). Reports, per call kind, the
// first call's peak (one of each kind runs before the rounds), the median
// and largest peak of the rounds, the p50 time, and what the client
// received.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "bench/cri_session.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;
using S = cri::RuntimeService::Stub;

volatile std::sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

struct Options {
  std::string registry;
  std::string ocid = "cmd/ocid/ocid";
  int pods = 10;
  int containers = 100;  // per pod
  int calls = 20;        // per call kind
  int trim = 1;          // ocid's malloc gives freed memory back at once
};

// `pods` pods of `per_pod` created (not started) busybox containers each.
absl::Status MakeContainers(OcidSession& ocid, S& stub, const Options& options,
                            const std::string& image) {
  cri::ContainerConfig container = SleepConfig(image);
  for (int p = 0; p < options.pods; ++p) {
    cri::RunPodSandboxRequest run;
    *run.mutable_config() = PodConfig(absl::StrCat("list-", p), ocid.dir() + "/podlogs");
    cri::RunPodSandboxResponse ran;
    RETURN_IF_ERROR(Call(stub, &S::RunPodSandbox, "RunPodSandbox", run, &ran));
    for (int c = 0; c < options.containers; ++c) {
      if (interrupted) return absl::CancelledError("interrupted");
      container.mutable_metadata()->set_name(absl::StrCat("c", c));
      container.set_log_path(absl::StrCat("c", c, ".log"));
      cri::CreateContainerRequest create;
      create.set_pod_sandbox_id(ran.pod_sandbox_id());
      *create.mutable_config() = container;
      *create.mutable_sandbox_config() = run.config();
      cri::CreateContainerResponse created;
      RETURN_IF_ERROR(Call(stub, &S::CreateContainer, "CreateContainer", create, &created));
    }
    std::fprintf(stderr, "list_memory_bench: %d of %d pods made\n", p + 1, options.pods);
  }
  return absl::OkStatus();
}

absl::Status ResetPeak(pid_t pid) {
  std::ofstream clear(absl::StrCat("/proc/", pid, "/clear_refs"));
  clear << "5";
  clear.flush();
  if (!clear) return absl::InternalError(absl::StrCat("cannot write /proc/", pid, "/clear_refs"));
  return absl::OkStatus();
}

struct Sample {
  long peak_kb = 0;  // VmHWM after the call less VmRSS before it
  double millis = 0;
  int items = 0;
  size_t bytes = 0;  // serialized size of what the client received
  int messages = 0;
};

enum class Kind { kVersion, kList, kStream };

absl::StatusOr<Sample> OneCall(S& stub, pid_t pid, Kind kind) {
  Sample sample;
  RETURN_IF_ERROR(ResetPeak(pid));
  long before_kb = ProcStatusKb(pid, "VmRSS");
  absl::Time start = absl::Now();
  if (kind == Kind::kVersion) {
    cri::VersionResponse version;
    RETURN_IF_ERROR(Call(stub, &S::Version, "Version", cri::VersionRequest(), &version));
    sample.bytes = version.ByteSizeLong();
    sample.messages = 1;
  } else if (kind == Kind::kList) {
    cri::ListContainersResponse list;
    RETURN_IF_ERROR(
        Call(stub, &S::ListContainers, "ListContainers", cri::ListContainersRequest(), &list));
    sample.items = list.containers_size();
    sample.bytes = list.ByteSizeLong();
    sample.messages = 1;
  } else {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kRpcTimeout));
    auto reader = stub.StreamContainers(&context, cri::StreamContainersRequest());
    cri::StreamContainersResponse batch;
    while (reader->Read(&batch)) {
      sample.items += batch.containers_size();
      sample.bytes += batch.ByteSizeLong();
      ++sample.messages;
    }
    RETURN_IF_ERROR(ToAbsl("StreamContainers", reader->Finish()));
  }
  sample.millis = MillisSince(start);
  sample.peak_kb = ProcStatusKb(pid, "VmHWM") - before_kb;
  return sample;
}

void Row(const char* name, const Sample& first, const std::vector<Sample>& samples) {
  std::vector<double> peaks, millis;
  double largest = 0;
  for (const Sample& s : samples) {
    peaks.push_back(static_cast<double>(s.peak_kb));
    millis.push_back(s.millis);
    largest = std::max(largest, static_cast<double>(s.peak_kb));
  }
  const Sample& last = samples.back();
  std::printf("  %-18s %6zu %10ld %10.0f %10.0f %8.2f %7d %9zu %8d\n", name, samples.size(),
              first.peak_kb, Percentile(peaks, 50), largest, Percentile(millis, 50), last.items,
              last.bytes, last.messages);
}

absl::Status RunBench(const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("listmem"));
  OcidCgroupParent cgroup_parent;  // destroyed after ocid, before the dir
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid,
                   OcidSession::Start(options.ocid, dir->path(), options.registry));
  const std::string image = options.registry + "/busybox:latest";
  RETURN_IF_ERROR(ocid->Pull(image));
  auto stub = ocid->NewRuntimeStub();
  absl::Time start = absl::Now();
  RETURN_IF_ERROR(MakeContainers(*ocid, *stub, options, image));
  double setup_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const int total = options.pods * options.containers;
  long rss_kb = ProcStatusKb(ocid->pid(), "VmRSS");

  std::vector<Sample> version, list, stream;
  // The first call of each kind, before the rounds: it also grows the heap
  // where later calls reuse it.
  std::vector<Sample> first;
  for (Kind kind : {Kind::kVersion, Kind::kList, Kind::kStream}) {
    ASSIGN_OR_RETURN(Sample sample, OneCall(*stub, ocid->pid(), kind));
    first.push_back(sample);
  }
  for (int i = 0; i < options.calls && !interrupted; ++i) {
    // The order of the two list calls flips every round.
    Kind first = i % 2 == 0 ? Kind::kList : Kind::kStream;
    Kind second = i % 2 == 0 ? Kind::kStream : Kind::kList;
    for (Kind kind : {Kind::kVersion, first, second}) {
      ASSIGN_OR_RETURN(Sample sample, OneCall(*stub, ocid->pid(), kind));
      if (kind != Kind::kVersion && sample.items != total) {
        return absl::InternalError(
            absl::StrCat("a list call returned ", sample.items, " of ", total, " containers"));
      }
      (kind == Kind::kVersion ? version : kind == Kind::kList ? list : stream).push_back(sample);
    }
  }
  if (interrupted) return absl::CancelledError("interrupted");

  std::printf("\n%d containers (created) in %d pods, made in %.1f s; ocid VmRSS %ld kB%s\n", total,
              options.pods, setup_seconds, rss_kb, options.trim ? "; malloc trims at once" : "");
  std::printf("ocid's peak memory during one call (VmHWM after less VmRSS before), kB\n");
  std::printf("  %-18s %6s %10s %10s %10s %8s %7s %9s %8s\n", "call", "rounds", "first", "peak p50",
              "peak max", "p50 ms", "items", "bytes", "messages");
  Row("Version (floor)", first[0], version);
  Row("ListContainers", first[1], list);
  Row("StreamContainers", first[2], stream);
  double list_p50 = 0, stream_p50 = 0;
  {
    std::vector<double> a, b;
    for (const Sample& s : list) a.push_back(static_cast<double>(s.peak_kb));
    for (const Sample& s : stream) b.push_back(static_cast<double>(s.peak_kb));
    list_p50 = Percentile(a, 50);
    stream_p50 = Percentile(b, 50);
  }
  std::printf("\nStreamContainers peak p50 vs ListContainers: %.0f vs %.0f kB (%+.0f kB)\n",
              stream_p50, list_p50, stream_p50 - list_p50);
  std::fprintf(stderr, "list_memory_bench: removing %d pods\n", options.pods);
  return absl::OkStatus();
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseBenchFlags(argc, argv,
                       {{"--registry", TextFlag(&options.registry)},
                        {"--ocid", TextFlag(&options.ocid)},
                        {"--pods", CountFlag(&options.pods)},
                        {"--containers", CountFlag(&options.containers)},
                        {"--calls", CountFlag(&options.calls)},
                        {"--trim", CountFlag(&options.trim, /*zero_ok=*/true)}}) ||
      options.registry.empty()) {
    std::fprintf(stderr,
                 "usage: list_memory_bench --registry 127.0.0.1:PORT [--pods 10] "
                 "[--containers 100] [--calls 20] [--trim 1|0]\n");
    return 2;
  }
  // ocid inherits it; this process read its own tunables at its start.
  if (options.trim) {
    ::setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0:glibc.malloc.top_pad=0", 1);
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf("list memory bench: %s/busybox:latest, runc, private ocid\n",
              options.registry.c_str());
  absl::Status status = RunBench(options);
  if (!status.ok()) {
    std::fprintf(stderr, "list_memory_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
