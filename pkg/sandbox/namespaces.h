// A pod's namespaces, pinned by bind mounts so they outlive any process:
//   <pin_dir>/{net,ipc,uts,user}/<pod id>
// (user only for a pod user namespace, which then owns the others)
// made by a small helper of ours (ocid-pinns) that unshares them and bind
// mounts /proc/self/ns/* before it exits. When the pod shares one PID
// namespace, an infra process of ours (ocid-infra) holds it as PID 1 and
// reaps zombies.
#ifndef OCID_PKG_SANDBOX_NAMESPACES_H_
#define OCID_PKG_SANDBOX_NAMESPACES_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/base/unique_fd.h"
#include "pkg/security/userns.h"

namespace ocid {

struct PinnedNamespaces {
  std::string net;  // "" when not pinned (host namespace)
  std::string ipc;
  std::string uts;
  std::string user;  // "" for the host's user namespace
};

struct PinRequest {
  std::string pod_id;
  std::string pin_dir;        // e.g. /run/ocid/ns
  std::string pinns_binary;   // absolute path of ocid-pinns
  bool net = true;            // false for host network
  bool ipc = true;
  bool uts = true;
  std::string hostname;       // set in the new UTS namespace
  // Sysctls for the new namespaces ("net.ipv4.ip_forward" -> "1").
  std::vector<std::pair<std::string, std::string>> sysctls;
  // A pod user namespace with these mappings, made first; the others are
  // made inside it. nullopt: the host's.
  std::optional<UserNamespaceMappings> userns;
};

// Where PinNamespaces pins them: known before it runs, so that a record can
// name the pins to remove before they exist.
PinnedNamespaces PinPaths(const PinRequest& request);

// Creates and pins the namespaces; brings up loopback in the new network
// namespace. On failure nothing is left pinned.
absl::StatusOr<PinnedNamespaces> PinNamespaces(const PinRequest& request);

// Unmounts and removes the pins. Idempotent: missing pins are fine.
absl::Status UnpinNamespaces(const PinnedNamespaces& pinned);

// A user namespace of its own with `mappings` (an idmapped mount's, whose
// mappings are not the pod's): ocid-pinns makes and pins it as
// <pin_dir>/user/<name>, it is opened and unpinned at once; the fd holds it.
// On failure nothing is left pinned (unless ocid dies meanwhile:
// RemoveUserNamespacePins).
absl::StatusOr<UniqueFd> MakeUserNamespace(const std::string& pinns_binary,
                                           const std::string& pin_dir, const std::string& name,
                                           const UserNamespaceMappings& mappings);

// Removes every pin <pin_dir>/user/<prefix>* (what MakeUserNamespace calls
// cut short by a crash left). Idempotent.
absl::Status RemoveUserNamespacePins(const std::string& pin_dir, const std::string& prefix);

// Starts ocid-infra (absolute path) in the pod's pinned namespaces with a new
// PID namespace; returns its pid on the host. It runs until killed.
// Its cgroup is the caller's to set (LinuxSandboxHost moves it). With an
// `exec_label` other than "", ocid-infra is executed with that SELinux
// label (Subprocess's exec_label), which the infra it forks keeps.
absl::StatusOr<pid_t> StartInfraProcess(const std::string& infra_binary,
                                        const PinnedNamespaces& pinned,
                                        const std::string& exec_label = "");

// The kernel's limit on a UTS hostname (HOST_NAME_MAX): sethostname refuses
// longer ones with EINVAL.
inline constexpr size_t kMaxHostnameBytes = 64;

// The hostname a pod gets: the requested one, or the node's own when the
// request leaves it empty (what kubelet expects, and what containerd and
// cri-o do; a pod's metadata name can be longer than the kernel allows).
absl::StatusOr<std::string> PodHostname(const std::string& requested);

// Writes the pod's resolv.conf (from DNSConfig; the host's when empty),
// hosts (localhost + the pod's hostname) and hostname files into `dir`.
struct PodFiles {
  std::string resolv_conf;
  std::string hosts;
  std::string hostname;
};
absl::StatusOr<PodFiles> WritePodFiles(const std::string& dir, const std::string& hostname,
                                       const std::vector<std::string>& dns_servers,
                                       const std::vector<std::string>& dns_searches,
                                       const std::vector<std::string>& dns_options);

// Mounts a tmpfs of `size_bytes` (64 MiB when 0) at `path` for the pod's
// /dev/shm, with SELinux context `mount_label` unless it is "" (the
// kernel refuses context= where SELinux is off). UnmountShm is idempotent.
absl::Status MountShm(const std::string& path, int64_t size_bytes,
                      const std::string& mount_label = "");
absl::Status UnmountShm(const std::string& path);

}  // namespace ocid

#endif  // OCID_PKG_SANDBOX_NAMESPACES_H_
