#include "pkg/metrics/sampled_metrics.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pkg/metrics/exposition.h"

namespace ocid {
namespace {

std::string Text(const prometheus::Collectable& metrics) {
  return Expose(ExpositionFormat::kPrometheusText, metrics.Collect());
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

TEST(SampledMetricsTest, OpenFdsFollowWhatWeOpenAndClose) {
  const double before = Value(ProcessSamples(), "ocid_process_open_fds");
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(Value(ProcessSamples(), "ocid_process_open_fds"), before + 10);
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(Value(ProcessSamples(), "ocid_process_open_fds"), before);
}

// A child that is alive is not defunct, whichever way it is counted.
TEST(SampledMetricsTest, ALiveChildIsNotDefunct) {
  const double before = Value(ProcessSamples(), "ocid_processes_defunct");
  int gate[2];
  ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(gate[1]);
    char byte;
    (void)!::read(gate[0], &byte, 1);
    ::_exit(0);
  }
  EXPECT_EQ(Value(ProcessSamples(), "ocid_processes_defunct"), before);
  ::close(gate[1]);  // it exits; reaped below
  ::close(gate[0]);
  ::waitpid(child, nullptr, 0);
}

// A /proc of our making: the fields ProcessSamples reads, and children whose
// names would trip a reader that takes the state after the first ')'.
TEST(SampledMetricsTest, DefunctCountsOnlyOurZombiesWhateverTheirNames) {
  char pattern[] = "/tmp/ocid-proc-test.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::filesystem::path proc = pattern;
  auto write = [&](const std::string& path, const std::string& text) {
    std::filesystem::create_directories((proc / path).parent_path());
    std::ofstream(proc / path) << text;
  };
  write("100/status", "Name:\tocid\nVmRSS:\t  2048 kB\nThreads:\t7\n");
  write("100/fd/0", "");
  write("100/fd/1", "");
  write("100/task/100/children", "200 201 ");  // each thread lists those it forked
  write("100/task/101/children", "203 204\n");
  write("100/task/102/children", "");
  write("200/stat", "200 (a) S 100 (b) Z 100 1 1 0\n");  // a zombie named "a) S 100 (b"
  write("201/stat", "201 (sleeper) S 100 1 1 0\n");      // alive
  write("202/stat", "202 (other) Z 1 1 1 0\n");          // not ours
  write("203/stat", "203 (z z) Z 100 1 1 0\n");          // a zombie
  write("204/stat", "garbage");

  std::vector<Sample> samples = ProcessSamples(proc.string(), 100);
  EXPECT_EQ(Value(samples, "ocid_process_resident_memory_bytes"), 2048 * 1024);
  EXPECT_EQ(Value(samples, "ocid_process_threads"), 7);
  EXPECT_EQ(Value(samples, "ocid_process_open_fds"), 2);
  EXPECT_EQ(Value(samples, "ocid_processes_defunct"), 2);
  std::filesystem::remove_all(proc);
}

}  // namespace
}  // namespace ocid
