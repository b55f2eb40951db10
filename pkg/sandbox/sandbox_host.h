// What SandboxManager asks of the host, behind small interfaces so that its
// tests can fake each step (and make any one of them fail):
// - SandboxHost: namespace pins, the pod's files and /dev/shm, the infra
//   process (LinuxSandboxHost does it for real);
// - PodNetwork: CNI ADD and DEL (CniPodNetwork);
// - PodContainers: the containers of a pod, which StopPod and RemovePod stop
//   and remove first (ContainerManager).
#ifndef OCID_PKG_SANDBOX_SANDBOX_HOST_H_
#define OCID_PKG_SANDBOX_SANDBOX_HOST_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/base/subprocess.h"
#include "pkg/cgroups/cgroups.h"
#include "pkg/network/cni.h"
#include "pkg/sandbox/namespaces.h"

namespace ocid {

class SandboxHost {
 public:
  virtual ~SandboxHost() = default;
  // On failure nothing is left pinned. Unpin is idempotent.
  virtual absl::StatusOr<PinnedNamespaces> Pin(const PinRequest& request) = 0;
  virtual absl::Status Unpin(const PinnedNamespaces& pinned) = 0;
  // Whether each pin still holds its namespace (not after a reboot wiped
  // the runroot, or once unpinned).
  virtual bool Pinned(const PinnedNamespaces& pinned) = 0;
  // resolv.conf, hosts and hostname in `dir` (which exists).
  virtual absl::Status WriteFiles(const std::string& dir, const std::string& hostname,
                                  const std::vector<std::string>& dns_servers,
                                  const std::vector<std::string>& dns_searches,
                                  const std::vector<std::string>& dns_options) = 0;
  // A tmpfs at `path` (which exists), labelled `mount_label` for SELinux
  // unless it is "". UnmountShm is idempotent.
  virtual absl::Status MountShm(const std::string& path, const std::string& mount_label) = 0;
  virtual absl::Status UnmountShm(const std::string& path) = 0;
  // Gives each of `paths` (not following a symlink) to host uid/gid: a pod
  // user namespace's root.
  virtual absl::Status Chown(const std::vector<std::string>& paths, uint32_t uid, uint32_t gid) = 0;
  // The pod's PID 1 holding its shared PID namespace, as a host process,
  // placed in cgroup `infra_cgroup` (pkg/cgroups/paths.h), running with
  // SELinux label `process_label` (the pod's; "" where SELinux is off:
  // none set).
  virtual absl::StatusOr<ProcessIdentity> StartInfra(const PinnedNamespaces& pinned,
                                                     const std::string& infra_cgroup,
                                                     const std::string& process_label) = 0;
  // Removes the pod's infra cgroup and, when `own_pod_cgroup` is not ""
  // (ocid's own pod cgroup, not a kubelet parent, which kubelet removes),
  // every ocid-* cgroup left below it (a conmon's of a failed create) and
  // it. Idempotent; fails while a process is still in one after a grace.
  virtual absl::Status RemoveCgroups(const std::string& infra_cgroup,
                                     const std::string& own_pod_cgroup) = 0;
  // Writes `limits` into the pod's cgroup `pod_cgroup`, making it where it
  // is missing (Cgroups::SetLimits): a value the kernel refuses is its
  // error (InvalidArgument) and the old values stay.
  virtual absl::Status SetPodLimits(const std::string& pod_cgroup, const CgroupLimits& limits) = 0;
  // Kills that process and no other (a pid reused since is left alone).
  // Idempotent: an infra already gone is fine.
  virtual void StopInfra(const ProcessIdentity& infra) = 0;
  // Whether that process (not merely its pid) still runs.
  virtual bool InfraAlive(const ProcessIdentity& infra) = 0;
  // Kills what an ocid that died may have left running for pod `pod_id`
  // (ocid-pinns, ocid-infra and the infra it forked, CNI plugins), found by
  // the ID in their arguments or environment, so that none finishes after
  // Recover undid the pod.
  virtual absl::Status KillHelpersOf(const std::string& pod_id) = 0;
};

class PodNetwork {
 public:
  virtual ~PodNetwork() = default;
  // On failure undoes what it added.
  virtual absl::StatusOr<PodNetworkResult> SetUp(const PodNetworkRequest& request) = 0;
  // Idempotent.
  virtual absl::Status TearDown(const PodNetworkRequest& request) = 0;
};

class PodContainers {
 public:
  virtual ~PodContainers() = default;
  // Called with the pod's lock held.
  virtual absl::Status StopAllOf(const std::string& pod_id) = 0;
  virtual absl::Status RemoveAllOf(const std::string& pod_id) = 0;
};

}  // namespace ocid

#endif  // OCID_PKG_SANDBOX_SANDBOX_HOST_H_
