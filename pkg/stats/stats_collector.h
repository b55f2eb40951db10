// Containers' and pods' usage, read on request (never polled): their
// cgroups (pkg/cgroups), a container's writable layer (its overlay upper
// dir) and a pod's network counters (inside its netns). The managers'
// records are copied out under their stores' read locks first; every file
// is read after, with no lock of the managers held.
#ifndef OCID_PKG_STATS_STATS_COLLECTOR_H_
#define OCID_PKG_STATS_STATS_COLLECTOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/cgroups/cgroups.h"
#include "pkg/container/container_manager.h"
#include "pkg/sandbox/sandbox_manager.h"
#include "pkg/stats/fs_usage.h"
#include "pkg/stats/net_dev.h"
#include "pkg/stats/usage_cache.h"

namespace ocid {

struct ContainerUsage {
  ContainerRecord record;
  std::string cgroup;  // its cgroup path
  CgroupSample cpu_memory;
  int64_t fs_timestamp = 0;  // when the writable layer was measured
  std::string upper_dir;     // the writable layer measured
  FsUsage writable_layer;
};

struct PodUsage {
  SandboxRecord record;
  std::string cgroup;
  CgroupSample cpu_memory;
  int64_t network_timestamp = 0;
  // Empty for host-network pods and stopped ones (their netns is gone).
  std::vector<InterfaceStats> interfaces;
  std::vector<ContainerUsage> containers;
};

// Which records a list call wants: prefixes of IDs, and labels that must
// all match ("" / empty: any).
struct UsageFilter {
  std::string id;
  std::string pod_id;  // containers only
  std::map<std::string, std::string> labels;
};

class StatsCollector {
 public:
  // How old a writable layer's usage may be when reported (FsUsageCache).
  static constexpr absl::Duration kFsUsageMaxAge = absl::Seconds(10);

  // All must outlive the collector; `clock` gives the samples' times.
  StatsCollector(SandboxManager& pods, ContainerManager& containers, const Cgroups& cgroups,
                 std::function<absl::Time()> clock = absl::Now,
                 absl::Duration fs_usage_max_age = kFsUsageMaxAge);

  // NotFound for an unknown container or pod (as Get).
  absl::StatusOr<ContainerUsage> Container(const std::string& id);
  absl::StatusOr<PodUsage> Pod(const std::string& id);
  // Containers that are created or running (an exited one has no cgroup
  // left), and pods that are ready, matching `filter`.
  std::vector<ContainerUsage> Containers(const UsageFilter& filter);
  std::vector<PodUsage> Pods(const UsageFilter& filter);

  // The cgroup of a container of `pod` (pkg/cgroups' paths).
  static absl::StatusOr<std::string> ContainerCgroup(const SandboxRecord& pod,
                                                     const std::string& container_id);

 private:
  // `with_pids`: pids.current too (the pods' metrics report it per
  // container; ContainerStats has no process count).
  ContainerUsage MeasureContainer(ContainerRecord container, const SandboxRecord* pod,
                                  bool with_pids);
  PodUsage MeasurePod(const SandboxRecord& pod, std::vector<ContainerRecord> containers);

  SandboxManager& pods_;
  ContainerManager& containers_;
  std::function<absl::Time()> clock_;
  CgroupSampler cgroups_;
  FsUsageCache layers_;
};

}  // namespace ocid

#endif  // OCID_PKG_STATS_STATS_COLLECTOR_H_
