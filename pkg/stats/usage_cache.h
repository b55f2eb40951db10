// What StatsCollector keeps between calls so that reading 100 containers
// stays cheap, without keeping any number past what kubelet would notice:
//   CgroupSampler: each cgroup's dirs opened once (CgroupHandle: the walk
//     down /sys/fs/cgroup costs more than the read) and its previous CPU
//     reading (for the rate). Every sample reads the files afresh.
//   FsUsageCache: a writable layer's usage (a walk of its whole tree)
//     measured at most once per max_age, reported with the time it was
//     measured (containerd refreshes its snapshots' usage every 10 s too).
// Both are locked only to look up and replace an entry, never while a
// file is read, and both drop an entry not asked for in `idle` (its
// container is gone).
#ifndef OCID_PKG_STATS_USAGE_CACHE_H_
#define OCID_PKG_STATS_USAGE_CACHE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/cgroups/cgroups.h"
#include "pkg/stats/fs_usage.h"

namespace ocid {

// A cgroup's usage at one moment.
struct CgroupSample {
  int64_t timestamp = 0;             // unix ns
  std::optional<CgroupStats> stats;  // unset when the cgroup is gone
  // CPU use since the previous sample of the same cgroup, in nanocores
  // (1e9 = one core busy); unset on a first sample.
  std::optional<uint64_t> nano_cores;
};

class CgroupSampler {
 public:
  // `cgroups` must outlive the sampler.
  CgroupSampler(const Cgroups& cgroups, std::function<absl::Time()> clock,
                absl::Duration idle = absl::Minutes(1));

  // Reads cgroup `path` (pids.current only `with_pids`). A cgroup gone
  // (or unreadable) gives the time alone, and its entry is dropped; one
  // made again at the same path is opened afresh.
  CgroupSample Sample(const std::string& path, bool with_pids);
  size_t size() const;  // cgroups kept

 private:
  struct Entry {
    std::shared_ptr<const CgroupHandle> handle;  // shared with reads under way
    int64_t cpu_timestamp = 0;
    uint64_t cpu_usage_ns = 0;
    int64_t used = 0;  // unix ns of its last sample
  };
  const Cgroups& cgroups_;
  const std::function<absl::Time()> clock_;
  const absl::Duration idle_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t next_sweep_ ABSL_GUARDED_BY(mu_) = 0;
};

class FsUsageCache {
 public:
  struct Reading {
    FsUsage usage;
    int64_t timestamp = 0;  // unix ns, when it was measured
  };
  // max_age zero: every call measures.
  FsUsageCache(std::function<absl::Time()> clock, absl::Duration max_age,
               absl::Duration idle = absl::Minutes(1));

  // MeasureTree(dir), or the reading of it taken less than max_age ago.
  Reading Measure(const std::string& dir);
  size_t size() const;  // dirs kept

 private:
  struct Entry {
    Reading reading;
    int64_t used = 0;
  };
  const std::function<absl::Time()> clock_;
  const absl::Duration max_age_, idle_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t next_sweep_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ocid

#endif  // OCID_PKG_STATS_USAGE_CACHE_H_
