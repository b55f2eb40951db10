// Pod sandboxes' lifecycle: RunPod, StopPod, RemovePod, their records, and
// Recover after a restart. Owns the pod records and one lock per pod: calls
// that change one pod are serialised, calls on different pods are not, and
// CreateContainer holds its pod's lock shared (SharePod) so that RemovePod
// waits for it while creates in one pod still run together. Lock order: pod
// lock, then a container's lock, then the record stores' own mutexes; only
// the pod and container locks are held across a process or CNI call.
#ifndef OCID_PKG_SANDBOX_SANDBOX_MANAGER_H_
#define OCID_PKG_SANDBOX_SANDBOX_MANAGER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "api/runtime/v1/api.pb.h"
#include "pkg/base/keyed_mutex.h"
#include "pkg/base/name_registry.h"
#include "pkg/base/record_store.h"
#include "pkg/base/undo_stack.h"
#include "pkg/events/event_bus.h"
#include "pkg/sandbox/sandbox_host.h"
#include "pkg/sandbox/sandbox_record.h"
#include "pkg/sandbox/sysctls.h"
#include "pkg/security/selinux.h"

namespace ocid {

struct SandboxManagerOptions {
  std::string records_dir;   // <root>/records/sandboxes
  std::string pods_dir;      // <runroot>/pods: resolv.conf, hosts, shm per pod
  std::string pins_dir;      // <runroot>/ns
  std::string pinns_binary;  // ocid-pinns
  // The configured runtime a handler names ("" names the default at the
  // time of the call); InvalidArgument for one not configured.
  std::function<absl::StatusOr<std::string>(const std::string& handler)> resolve_handler;
  // Where the pod's own lifecycle events go (none when null); must outlive
  // the manager.
  EventBus* events = nullptr;
  // ocid.runtime.default_sysctls, parsed (ParseDefaultSysctls).
  std::vector<DefaultSysctl> default_sysctls;
  // The daemon's SELinux (labels, pods' MCS levels); must outlive the
  // manager. Null: no labels, selinux_options ignored.
  Selinux* selinux = nullptr;
};

// A pod with its config as sent to RunPodSandbox.
struct PodView {
  SandboxRecord record;
  runtime::v1::PodSandboxConfig config;
};

class SandboxManager {
 public:
  SandboxManager(SandboxManagerOptions options, SandboxHost& host, PodNetwork& network);

  // Set once, before Recover: who stops and removes a pod's containers.
  void SetContainers(PodContainers* containers) { containers_ = containers; }

  // Loads the pod records and reserves their names. A pod RunPod did not
  // finish (ocid died) is undone and forgotten; a pod whose infra died or
  // whose pins are gone becomes not ready (StopPod still tears it down).
  absl::Status Recover();
  // Finishes the RemovePodSandbox calls a dying ocid cut short; runs once
  // the containers are recovered too (removing a pod removes its
  // containers). One that fails is logged and kept for the client's retry.
  void FinishRemovals();

  // Makes the pod (`config` validated by the caller) and returns its ID. The
  // same config again, as kubelet retries after a timeout, returns the pod
  // made for it; another config under the same name is AlreadyExists. On
  // failure everything made so far is undone and no record is left.
  absl::StatusOr<std::string> RunPod(const runtime::v1::PodSandboxConfig& config,
                                     const std::string& handler);
  // Stops the pod's containers, the infra, /dev/shm, the network, the pins;
  // keeps the record (not ready). NotFound for an unknown ID.
  absl::Status StopPod(const std::string& id);
  // Stops, removes the containers, the files and the record. A pod already
  // gone is fine.
  absl::Status RemovePod(const std::string& id);

  // Writes the pod-level limits into the ready pod's cgroup: cpu shares,
  // quota and period and the memory limit of `resources` (the sum of its
  // containers') plus `overhead`; fields left 0 are not changed, and a
  // quota or memory limit only in `overhead` limits nothing (the pod is
  // unlimited there). cpuset, hugepages, unified and swap are not applied
  // at the pod level. A negative value is InvalidArgument naming the field
  // ("resources.cpu_shares"); a value the kernel refuses is its error and
  // the old values stay; FailedPrecondition for a pod not ready.
  absl::Status UpdateResources(const std::string& id,
                               const runtime::v1::LinuxContainerResources& overhead,
                               const runtime::v1::LinuxContainerResources& resources);

  // By ID or unique prefix: NotFound, InvalidArgument for "".
  absl::StatusOr<SandboxRecord> Get(const std::string& id) const;
  // Get, with the stored config parsed (DataLoss if it does not parse).
  absl::StatusOr<PodView> Status(const std::string& id) const;
  // Visits each record under the store's read lock; `visit` must not call
  // back into the manager.
  void ForEach(const std::function<void(const SandboxRecord&)>& visit) const;

  // Whether the pod's own PID namespace is still held by its infra (true
  // for a pod without one).
  bool InfraAlive(const SandboxRecord& pod) {
    return pod.infra_pid <= 0 || host_.InfraAlive(pod.Infra());
  }

  // Holds pod `id` (a full ID) against StopPod and RemovePod until
  // destroyed; other shared holders may hold it too.
  [[nodiscard]] KeyedMutex::Lock SharePod(const std::string& id) {
    return locks_.AcquireShared(id);
  }

 private:
  absl::StatusOr<std::string> Make(SandboxRecord pod, const runtime::v1::PodSandboxConfig& config);
  absl::Status MakeParts(SandboxRecord& pod, const runtime::v1::PodSandboxConfig& config,
                         UndoStack& undo);
  PinRequest PinRequestFor(const SandboxRecord& pod,
                           const runtime::v1::PodSandboxConfig& config) const;
  absl::Status UndoCreate(const SandboxRecord& pod);
  absl::Status GiveFilesToUserNamespace(const SandboxRecord& pod);
  absl::Status StopLocked(const SandboxRecord& pod);
  absl::Status RemoveCgroupsOf(const SandboxRecord& pod);
  void Emit(const std::string& pod_id, LifecycleEventType type);
  KeyedMutex::Lock LockPod(const std::string& id) { return locks_.Acquire(id); }

  const SandboxManagerOptions options_;
  SandboxHost& host_;
  PodNetwork& network_;
  PodContainers* containers_ = nullptr;
  RecordStore<SandboxRecord> records_;
  NameRegistry names_;
  KeyedMutex locks_;  // by pod ID
};

// What CNI is told about the pod (ports, DNS, kubelet's names).
PodNetworkRequest NetworkRequestFor(const SandboxRecord& pod,
                                    const runtime::v1::PodSandboxConfig& config);

// The stored config of `pod`; DataLoss when it does not parse.
absl::StatusOr<runtime::v1::PodSandboxConfig> StoredPodConfig(const SandboxRecord& pod);

}  // namespace ocid

#endif  // OCID_PKG_SANDBOX_SANDBOX_MANAGER_H_
