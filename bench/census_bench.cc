// Leak census (issue 15; run it with bench/census_bench.sh, which starts a
// local registry holding busybox, under the e2e lock: other ocids' pods would
// count). One private ocid on a bridge network of its own (ocidcensus0,
// 10.215.0.0/24, no masquerade, no route out) runs --cycles lifecycles
// (RunPodSandbox, CreateContainer, StartContainer, StopContainer,
// RemoveContainer, StopPodSandbox, RemovePodSandbox) from --clients clients
// at once, and counts what the node holds before, after --sample cycles and
// at the end:
//   mounts under ocid's dirs, netns pins (nsfs mounts), veths on the bridge,
//   IPAM leases, pod cgroups (below /sys/fs/cgroup/memory/ocid), processes
//   in them, conmons, ocid's fds, threads and zombie children, entries
//   under root and runroot, and ocid's RSS.
// Targets: nothing leaked at the end (each count back to its value before
// the cycles), and ocid's RSS at the end within 2 MiB of that at --sample.
// Besides the report, "result:" lines for bench/lean_bench.sh.
//
// Everything made here goes on every way out (also on SIGINT): the pods,
// ocid, the bridge, the temp dir.
#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "bench/cri_session.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

namespace fs = std::filesystem;

constexpr char kBridge[] = "ocidcensus0";
constexpr char kSubnet[] = "10.215.0.0/24";
constexpr char kNetwork[] = "ocid-census-bench";
constexpr char kPodCgroups[] = "/sys/fs/cgroup/memory/ocid";
constexpr long kRssGrowthTargetKb = 2048;

struct Options {
  std::string registry;                // 127.0.0.1:PORT
  std::string ocid = "cmd/ocid/ocid";  // runfiles path
  int cycles = 1000;
  int clients = 2;
  int sample = 100;
};

volatile std::sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

std::string Conflist(const std::string& ipam_dir) {
  return absl::StrCat(R"({"cniVersion": "1.0.0", "name": ")", kNetwork, R"(", "plugins": [
  {"type": "bridge", "bridge": ")",
                      kBridge, R"(", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": ")",
                      ipam_dir, R"(", "ranges": [[{"subnet": ")", kSubnet, R"("}]]}},
  {"type": "loopback"}]}
)");
}

// What is counted, in the order printed.
const std::vector<std::string> kItems = {
    "mounts under ocid's dirs", "netns pins (nsfs mounts)", "veths on the bridge",
    "IPAM leases",              "pod cgroups",              "processes in pod cgroups",
    "conmon processes",         "ocid fds",                 "ocid threads",
    "ocid zombie children",     "entries under root+runroot", "ocid RSS (kB)"};

// The key of each item in the "result:" lines (census.leaked.KEY).
std::string ResultKey(const std::string& item) {
  static const auto* keys =
      new std::map<std::string, std::string>{{"mounts under ocid's dirs", "mounts"},
                                             {"netns pins (nsfs mounts)", "netns_pins"},
                                             {"veths on the bridge", "veths"},
                                             {"IPAM leases", "ipam_leases"},
                                             {"pod cgroups", "cgroups"},
                                             {"processes in pod cgroups", "cgroup_processes"},
                                             {"conmon processes", "conmons"},
                                             {"ocid fds", "fds"},
                                             {"ocid threads", "threads"},
                                             {"ocid zombie children", "zombies"},
                                             {"entries under root+runroot", "state_entries"},
                                             {"ocid RSS (kB)", "rss_kb"}};
  return keys->at(item);
}

struct Census {
  std::map<std::string, long> counts;
  std::set<std::string> entries;  // under root and runroot, to name what leaked
  long& operator[](const std::string& item) { return counts[item]; }
  long at(const std::string& item) const { return counts.at(item); }
};

long CountDirEntries(const std::string& dir, bool (*keep)(const std::string& name)) {
  long n = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (keep == nullptr || keep(entry.path().filename().string())) ++n;
  }
  return n;
}

// Every path below `dir`, into `entries`.
void ListTree(const std::string& dir, std::set<std::string>* entries) {
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied,
                                                  error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    entries->insert(it->path().string());
  }
}

// Cgroup dirs below `root` (not counting it) and the processes in them.
void CountCgroups(const std::string& root, long* cgroups, long* processes) {
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(root, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_directory(error)) continue;
    ++*cgroups;
    std::ifstream procs(it->path() / "cgroup.procs");
    std::string line;
    while (std::getline(procs, line)) {
      if (!line.empty()) ++*processes;
    }
  }
}

