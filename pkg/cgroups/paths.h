// Where ocid's processes go in the cgroup tree under the cgroupfs driver:
// one cgroup per pod (kubelet's linux.cgroup_parent, or ocid's own
// /ocid/pod-<id> when it names none), and below it one per container, one
// for each container's conmon (cri-o's conmon_cgroup = "pod") and one for
// the pod's infra process. Paths are relative to a hierarchy's root and
// start with "/". Pure string functions: nothing here touches the host.
#ifndef OCID_PKG_CGROUPS_PATHS_H_
#define OCID_PKG_CGROUPS_PATHS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ocid {

// The pod's cgroup for `cgroup_parent` as kubelet sends it: a path
// ("/kubepods/burstable/podUID", cleaned) or a systemd slice name
// ("kubepods-burstable-podUID.slice", which the cgroupfs driver expands to
// "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podUID.slice",
// as runc does). "" or "/" give ocid's own "/ocid/pod-<pod_id>".
// InvalidArgument naming the field for any other form.
absl::StatusOr<std::string> PodCgroupPath(const std::string& cgroup_parent,
                                          const std::string& pod_id);

// True when the pod cgroup is ocid's own (no kubelet parent): ocid removes
// it with the pod; a kubelet parent is kubelet's to remove.
bool PodCgroupIsOurs(const std::string& cgroup_parent);

// The cgroups below a pod's cgroup `pod_cgroup`.
std::string ContainerCgroupPath(const std::string& pod_cgroup, const std::string& container_id);
std::string ConmonCgroupPath(const std::string& pod_cgroup, const std::string& container_id);
// The infra process sits in a leaf of its own rather than in the pod
// cgroup itself: on cgroup v2 a cgroup with processes cannot hand
// controllers to its children (the no-internal-process rule).
// Named by the pod too: pods may share a parent (tests do), and each
// removes only its own.
std::string InfraCgroupPath(const std::string& pod_cgroup, const std::string& pod_id);

// Refuses a driver ocid cannot drive here: "systemd" needs systemd as PID 1
// (checked through `proc_root`/1/comm) and its D-Bus API, which ocid does
// not speak yet; "cgroupfs" is always fine. FailedPrecondition with the
// reason.
absl::Status CheckCgroupDriver(const std::string& driver, const std::string& proc_root = "/proc");

}  // namespace ocid

#endif  // OCID_PKG_CGROUPS_PATHS_H_
