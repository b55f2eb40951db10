// Image pull metrics: ocid_image_pulls_bytes_total (bytes fetched from
// registries), ocid_image_layer_reuse_total (layers a pull found stored and
// did not fetch) and the ocid_image_pulls_duration_seconds histogram of
// pulls that succeeded. Recording is relaxed atomic adds; read when scraped.
#ifndef OCID_PKG_METRICS_PULL_METRICS_H_
#define OCID_PKG_METRICS_PULL_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace ocid {

class PullMetrics : public prometheus::Collectable {
 public:
  // Upper bounds, in seconds, of the duration buckets (+Inf is implied).
  static constexpr std::array<double, 10> kBuckets = {0.1, 0.25, 0.5, 1,  2.5,
                                                      5,   10,   30,  60, 300};

  void Record(absl::Duration duration, int64_t bytes_fetched, int layers_reused);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> reused_{0};
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace ocid

#endif  // OCID_PKG_METRICS_PULL_METRICS_H_
