// Metrics read when scraped rather than counted as they happen: gauges of
// ocid's state (pods ready, containers running), counters kept elsewhere,
// and ocid's own process (RSS, open fds, threads, defunct children).
#ifndef OCID_PKG_METRICS_SAMPLED_METRICS_H_
#define OCID_PKG_METRICS_SAMPLED_METRICS_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"

namespace ocid {

struct Sample {
  std::string name;
  std::string help;
  prometheus::MetricType type = prometheus::MetricType::Gauge;
  double value = 0;
  std::vector<std::pair<std::string, std::string>> labels;
};

// Calls `read` at each scrape; samples of one name form one family.
class SampledMetrics : public prometheus::Collectable {
 public:
  explicit SampledMetrics(std::function<std::vector<Sample>()> read) : read_(std::move(read)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<std::vector<Sample>()> read_;
};

// ocid_process_resident_memory_bytes, ocid_process_open_fds,
// ocid_process_threads and ocid_processes_defunct (children of ocid that
// exited and are not reaped yet), read from `proc` (/proc) for `pid`.
std::vector<Sample> ProcessSamples(const std::string& proc = "/proc", int pid = 0);

}  // namespace ocid

#endif  // OCID_PKG_METRICS_SAMPLED_METRICS_H_
