#include "pkg/stats/stats_collector.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "pkg/base/status_macros.h"
#include "pkg/cgroups/paths.h"

namespace ocid {
namespace {

bool Matches(const UsageFilter& filter, const std::string& id,
             const std::map<std::string, std::string>& labels) {
  if (!filter.id.empty() && !absl::StartsWith(id, filter.id)) return false;
  for (const auto& [key, value] : filter.labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

// Below this many containers per thread, one thread is quicker.
constexpr size_t kPerWorker = 16;

bool Live(const ContainerRecord& c) {
  return c.state == ContainerState::kCreated || c.state == ContainerState::kRunning;
}

}  // namespace

StatsCollector::StatsCollector(SandboxManager& pods, ContainerManager& containers,
                               const Cgroups& cgroups, std::function<absl::Time()> clock,
                               absl::Duration fs_usage_max_age)
    : pods_(pods),
      containers_(containers),
      clock_(clock),
      cgroups_(cgroups, clock),
      layers_(clock, fs_usage_max_age) {}

absl::StatusOr<std::string> StatsCollector::ContainerCgroup(const SandboxRecord& pod,
                                                            const std::string& container_id) {
  ASSIGN_OR_RETURN(std::string pod_cgroup, PodCgroupPath(pod.cgroup_parent, pod.id));
  return ContainerCgroupPath(pod_cgroup, container_id);
}

ContainerUsage StatsCollector::MeasureContainer(ContainerRecord container, const SandboxRecord* pod,
                                                bool with_pids) {
  ContainerUsage usage;
  usage.record = std::move(container);
  const ContainerRecord& c = usage.record;
  if (pod != nullptr) {
    absl::StatusOr<std::string> cgroup = ContainerCgroup(*pod, c.id);
    if (cgroup.ok()) usage.cgroup = *cgroup;
  }
  if (!usage.cgroup.empty() && Live(c)) {
    usage.cpu_memory = cgroups_.Sample(usage.cgroup, with_pids);
  } else {
    usage.cpu_memory.timestamp = absl::ToUnixNanos(clock_());
  }
  usage.upper_dir = c.overlay_dir + "/upper";
  FsUsageCache::Reading layer = layers_.Measure(usage.upper_dir);
  usage.writable_layer = layer.usage;
  usage.fs_timestamp = layer.timestamp;
  return usage;
}

PodUsage StatsCollector::MeasurePod(const SandboxRecord& pod,
                                    std::vector<ContainerRecord> containers) {
  PodUsage usage;
  usage.record = pod;
  absl::StatusOr<std::string> cgroup = PodCgroupPath(pod.cgroup_parent, pod.id);
  if (cgroup.ok()) {
    usage.cgroup = *cgroup;
    usage.cpu_memory = cgroups_.Sample(usage.cgroup, /*with_pids=*/true);
  } else {
    usage.cpu_memory.timestamp = absl::ToUnixNanos(clock_());
  }
  if (!pod.stopped && !pod.namespaces.net.empty()) {
    absl::StatusOr<std::vector<InterfaceStats>> interfaces = ReadInterfacesIn(pod.namespaces.net);
    if (interfaces.ok()) usage.interfaces = std::move(*interfaces);
  }
  usage.network_timestamp = absl::ToUnixNanos(clock_());
  for (const ContainerRecord& c : containers) {
    if (Live(c)) usage.containers.push_back(MeasureContainer(c, &pod, /*with_pids=*/true));
  }
  return usage;
}

absl::StatusOr<ContainerUsage> StatsCollector::Container(const std::string& id) {
  ASSIGN_OR_RETURN(ContainerRecord container, containers_.Get(id));
  absl::StatusOr<SandboxRecord> pod = pods_.Get(container.sandbox_id);
  return MeasureContainer(std::move(container), pod.ok() ? &*pod : nullptr, /*with_pids=*/false);
}

std::vector<ContainerUsage> StatsCollector::Containers(const UsageFilter& filter) {
  std::vector<ContainerRecord> picked;
  containers_.ForEach([&](const ContainerRecord& c) {
    if (!Live(c) || !Matches(filter, c.id, c.labels)) return;
    if (!filter.pod_id.empty() && !absl::StartsWith(c.sandbox_id, filter.pod_id)) return;
    picked.push_back(c);
  });
  std::map<std::string, SandboxRecord> pods;
  pods_.ForEach([&](const SandboxRecord& p) { pods.emplace(p.id, p); });
  // The kernel sums each cgroup's counters on read (memory.stat walks the
  // hierarchy): spread the containers over the CPUs.
  std::vector<ContainerUsage> usages(picked.size());
  auto measure = [&](size_t first, size_t step) {
    for (size_t i = first; i < picked.size(); i += step) {
      auto pod = pods.find(picked[i].sandbox_id);
      usages[i] = MeasureContainer(std::move(picked[i]), pod == pods.end() ? nullptr : &pod->second,
                                   /*with_pids=*/false);
    }
  };
  size_t workers = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()),
                                    (picked.size() + kPerWorker - 1) / kPerWorker);
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(measure, w, workers);
  measure(0, std::max<size_t>(workers, 1));
  for (std::thread& t : threads) t.join();
  return usages;
}

absl::StatusOr<PodUsage> StatsCollector::Pod(const std::string& id) {
  ASSIGN_OR_RETURN(SandboxRecord pod, pods_.Get(id));
  std::vector<ContainerRecord> containers;
  containers_.ForEach([&](const ContainerRecord& c) {
    if (c.sandbox_id == pod.id) containers.push_back(c);
  });
  return MeasurePod(pod, std::move(containers));
}

std::vector<PodUsage> StatsCollector::Pods(const UsageFilter& filter) {
  std::vector<SandboxRecord> picked;
  pods_.ForEach([&](const SandboxRecord& p) {
    if (p.ready && Matches(filter, p.id, p.labels)) picked.push_back(p);
  });
  std::map<std::string, std::vector<ContainerRecord>> by_pod;
  containers_.ForEach([&](const ContainerRecord& c) { by_pod[c.sandbox_id].push_back(c); });
  std::vector<PodUsage> usages;
  usages.reserve(picked.size());
  for (const SandboxRecord& pod : picked) {
    usages.push_back(MeasurePod(pod, std::move(by_pod[pod.id])));
  }
  return usages;
}

}  // namespace ocid