Census Take(const OcidSession& ocid, const std::string& ipam_dir) {
  Census c;
  for (const std::string& item : kItems) c[item] = 0;
  const std::string& dir = ocid.dir();
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 5) continue;
    if (absl::StartsWith(fields[4], dir + "/")) ++c["mounts under ocid's dirs"];
    if (absl::StrContains(line, " - nsfs ")) ++c["netns pins (nsfs mounts)"];
  }
  c["veths on the bridge"] = CountDirEntries(absl::StrCat("/sys/class/net/", kBridge, "/brif"),
                                             nullptr);
  c["IPAM leases"] = CountDirEntries(absl::StrCat(ipam_dir, "/", kNetwork), [](const std::string& n) {
    return n != "lock" && !absl::StartsWith(n, "last_reserved_ip");
  });
  long cgroups = 0, processes = 0;
  CountCgroups(kPodCgroups, &cgroups, &processes);
  c["pod cgroups"] = cgroups;
  c["processes in pod cgroups"] = processes;
  // conmons name our dirs on their command lines; zombies are ocid's
  // children in state Z.
  long conmons = 0, zombies = 0;
  const std::string ppid_field = absl::StrCat(ocid.pid(), " ");
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (absl::StrContains(args, "conmon") && absl::StrContains(args, dir + "/")) ++conmons;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    size_t paren = text.rfind(')');
    if (paren == std::string::npos || paren + 4 > text.size()) continue;
    // "PID (COMM) STATE PPID ..."
    char state = text[paren + 2];
    if (state == 'Z' && absl::StartsWith(text.substr(paren + 4), ppid_field)) ++zombies;
  }
  c["conmon processes"] = conmons;
  c["ocid zombie children"] = zombies;
  c["ocid fds"] = CountDirEntries(absl::StrCat("/proc/", ocid.pid(), "/fd"), nullptr);
  c["ocid threads"] = ProcStatusKb(ocid.pid(), "Threads");  // a count, not kB
  ListTree(dir + "/root", &c.entries);
  ListTree(dir + "/run", &c.entries);
  c["entries under root+runroot"] = static_cast<long>(c.entries.size());
  c["ocid RSS (kB)"] = ProcStatusKb(ocid.pid(), "VmRSS");
  return c;
}

// Waits (up to 10 s) for the node to settle after the last cycle: conmons
// exiting, cgroups going.
Census Settled(const OcidSession& ocid, const std::string& ipam_dir, const Census& baseline) {
  Census now = Take(ocid, ipam_dir);
  for (int i = 0; i < 100; ++i) {
    bool settled = true;
    for (const std::string& item : kItems) {
      if (item == "ocid RSS (kB)") continue;
      if (now[item] > baseline.at(item)) settled = false;
    }
    if (settled) break;
    absl::SleepFor(absl::Milliseconds(100));
    now = Take(ocid, ipam_dir);
  }
  return now;
}

struct Result {
  Census baseline, sampled, final_census;
  int cycles_done = 0;
  int failures = 0;
  double seconds = 0;
};

