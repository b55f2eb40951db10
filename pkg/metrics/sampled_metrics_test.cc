#include "pkg/metrics/sampled_metrics.h"

#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace ocid {
namespace {

std::string Text(const prometheus::Collectable& metrics) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, metrics.Collect());
  return out.str();
}

TEST(SampledMetricsTest, SamplesOfOneNameAreOneFamilyReadAtEachScrape) {
  int pods = 1;
  SampledMetrics metrics([&] {
    return std::vector<Sample>{
        {"ocid_pods_ready", "pods ready", prometheus::MetricType::Gauge, double(pods), {}},
        {"ocid_x_total", "xs", prometheus::MetricType::Counter, 3, {{"name", "a"}}},
        {"ocid_x_total", "xs", prometheus::MetricType::Counter, 4, {{"name", "b"}}},
    };
  });
  std::string text = Text(metrics);
  EXPECT_NE(text.find("ocid_pods_ready 1"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE ocid_x_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find("ocid_x_total{name=\"b\"} 4"), std::string::npos) << text;
  pods = 5;
  EXPECT_NE(Text(metrics).find("ocid_pods_ready 5"), std::string::npos);
}

double Value(const std::vector<Sample>& samples, const std::string& name) {
  for (const Sample& sample : samples) {
    if (sample.name == name) return sample.value;
  }
  ADD_FAILURE() << "no " << name;
  return -1;
}

TEST(SampledMetricsTest, OurProcessAndItsUnreapedChildren) {
  std::vector<Sample> before = ProcessSamples();
  EXPECT_GT(Value(before, "ocid_process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(Value(before, "ocid_process_threads"), 1);
  EXPECT_GE(Value(before, "ocid_process_open_fds"), 3);
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  // Exited, not reaped: a zombie of ours.
  double defunct = 0;
  for (int i = 0; i < 200 && defunct < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    defunct = Value(ProcessSamples(), "ocid_processes_defunct");
  }
  EXPECT_EQ(defunct, Value(before, "ocid_processes_defunct") + 1);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(Value(ProcessSamples(), "ocid_processes_defunct"),
            Value(before, "ocid_processes_defunct"));
}

}  // namespace
}  // namespace ocid
