#include "pkg/stats/usage_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/cgroups/fake_cgroup_tree.h"

namespace ocid {
namespace {

class UsageCacheTest : public FakeCgroupTree {
 protected:
  // A v2 cgroup `rel` that has used `usec` of CPU.
  void Cgroup(const std::string& rel, uint64_t usec) {
    Write(rel + "/cpu.stat", absl::StrCat("usage_usec ", usec, "\n"));
    Write(rel + "/pids.current", "2\n");
  }

  std::function<absl::Time()> Clock() {
    return [this] { return now_; };
  }

  absl::Time now_ = absl::FromUnixSeconds(1000);
};

TEST_F(UsageCacheTest, SamplerReadsAfreshEachTimeAndRatesTheCpu) {
  Write("cgroup.controllers", "cpu memory pids\n");
  Cgroup("p/a", 1000);
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  CgroupSampler sampler(*cgroups, Clock());

  CgroupSample first = sampler.Sample("/p/a", /*with_pids=*/false);
  ASSERT_TRUE(first.stats.has_value());
  EXPECT_EQ(first.stats->cpu_usage_ns, 1000000u);
  EXPECT_EQ(first.stats->pids, 0u);
  EXPECT_FALSE(first.nano_cores.has_value()) << "no previous sample";
  EXPECT_EQ(first.timestamp, absl::ToUnixNanos(now_));

  // Half a core over 2 s.
  now_ += absl::Seconds(2);
  Cgroup("p/a", 1001000);
  CgroupSample second = sampler.Sample("/p/a", /*with_pids=*/true);
  ASSERT_TRUE(second.stats.has_value());
  EXPECT_EQ(second.stats->cpu_usage_ns, 1001000000u);
  EXPECT_EQ(second.stats->pids, 2u);
  EXPECT_EQ(second.nano_cores, 500000000u);
  EXPECT_EQ(sampler.size(), 1u);

  // Removed: the time alone, and forgotten; made again: a first sample.
  ASSERT_TRUE(RemoveAll(root_ + "/p/a").ok());
  now_ += absl::Seconds(1);
  CgroupSample gone = sampler.Sample("/p/a", false);
  EXPECT_FALSE(gone.stats.has_value());
  EXPECT_EQ(gone.timestamp, absl::ToUnixNanos(now_));
  EXPECT_EQ(sampler.size(), 0u);
  Cgroup("p/a", 5);
  CgroupSample again = sampler.Sample("/p/a", false);
  ASSERT_TRUE(again.stats.has_value());
  EXPECT_EQ(again.stats->cpu_usage_ns, 5000u);
  EXPECT_FALSE(again.nano_cores.has_value());
}

TEST_F(UsageCacheTest, SamplerDropsCgroupsNotAskedForAWhile) {
  Write("cgroup.controllers", "cpu\n");
  Cgroup("a", 1);
  Cgroup("b", 1);
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  CgroupSampler sampler(*cgroups, Clock(), absl::Minutes(1));
  sampler.Sample("/a", false);
  sampler.Sample("/b", false);
  EXPECT_EQ(sampler.size(), 2u);
  now_ += absl::Seconds(61);
  sampler.Sample("/a", false);
  now_ += absl::Seconds(61);
  sampler.Sample("/a", false);
  EXPECT_EQ(sampler.size(), 1u) << "/b was not sampled for a minute";
}

TEST_F(UsageCacheTest, FsUsageIsMeasuredAtMostOncePerMaxAge) {
  const std::string upper = root_ + "/upper";
  Write("upper/f", std::string(10000, 'x'));
  FsUsageCache cache(Clock(), absl::Seconds(10));
  FsUsageCache::Reading first = cache.Measure(upper);
  EXPECT_EQ(first.usage.inodes, 2u);  // the dir and the file
  EXPECT_EQ(first.timestamp, absl::ToUnixNanos(now_));

  Write("upper/g", "more");
  now_ += absl::Seconds(9);
  FsUsageCache::Reading cached = cache.Measure(upper);
  EXPECT_EQ(cached.usage.inodes, 2u) << "younger than 10 s";
  EXPECT_EQ(cached.timestamp, first.timestamp) << "reported with the time it was measured";

  now_ += absl::Seconds(1);
  FsUsageCache::Reading fresh = cache.Measure(upper);
  EXPECT_EQ(fresh.usage.inodes, 3u);
  EXPECT_EQ(fresh.timestamp, absl::ToUnixNanos(now_));

  FsUsageCache uncached(Clock(), absl::ZeroDuration());
  EXPECT_EQ(uncached.Measure(upper).usage.inodes, 3u);
  Write("upper/h", "more");
  EXPECT_EQ(uncached.Measure(upper).usage.inodes, 4u) << "max_age 0: every call measures";

  now_ += absl::Minutes(2);
  cache.Measure(root_ + "/other");
  EXPECT_EQ(cache.size(), 1u) << "the first dir was not asked for in a minute";
}

}  // namespace
}  // namespace ocid
