#include "pkg/stats/usage_cache.h"

#include <utility>

namespace ocid {
namespace {

// Drops the entries of `entries` not used since `now - idle`, at most once
// per `idle`.
template <typename Map>
void SweepIdle(Map& entries, int64_t& next_sweep, int64_t now, absl::Duration idle) {
  if (now < next_sweep) return;
  const int64_t oldest = now - absl::ToInt64Nanoseconds(idle);
  for (auto it = entries.begin(); it != entries.end();) {
    it = it->second.used < oldest ? entries.erase(it) : std::next(it);
  }
  next_sweep = now + absl::ToInt64Nanoseconds(idle);
}

}  // namespace

CgroupSampler::CgroupSampler(const Cgroups& cgroups, std::function<absl::Time()> clock,
                             absl::Duration idle)
    : cgroups_(cgroups), clock_(std::move(clock)), idle_(idle) {}

CgroupSample CgroupSampler::Sample(const std::string& path, bool with_pids) {
  std::shared_ptr<const CgroupHandle> handle;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(path);
    if (it != entries_.end()) handle = it->second.handle;
  }
  absl::StatusOr<CgroupStats> stats = absl::NotFoundError(path);
  if (handle != nullptr) stats = cgroups_.Read(*handle, with_pids);
  if (!stats.ok()) {
    // A first sample, or the cgroup went since it was opened (a new one
    // may stand at its path): by the path.
    absl::StatusOr<CgroupHandle> opened = cgroups_.OpenCgroup(path);
    handle = opened.ok() ? std::make_shared<const CgroupHandle>(*std::move(opened)) : nullptr;
    if (handle != nullptr) stats = cgroups_.Read(*handle, with_pids);
  }
  CgroupSample sample;
  sample.timestamp = absl::ToUnixNanos(clock_());
  absl::MutexLock lock(&mu_);
  SweepIdle(entries_, next_sweep_, sample.timestamp, idle_);
  if (!stats.ok()) {  // gone (or unreadable): the time only, as for an exited one
    entries_.erase(path);
    return sample;
  }
  sample.stats = *stats;
  auto [it, fresh] = entries_.try_emplace(path);
  Entry& entry = it->second;
  if (!fresh && entry.handle == handle && sample.timestamp > entry.cpu_timestamp &&
      stats->cpu_usage_ns >= entry.cpu_usage_ns) {
    double cores = static_cast<double>(stats->cpu_usage_ns - entry.cpu_usage_ns) /
                   static_cast<double>(sample.timestamp - entry.cpu_timestamp);
    sample.nano_cores = static_cast<uint64_t>(cores * 1e9);
  }
  entry.handle = std::move(handle);
  entry.cpu_timestamp = sample.timestamp;
  entry.cpu_usage_ns = stats->cpu_usage_ns;
  entry.used = sample.timestamp;
  return sample;
}

size_t CgroupSampler::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

FsUsageCache::FsUsageCache(std::function<absl::Time()> clock, absl::Duration max_age,
                           absl::Duration idle)
    : clock_(std::move(clock)), max_age_(max_age), idle_(idle) {}

FsUsageCache::Reading FsUsageCache::Measure(const std::string& dir) {
  int64_t now = absl::ToUnixNanos(clock_());
  {
    absl::MutexLock lock(&mu_);
    SweepIdle(entries_, next_sweep_, now, idle_);
    auto it = entries_.find(dir);
    if (it != entries_.end() &&
        now - it->second.reading.timestamp < absl::ToInt64Nanoseconds(max_age_)) {
      it->second.used = now;
      return it->second.reading;
    }
  }
  Reading reading;
  reading.usage = MeasureTree(dir);  // no lock held over the walk
  reading.timestamp = absl::ToUnixNanos(clock_());
  absl::MutexLock lock(&mu_);
  entries_[dir] = Entry{reading, reading.timestamp};
  return reading;
}

size_t FsUsageCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace ocid
