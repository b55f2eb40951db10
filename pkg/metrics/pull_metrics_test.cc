#include "pkg/metrics/pull_metrics.h"


#include "gtest/gtest.h"
#include "pkg/metrics/exposition.h"

namespace ocid {
namespace {

std::string Text(const prometheus::Collectable& metrics) {
  return Expose(ExpositionFormat::kPrometheusText, metrics.Collect());
}

TEST(PullMetricsTest, AddsBytesAndReusedLayersAndTimesEachPull) {
  PullMetrics metrics;
  std::string text = Text(metrics);
  EXPECT_NE(text.find("ocid_image_pulls_bytes_total 0"), std::string::npos) << text;
  EXPECT_NE(text.find("ocid_image_pulls_duration_seconds_count 0"), std::string::npos) << text;

  metrics.Record(absl::Milliseconds(200), 1000, 0);
  metrics.Record(absl::Seconds(3), 2500, 2);
  metrics.Record(absl::Seconds(400), -5, -1);  // nonsense counts add nothing
  text = Text(metrics);
  EXPECT_NE(text.find("# TYPE ocid_image_pulls_bytes_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find("ocid_image_pulls_bytes_total 3500"), std::string::npos) << text;
  EXPECT_NE(text.find("ocid_image_layer_reuse_total 2"), std::string::npos) << text;
  // 0.2 s is in the 0.25 s bucket and every later one; 3 s from 5 s on;
  // 400 s only in +Inf.
  EXPECT_NE(text.find("ocid_image_pulls_duration_seconds_bucket{le=\"0.1\"} 0"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ocid_image_pulls_duration_seconds_bucket{le=\"0.25\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ocid_image_pulls_duration_seconds_bucket{le=\"5\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ocid_image_pulls_duration_seconds_bucket{le=\"300\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ocid_image_pulls_duration_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ocid_image_pulls_duration_seconds_count 3"), std::string::npos) << text;
  EXPECT_NE(text.find("ocid_image_pulls_duration_seconds_sum 403.2"), std::string::npos) << text;
}

}  // namespace
}  // namespace ocid
