#include "pkg/metrics/pull_metrics.h"

#include <algorithm>
#include <limits>

namespace ocid {

void PullMetrics::Record(absl::Duration duration, int64_t bytes_fetched, int layers_reused) {
  bytes_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(bytes_fetched, 0)),
                   std::memory_order_relaxed);
  reused_.fetch_add(static_cast<uint64_t>(std::max(layers_reused, 0)), std::memory_order_relaxed);
  const double seconds = absl::ToDoubleSeconds(duration);
  size_t bucket = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(absl::ToInt64Nanoseconds(duration), 0)),
                    std::memory_order_relaxed);
}

std::vector<prometheus::MetricFamily> PullMetrics::Collect() const {
  prometheus::MetricFamily bytes{"ocid_image_pulls_bytes_total",
                                 "bytes of image blobs fetched from registries",
                                 prometheus::MetricType::Counter,
                                 {}};
  prometheus::ClientMetric bytes_metric;
  bytes_metric.counter.value = static_cast<double>(bytes_.load(std::memory_order_relaxed));
  bytes.metric.push_back(bytes_metric);

  prometheus::MetricFamily reused{"ocid_image_layer_reuse_total",
                                  "layers a pull found in the store instead of fetching them",
                                  prometheus::MetricType::Counter,
                                  {}};
  prometheus::ClientMetric reused_metric;
  reused_metric.counter.value = static_cast<double>(reused_.load(std::memory_order_relaxed));
  reused.metric.push_back(reused_metric);

  prometheus::MetricFamily duration{"ocid_image_pulls_duration_seconds",
                                    "time image pulls that succeeded took",
                                    prometheus::MetricType::Histogram,
                                    {}};
  prometheus::ClientMetric histogram;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    histogram.histogram.bucket.push_back({cumulative, kBuckets[i]});
  }
  cumulative += buckets_[kBuckets.size()].load(std::memory_order_relaxed);
  histogram.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  histogram.histogram.sample_count = cumulative;
  histogram.histogram.sample_sum =
      static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  duration.metric.push_back(histogram);
  return {bytes, reused, duration};
}

}  // namespace ocid
