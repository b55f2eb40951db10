#include "pkg/metrics/sampled_metrics.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "pkg/base/child_reaper.h"
#include "pkg/base/fs.h"

namespace ocid {

std::vector<prometheus::MetricFamily> SampledMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  std::map<std::string, size_t> index;
  for (const Sample& sample : read_()) {
    auto [it, added] = index.emplace(sample.name, families.size());
    if (added) families.push_back({sample.name, sample.help, sample.type, {}});
    prometheus::ClientMetric metric;
    for (const auto& [name, value] : sample.labels) metric.label.push_back({name, value});
    if (sample.type == prometheus::MetricType::Counter) {
      metric.counter.value = sample.value;
    } else {
      metric.gauge.value = sample.value;
    }
    families[it->second].metric.push_back(metric);
  }
  return families;
}

namespace {

// "Name:\tvalue unit" lines of /proc/PID/status.
std::map<std::string, std::string> StatusFields(const std::string& path) {
  std::map<std::string, std::string> fields;
  absl::StatusOr<std::string> text = ReadFileToString(path, 1 << 16);
  if (!text.ok()) return fields;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    fields[std::string(kv.first)] = std::string(absl::StripAsciiWhitespace(kv.second));
  }
  return fields;
}

// Open fds of `self` (PROC/PID). Since Linux 6.2 procfs gives the count as
// the size of the fd directory, two syscalls against a listing (a scrape
// read it 10 times a second in events_bench); a fake /proc, or a kernel
// that reports 0 (every process has some fd open), is listed instead. The
// listing saw its own directory fd too; the size does not.
double OpenFds(const std::string& self) {
  const std::string dir = self + "/fd";
  struct statfs fs {};
  struct stat st {};
  if (::statfs(dir.c_str(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC &&
      ::stat(dir.c_str(), &st) == 0 && st.st_size > 0) {
    return static_cast<double>(st.st_size);
  }
  absl::StatusOr<std::vector<std::string>> fds = ListDir(dir);
  return fds.ok() ? static_cast<double>(fds->size()) : 0;
}

// Children of `pid` that exited and are not reaped. For ourselves, one
// waitid that reaps nothing (WNOWAIT) says whether any child of any of our
// threads is a zombie; only then are the threads' children lists read
// (a file per thread: 90 us a scrape with ocid's 19 threads).
int Defunct(const std::string& proc, int pid) {
  if (proc == "/proc" && pid == ::getpid()) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
      return 0;  // no child (ECHILD), or none has exited
    }
  }
  int defunct = 0;
  for (pid_t child : ChildPids(proc, pid)) defunct += IsZombie(child, proc);
  return defunct;
}

}  // namespace

std::vector<Sample> ProcessSamples(const std::string& proc, int pid) {
  if (pid == 0) pid = ::getpid();
  const std::string self = absl::StrCat(proc, "/", pid);
  std::vector<Sample> samples;
  std::map<std::string, std::string> status = StatusFields(self + "/status");
  int64_t rss_kb = 0, threads = 0;
  (void)absl::SimpleAtoi(absl::StripSuffix(status["VmRSS"], " kB"), &rss_kb);
  (void)absl::SimpleAtoi(status["Threads"], &threads);
  samples.push_back({"ocid_process_resident_memory_bytes",
                     "ocid's resident memory",
                     prometheus::MetricType::Gauge,
                     static_cast<double>(rss_kb) * 1024,
                     {}});
  samples.push_back({"ocid_process_threads",
                     "ocid's threads",
                     prometheus::MetricType::Gauge,
                     static_cast<double>(threads),
                     {}});
  samples.push_back({"ocid_process_open_fds",
                     "ocid's open file descriptors",
                     prometheus::MetricType::Gauge,
                     OpenFds(self),
                     {}});
  samples.push_back({"ocid_processes_defunct",
                     "children of ocid that exited and are not reaped",
                     prometheus::MetricType::Gauge,
                     static_cast<double>(Defunct(proc, pid)),
                     {}});
  return samples;
}

}  // namespace ocid
