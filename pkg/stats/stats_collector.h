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

namespace ocid {

// A cgroup's usage at one moment.
struct CgroupSample {
  int64_t timestamp = 0;             // unix ns
  std::optional<CgroupStats> stats;  // unset when the cgroup is gone
  // CPU use since the previous sample of the same cgroup, in nanocores
  // (1e9 = one core busy); unset on a first sample.
  std::optional<uint64_t> nano_cores;
};

struct ContainerUsage {
  ContainerRecord record;
  std::string cgroup;  // its cgroup path
  CgroupSample cpu_memory;
  int64_t fs_timestamp = 0;
  std::string upper_dir;  // the writable layer measured
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
  // All must outlive the collector; `clock` gives the samples' times.
  StatsCollector(SandboxManager& pods, ContainerManager& containers, const Cgroups& cgroups,
                 std::function<absl::Time()> clock = absl::Now);

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
  ContainerUsage MeasureContainer(const ContainerRecord& container, const SandboxRecord* pod);
  PodUsage MeasurePod(const SandboxRecord& pod, std::vector<ContainerRecord> containers);
  CgroupSample Sample(const std::string& cgroup);

  SandboxManager& pods_;
  ContainerManager& containers_;
  const Cgroups& cgroups_;
  std::function<absl::Time()> clock_;
  // The previous CPU reading per cgroup, for nano_cores; a leaf lock held
  // only to look up and replace an entry, never while reading files.
  struct CpuReading {
    int64_t timestamp;
    uint64_t usage_ns;
  };
  absl::Mutex mu_;
  std::map<std::string, CpuReading> last_cpu_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_STATS_STATS_COLLECTOR_H_
