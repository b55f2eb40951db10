// Counts and times the CRI calls: ocid_operations_total{operation},
// ocid_operations_errors_total{operation,code} and the
// ocid_operations_latency_seconds{operation} histogram. Recording is a few
// relaxed atomic adds on a slot found in a map that never changes after
// construction: no lock on the call path. Exposed through prometheus-cpp's
// Collectable, read when scraped.
#ifndef OCID_PKG_METRICS_OPERATION_METRICS_H_
#define OCID_PKG_METRICS_OPERATION_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace ocid {

class OperationMetrics : public prometheus::Collectable {
 public:
  // Upper bounds, in seconds, of the latency buckets (+Inf is implied).
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};

  // `operations`: every call name Record will be given (others are counted
  // under "other").
  explicit OperationMetrics(const std::vector<std::string>& operations);

  void Record(absl::string_view operation, absl::StatusCode code, absl::Duration latency);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  static constexpr int kCodes = 17;  // absl::StatusCode 0..16
  struct Slot {
    std::atomic<uint64_t> calls{0};
    std::array<std::atomic<uint64_t>, kCodes> errors{};
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};  // last: +Inf
    std::atomic<uint64_t> sum_ns{0};
  };

  std::map<std::string, std::unique_ptr<Slot>, std::less<>> slots_;  // fixed after construction
};

}  // namespace ocid

#endif  // OCID_PKG_METRICS_OPERATION_METRICS_H_
