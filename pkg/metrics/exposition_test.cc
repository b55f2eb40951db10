#include "pkg/metrics/exposition.h"

#include <limits>

#include "gtest/gtest.h"

namespace ocid {
namespace {

// What Prometheus 2.x sends when scraping.
constexpr char kPrometheusAccept[] =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

TEST(NegotiateExpositionTest, OpenMetricsOnlyWhenAskedAndPreferred) {
  EXPECT_EQ(NegotiateExposition(kPrometheusAccept), ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateExposition("application/openmetrics-text"), ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateExposition("Application/OpenMetrics-Text; Version=1.0.0"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateExposition(""), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateExposition("*/*"), ExpositionFormat::kPrometheusText);  // curl's default
  EXPECT_EQ(NegotiateExposition("text/plain;version=0.0.4"), ExpositionFormat::kPrometheusText);
  // A version we do not write, a refusal (q=0), a lower quality than text.
  EXPECT_EQ(NegotiateExposition("application/openmetrics-text;version=2.0.0"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateExposition("application/openmetrics-text;q=0"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateExposition("text/plain,application/openmetrics-text;q=0.5"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(NegotiateExposition("text/plain;q=0.2, application/openmetrics-text;q=0.9"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(NegotiateExposition(",;;=,application/openmetrics-text;q=bogus"),
            ExpositionFormat::kPrometheusText);
}

TEST(ExpositionContentTypeTest, NamesFormatAndVersion) {
  EXPECT_EQ(ExpositionContentType(ExpositionFormat::kOpenMetrics),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(ExpositionContentType(ExpositionFormat::kPrometheusText),
            "text/plain; version=0.0.4; charset=utf-8");
}

std::vector<prometheus::MetricFamily> Families() {
  prometheus::MetricFamily calls{
      "ocid_operations_total", "calls", prometheus::MetricType::Counter, {}};
  prometheus::ClientMetric version;
  version.label = {{"operation", "Version"}};
  version.counter.value = 3;
  calls.metric.push_back(version);

  prometheus::MetricFamily drops{
      "ocid_drops", "no suffix collected", prometheus::MetricType::Counter, {}};
  drops.metric.emplace_back();
  drops.metric.back().counter.value = 0;

  prometheus::MetricFamily latency{
      "ocid_latency_seconds", "time\nwith \\ \"odd\" help", prometheus::MetricType::Histogram, {}};
  prometheus::ClientMetric h;
  h.label = {{"operation", "a\"b"}};
  h.histogram.sample_count = 4;
  h.histogram.sample_sum = 0.25;
  h.histogram.bucket = {{1, 0.001}, {3, 1}, {4, std::numeric_limits<double>::infinity()}};
  latency.metric.push_back(h);

  prometheus::MetricFamily rss{"ocid_resident_bytes", "rss", prometheus::MetricType::Gauge, {}};
  rss.metric.emplace_back();
  rss.metric.back().gauge.value = 123456789;

  prometheus::MetricFamily odd{"ocid_untyped", "", prometheus::MetricType::Untyped, {}};
  odd.metric.emplace_back();
  odd.metric.back().untyped.value = std::numeric_limits<double>::quiet_NaN();
  odd.metric.back().timestamp_ms = 1500;
  return {calls, drops, latency, rss, odd};
}

TEST(ExposeTest, OpenMetricsText) {
  EXPECT_EQ(Expose(ExpositionFormat::kOpenMetrics, Families()),
            "# TYPE ocid_operations counter\n"
            "# HELP ocid_operations calls\n"
            "ocid_operations_total{operation=\"Version\"} 3\n"
            "# TYPE ocid_drops counter\n"
            "# HELP ocid_drops no suffix collected\n"
            "ocid_drops_total 0\n"
            "# TYPE ocid_latency_seconds histogram\n"
            "# UNIT ocid_latency_seconds seconds\n"
            "# HELP ocid_latency_seconds time\\nwith \\\\ \\\"odd\\\" help\n"
            "ocid_latency_seconds_bucket{operation=\"a\\\"b\",le=\"0.001\"} 1\n"
            "ocid_latency_seconds_bucket{operation=\"a\\\"b\",le=\"1.0\"} 3\n"
            "ocid_latency_seconds_bucket{operation=\"a\\\"b\",le=\"+Inf\"} 4\n"
            "ocid_latency_seconds_count{operation=\"a\\\"b\"} 4\n"
            "ocid_latency_seconds_sum{operation=\"a\\\"b\"} 0.25\n"
            "# TYPE ocid_resident_bytes gauge\n"
            "# UNIT ocid_resident_bytes bytes\n"
            "# HELP ocid_resident_bytes rss\n"
            "ocid_resident_bytes 123456789\n"
            "# TYPE ocid_untyped unknown\n"
            "ocid_untyped NaN 1.5\n"
            "# EOF\n");
}

TEST(ExposeTest, HistogramWithoutInfBucketGetsOne) {
  prometheus::MetricFamily f{"x_seconds", "x", prometheus::MetricType::Histogram, {}};
  prometheus::ClientMetric h;
  h.histogram.sample_count = 7;
  h.histogram.bucket = {{2, 0.5}};
  f.metric.push_back(h);
  std::string text = Expose(ExpositionFormat::kOpenMetrics, {f});
  EXPECT_NE(text.find("x_seconds_bucket{le=\"0.5\"} 2\nx_seconds_bucket{le=\"+Inf\"} 7\n"),
            std::string::npos)
      << text;
}

TEST(ExposeTest, PrometheusText) {
  EXPECT_EQ(Expose(ExpositionFormat::kPrometheusText, Families()),
            "# HELP ocid_operations_total calls\n"
            "# TYPE ocid_operations_total counter\n"
            "ocid_operations_total{operation=\"Version\"} 3\n"
            "# HELP ocid_drops no suffix collected\n"
            "# TYPE ocid_drops counter\n"
            "ocid_drops 0\n"
            "# HELP ocid_latency_seconds time\\nwith \\\\ \"odd\" help\n"
            "# TYPE ocid_latency_seconds histogram\n"
            "ocid_latency_seconds_bucket{operation=\"a\\\"b\",le=\"0.001\"} 1\n"
            "ocid_latency_seconds_bucket{operation=\"a\\\"b\",le=\"1\"} 3\n"
            "ocid_latency_seconds_bucket{operation=\"a\\\"b\",le=\"+Inf\"} 4\n"
            "ocid_latency_seconds_count{operation=\"a\\\"b\"} 4\n"
            "ocid_latency_seconds_sum{operation=\"a\\\"b\"} 0.25\n"
            "# HELP ocid_resident_bytes rss\n"
            "# TYPE ocid_resident_bytes gauge\n"
            "ocid_resident_bytes 123456789\n"
            "# TYPE ocid_untyped untyped\n"
            "ocid_untyped NaN 1500\n");
}

TEST(ExposeTest, PrometheusTextSummary) {
  prometheus::MetricFamily f{"x_seconds", "", prometheus::MetricType::Summary, {}};
  prometheus::ClientMetric m;
  m.summary.sample_count = 2;
  m.summary.sample_sum = 1.5;
  m.summary.quantile = {{0.5, 0.25}};
  f.metric.push_back(m);
  EXPECT_EQ(Expose(ExpositionFormat::kPrometheusText, {f}),
            "# TYPE x_seconds summary\n"
            "x_seconds{quantile=\"0.5\"} 0.25\n"
            "x_seconds_sum 1.5\n"
            "x_seconds_count 2\n");
}

}  // namespace
}  // namespace ocid
