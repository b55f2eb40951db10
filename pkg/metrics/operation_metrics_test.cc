#include "pkg/metrics/operation_metrics.h"

#include <thread>

#include "gtest/gtest.h"
#include "pkg/metrics/exposition.h"

namespace ocid {
namespace {

std::string Text(const prometheus::Collectable& metrics) {
  return Expose(ExpositionFormat::kPrometheusText, metrics.Collect());
}

TEST(OperationMetricsTest, CountsTimesAndErrorsPerOperation) {
  OperationMetrics metrics({"Version", "RunPodSandbox"});
  metrics.Record("Version", absl::StatusCode::kOk, absl::Microseconds(300));
  metrics.Record("Version", absl::StatusCode::kOk, absl::Milliseconds(3));
  metrics.Record("RunPodSandbox", absl::StatusCode::kInvalidArgument, absl::Seconds(5));
  metrics.Record("NoSuchCall", absl::StatusCode::kOk, absl::Milliseconds(1));
  std::string text = Text(metrics);
  EXPECT_NE(text.find("ocid_operations_total{operation=\"Version\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("ocid_operations_total{operation=\"other\"} 1"), std::string::npos);
  EXPECT_NE(text.find("ocid_operations_errors_total{code=\"INVALID_ARGUMENT\","
                      "operation=\"RunPodSandbox\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("ocid_operations_errors_total{code=\"OK\""), std::string::npos);
  // 0.3 ms is in the 0.5 ms bucket and every later one; 3 ms from 5 ms on.
  EXPECT_NE(
      text.find("ocid_operations_latency_seconds_bucket{operation=\"Version\",le=\"0.0005\"} 1"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("ocid_operations_latency_seconds_bucket{operation=\"Version\",le=\"0.005\"} 2"),
      std::string::npos);
  EXPECT_NE(text.find("ocid_operations_latency_seconds_bucket{operation=\"RunPodSandbox\","
                      "le=\"+Inf\"} 1"),
            std::string::npos)
      << "5 s is past the last bound";
  EXPECT_NE(text.find("ocid_operations_latency_seconds_sum{operation=\"Version\"} 0.0033"),
            std::string::npos)
      << text;
}

TEST(OperationMetricsTest, ConcurrentRecordsAreAllCounted) {
  OperationMetrics metrics({"ListContainers"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        metrics.Record("ListContainers", absl::StatusCode::kOk, absl::Microseconds(1));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_NE(Text(metrics).find("ocid_operations_total{operation=\"ListContainers\"} 40000"),
            std::string::npos);
}

}  // namespace
}  // namespace ocid
