#include "bench/bench_support.h"

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

}  // namespace
}  // namespace ocid