absl::Status RunBench(const Options& options, Result* result) {
  ASSIGN_OR_RETURN(std::unique_ptr<HostBridge> bridge, HostBridge::Claim(kBridge));
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("census"));
  OcidCgroupParent cgroup_parent;  // destroyed after ocid, before the dir
  const std::string ipam_dir = dir->path() + "/ipam";
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid,
                   OcidSession::StartWithNetwork(options.ocid, dir->path(), options.registry,
                                                 Conflist(ipam_dir)));
  const std::string image = options.registry + "/busybox:latest";
  RETURN_IF_ERROR(ocid->Pull(image));
  {
    // One cycle first, so that what the first pod makes once (the cgroup
    // parent, the bridge, IPAM's files, gRPC's threads) is in the baseline.
    auto stub = ocid->NewRuntimeStub();
    RETURN_IF_ERROR(ocid->Lifecycle(*stub, "census-warmup", image));
  }
  result->baseline = Settled(*ocid, ipam_dir, Take(*ocid, ipam_dir));

  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  absl::Mutex mu;
  bool sampled = false;
  absl::Time start = absl::Now();
  std::vector<std::thread> clients;
  for (int c = 0; c < options.clients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = ocid->NewRuntimeStub();
      for (int i = next++; i < options.cycles && !interrupted; i = next++) {
        absl::Status status = ocid->Lifecycle(*stub, absl::StrCat("census-", c, "-", i), image);
        if (!status.ok()) {
          ++failures;
          std::fprintf(stderr, "census_bench: cycle %d: %s\n", i, status.ToString().c_str());
        }
        int finished = ++done;
        if (finished % 100 == 0) std::fprintf(stderr, "census_bench: %d cycles\n", finished);
        if (finished == options.sample) {
          absl::MutexLock lock(&mu);
          if (!sampled) result->sampled = Take(*ocid, ipam_dir);
          sampled = true;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  result->seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result->cycles_done = done;
  result->failures = failures;
  if (!sampled) result->sampled = Take(*ocid, ipam_dir);
  result->final_census = Settled(*ocid, ipam_dir, result->baseline);
  if (interrupted) return absl::CancelledError("interrupted");
  return absl::OkStatus();
}

int Report(const Options& options, const Result& r) {
  std::printf("\nleak census: %d lifecycles from %d clients in %.1f s (%.1f per s), %d failed\n",
              r.cycles_done, options.clients, r.seconds, r.cycles_done / r.seconds, r.failures);
  std::printf("  %-30s %10s %12s %10s %8s\n", "", "before",
              absl::StrCat("at ", options.sample).c_str(), "at end", "leaked");
  int leaks = 0;
  for (const std::string& item : kItems) {
    long before = r.baseline.at(item), at_sample = r.sampled.at(item),
         at_end = r.final_census.at(item);
    bool rss = item == "ocid RSS (kB)";
    long leaked = rss ? 0 : std::max(0L, at_end - before);
    if (leaked > 0) ++leaks;
    if (!rss) PrintResult("census.leaked." + ResultKey(item), static_cast<double>(leaked));
    std::printf("  %-30s %10ld %12ld %10ld %8s\n", item.c_str(), before, at_sample, at_end,
                rss ? "" : absl::StrCat(leaked).c_str());
  }
  int named = 0;
  for (const std::string& entry : r.final_census.entries) {
    if (r.baseline.entries.count(entry) > 0) continue;
    if (named++ == 0) std::printf("\nleft under root and runroot (the first 10):\n");
    if (named <= 10) std::printf("  %s\n", entry.c_str());
  }
  long growth = r.final_census.at("ocid RSS (kB)") - r.sampled.at("ocid RSS (kB)");
  PrintResult("census.cycles", r.cycles_done);
  PrintResult("census.failures", r.failures);
  PrintResult("census.sample", options.sample);
  PrintResult("census.rss_kb.sample", static_cast<double>(r.sampled.at("ocid RSS (kB)")));
  PrintResult("census.rss_kb.end", static_cast<double>(r.final_census.at("ocid RSS (kB)")));
  bool none_leaked = leaks == 0 && r.failures == 0;
  bool rss_met = growth <= kRssGrowthTargetKb;
  std::printf("\ntargets:\n");
  std::printf("  %-60s %8d    %s\n", "items leaked (and failed cycles): 0", leaks + r.failures,
              none_leaked ? "met" : "MISSED");
  std::printf("  %-60s %8ld kB %s\n",
              absl::StrCat("ocid RSS at end - at cycle ", options.sample, ": <= 2048 kB").c_str(),
              growth, rss_met ? "met" : "MISSED");
  int met = none_leaked + rss_met;
  std::printf("targets: %d met, %d MISSED\n", met, 2 - met);
  return met == 2 ? 0 : 1;
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseBenchFlags(argc, argv,
                       {{"--registry", TextFlag(&options.registry)},
                        {"--ocid", TextFlag(&options.ocid)},
                        {"--cycles", CountFlag(&options.cycles)},
                        {"--clients", CountFlag(&options.clients)},
                        {"--sample", CountFlag(&options.sample)}}) ||
      options.registry.empty() || options.sample > options.cycles) {
    std::fprintf(stderr,
                 "usage: census_bench --registry 127.0.0.1:PORT [--cycles 1000] [--clients 2] "
                 "[--sample 100 (<= cycles)] [--ocid PATH]\n");
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  Result result;
  absl::Status status = RunBench(options, &result);
  if (!status.ok()) {
    std::fprintf(stderr, "census_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return Report(options, result);
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
