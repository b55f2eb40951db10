// What the benchmarks share: percentiles, /proc readings, and a scratch dir
// that takes its mounts with it.
#ifndef OCID_BENCH_BENCH_SUPPORT_H_
#define OCID_BENCH_BENCH_SUPPORT_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/base/subprocess.h"

namespace ocid {

double MillisSince(absl::Time start);

// Where one "--name value" flag of a bench goes: text as given, or a count
// (> 0, or >= 0 with `zero_ok`).
struct BenchFlag {
  std::string* text = nullptr;
  int* count = nullptr;
  bool zero_ok = false;
};
inline BenchFlag TextFlag(std::string* out) { return BenchFlag{out, nullptr, false}; }
inline BenchFlag CountFlag(int* out, bool zero_ok = false) {
  return BenchFlag{nullptr, out, zero_ok};
}

// Parses argv[1..] as "--name value" pairs into `flags`. False on an unknown
// name, a missing value or a bad count, and when a --registry flag is there
// but its value is not a registry on 127.0.0.1 (benches pull from loopback).
bool ParseBenchFlags(int argc, char** argv, const std::map<std::string, BenchFlag>& flags);

// Nearest-rank percentile, p in (0, 100]; NaN for no values.
double Percentile(std::vector<double> values, double p);

// A "Name:" field of /proc/PID/status in kB (VmRSS, VmHWM, RssAnon, ...);
// -1 when absent.
long ProcStatusKb(pid_t pid, const std::string& field);

// A "Name:" field of /proc/PID/smaps_rollup in kB (Rss, Pss, Anonymous,
// ...); -1 when absent. Rss here is summed over the mappings, exact where
// VmRSS may lag by the kernel's per-CPU counter batching.
long SmapsRollupKb(pid_t pid, const std::string& field);

// Machine-readable results: a bench prints "result: KEY VALUE" lines on
// stdout beside its report (KEY without spaces, e.g. "startup.idle_rss_kb"),
// and bench/lean_bench.sh collects them into one table.
void PrintResult(const std::string& key, double value);
// Every "result: KEY VALUE" line of `text` (other lines are skipped, and so
// is a result line whose value is not a number); a later KEY wins.
std::map<std::string, double> ParseResults(const std::string& text);

// The stream benches' copy: writes `bytes` zeros into the connected socket
// `fd` in 256 KiB sends, half-closes it, reads until the peer closes;
// MiB/s of the whole. A peer that sends data back is an error.
absl::StatusOr<double> PushThrough(int fd, size_t bytes);

// CPU time (user + system) that process `pid` has used so far, in ms, from
// /proc/PID/stat; -1 when it cannot be read. Children's time is not in it.
double ProcCpuMillis(pid_t pid);

// Starts the ocid at `binary` on private state under `dir` (socket
// dir/ocid.sock, no config files, log dir/ocid.log) with `extra` flags, and
// waits (up to 10 s) for its socket.
absl::StatusOr<Subprocess> StartPrivateOcid(const std::string& binary, const std::string& dir,
                                              const std::vector<std::string>& extra);

// StartPrivateOcid with `registry` (plain HTTP) in its registries.conf and
// a loopback-only CNI network in dir/net.d: pods without host-wide setup (a
// bridge would need it), as in e2e/pod_lifecycle.bats.
absl::StatusOr<Subprocess> StartLoopbackOcid(const std::string& binary, const std::string& dir,
                                             const std::string& registry,
                                             const std::vector<std::string>& extra = {});

// StartPrivateOcid with `registry` (plain HTTP) in its registries.conf and
// `conflist` as the one CNI network in dir/net.d.
absl::StatusOr<Subprocess> StartOcidWithNetwork(const std::string& binary, const std::string& dir,
                                                const std::string& registry,
                                                const std::string& conflist,
                                                const std::vector<std::string>& extra = {});

// The host state a CNI bridge network touches: the bridge itself (refused
// when it exists already, deleted on destruction) and net.ipv4.ip_forward,
// which isGateway turns on (put back on destruction).
class HostBridge {
 public:
  static absl::StatusOr<std::unique_ptr<HostBridge>> Claim(const std::string& bridge);
  ~HostBridge();

 private:
  HostBridge(std::string bridge, std::string ip_forward)
      : bridge_(std::move(bridge)), ip_forward_(std::move(ip_forward)) {}
  std::string bridge_;
  std::string ip_forward_;
};

// A fresh dir /tmp/ocid-bench-<what>.XXXXXX; on destruction every mount
// under it is detached (deepest first) and the tree removed.
class BenchDir {
 public:
  static absl::StatusOr<std::unique_ptr<BenchDir>> Make(const std::string& what);
  ~BenchDir();
  const std::string& path() const { return path_; }

  static void UnmountAllUnder(const std::string& dir);

 private:
  explicit BenchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Kills (by pid) every conmon whose command line names a path under `dir`:
// the ones a crashed ocid or a failed floor iteration left behind.
void KillConmonsUnder(const std::string& dir);

}  // namespace ocid

#endif  // OCID_BENCH_BENCH_SUPPORT_H_
