#include "pkg/metrics/sampled_metrics.h"

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
  absl::StatusOr<std::vector<std::string>> fds = ListDir(self + "/fd");
  samples.push_back({"ocid_process_open_fds",
                     "ocid's open file descriptors",
                     prometheus::MetricType::Gauge,
                     fds.ok() ? double(fds->size()) : 0,
                     {}});
  // Children that exited and wait to be reaped.
  int defunct = 0;
  for (pid_t child : ChildPids(proc, pid)) defunct += IsZombie(child, proc);
  samples.push_back({"ocid_processes_defunct",
                     "children of ocid that exited and are not reaped",
                     prometheus::MetricType::Gauge,
                     static_cast<double>(defunct),
                     {}});
  return samples;
}

}  // namespace ocid
