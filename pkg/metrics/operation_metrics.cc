#include "pkg/metrics/operation_metrics.h"

#include <utility>

#include "prometheus/metric_type.h"

namespace ocid {

OperationMetrics::OperationMetrics(const std::vector<std::string>& operations) {
  for (const std::string& operation : operations) slots_[operation] = std::make_unique<Slot>();
  slots_["other"] = std::make_unique<Slot>();
}

void OperationMetrics::Record(absl::string_view operation, absl::StatusCode code,
                              absl::Duration latency) {
  auto it = slots_.find(operation);
  if (it == slots_.end()) it = slots_.find("other");
  Slot& slot = *it->second;
  slot.calls.fetch_add(1, std::memory_order_relaxed);
  int index = static_cast<int>(code);
  if (code != absl::StatusCode::kOk && index > 0 && index < kCodes) {
    slot.errors[index].fetch_add(1, std::memory_order_relaxed);
  }
  double seconds = absl::ToDoubleSeconds(latency);
  size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  slot.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  slot.sum_ns.fetch_add(static_cast<uint64_t>(absl::ToInt64Nanoseconds(latency)),
                        std::memory_order_relaxed);
}

std::vector<prometheus::MetricFamily> OperationMetrics::Collect() const {
  prometheus::MetricFamily total{"ocid_operations_total",
                                 "CRI calls served, by operation",
                                 prometheus::MetricType::Counter,
                                 {}};
  prometheus::MetricFamily errors{"ocid_operations_errors_total",
                                  "CRI calls that failed, by operation and gRPC code",
                                  prometheus::MetricType::Counter,
                                  {}};
  prometheus::MetricFamily latency{"ocid_operations_latency_seconds",
                                   "time to serve a CRI call, by operation",
                                   prometheus::MetricType::Histogram,
                                   {}};
  for (const auto& [operation, slot] : slots_) {
    uint64_t calls = slot->calls.load(std::memory_order_relaxed);
    if (calls == 0) continue;  // only what was called, as cri-o shows
    prometheus::ClientMetric count;
    count.label = {{"operation", operation}};
    count.counter.value = static_cast<double>(calls);
    total.metric.push_back(std::move(count));
    for (int code = 1; code < kCodes; ++code) {
      uint64_t failed = slot->errors[code].load(std::memory_order_relaxed);
      if (failed == 0) continue;
      prometheus::ClientMetric error;
      error.label = {{"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))},
                     {"operation", operation}};
      error.counter.value = static_cast<double>(failed);
      errors.metric.push_back(std::move(error));
    }
    prometheus::ClientMetric histogram;
    histogram.label = {{"operation", operation}};
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kBuckets.size(); ++i) {
      cumulative += slot->buckets[i].load(std::memory_order_relaxed);
      double bound = i < kBuckets.size() ? kBuckets[i] : std::numeric_limits<double>::infinity();
      histogram.histogram.bucket.push_back({cumulative, bound});
    }
    histogram.histogram.sample_count = cumulative;
    histogram.histogram.sample_sum =
        static_cast<double>(slot->sum_ns.load(std::memory_order_relaxed)) / 1e9;
    latency.metric.push_back(std::move(histogram));
  }
  // Moved, not copied as an initializer list would.
  std::vector<prometheus::MetricFamily> families;
  families.reserve(3);
  families.push_back(std::move(total));
  families.push_back(std::move(errors));
  families.push_back(std::move(latency));
  return families;
}

}  // namespace ocid
