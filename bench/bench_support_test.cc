#include "bench/bench_support.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ocid {
namespace {

bool Parse(std::vector<std::string> args, std::string* registry, int* runs, int* warmup) {
  args.insert(args.begin(), "bench");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  return ParseBenchFlags(static_cast<int>(argv.size()), argv.data(),
                         {{"--registry", TextFlag(registry)},
                          {"--runs", CountFlag(runs)},
                          {"--warmup", CountFlag(warmup, /*zero_ok=*/true)}});
}

TEST(ParseBenchFlags, TakesKnownFlagsAndRefusesTheRest) {
  std::string registry;
  int runs = 0, warmup = 0;
  EXPECT_TRUE(Parse({"--registry", "127.0.0.1:5000", "--runs", "7", "--warmup", "0"}, &registry,
                    &runs, &warmup));
  EXPECT_EQ(registry, "127.0.0.1:5000");
  EXPECT_EQ(runs, 7);
  EXPECT_EQ(warmup, 0);
  EXPECT_FALSE(Parse({"--registry", "127.0.0.1:5000", "--runs", "0"}, &registry, &runs, &warmup))
      << "a count must be positive";
  EXPECT_FALSE(Parse({"--registry", "127.0.0.1:5000", "--runs"}, &registry, &runs, &warmup))
      << "a missing value";
  EXPECT_FALSE(Parse({"--registry", "127.0.0.1:5000", "--fast", "1"}, &registry, &runs, &warmup));
  EXPECT_FALSE(Parse({"--registry", "10.0.0.1:5000"}, &registry, &runs, &warmup))
      << "benches pull from loopback only";
}

TEST(ParseResults, ReadsResultLinesAndSkipsTheRest) {
  std::map<std::string, double> results = ParseResults(
      "startup to first Version: median 12.00 ms\n"
      "result: startup.first_version_ms 12.25\n"
      "result: census.leaked.fds 0\n"
      "result: broken\n"
      "result: not.a.number twelve\n"
      "  result: indented.is.not 1\n"
      "result: startup.first_version_ms 13.5\n");
  EXPECT_EQ(results.size(), 2u);
  EXPECT_DOUBLE_EQ(results["startup.first_version_ms"], 13.5) << "the later line wins";
  EXPECT_DOUBLE_EQ(results["census.leaked.fds"], 0);
}

TEST(PrintResult, PrintsWhatParseResultsReadsBack) {
  testing::internal::CaptureStdout();
  PrintResult("lifecycle.runc.a.ocid_p50_ms", 0.1 + 0.2);
  std::map<std::string, double> results = ParseResults(testing::internal::GetCapturedStdout());
  ASSERT_EQ(results.count("lifecycle.runc.a.ocid_p50_ms"), 1u);
  EXPECT_EQ(results["lifecycle.runc.a.ocid_p50_ms"], 0.1 + 0.2);
}

}  // namespace
}  // namespace ocid
