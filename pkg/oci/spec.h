// The OCI runtime spec (config.json) of a container, built from the CRI
// request, the image config and what the sandbox provides.
#ifndef OCID_PKG_OCI_SPEC_H_
#define OCID_PKG_OCI_SPEC_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/runtime/v1/api.pb.h"
#include "nlohmann/json.hpp"
#include "pkg/config/config.h"
#include "pkg/image/manifest.h"
#include "pkg/security/apparmor.h"
#include "pkg/security/seccomp.h"
#include "pkg/security/selinux.h"
#include "pkg/security/userns.h"

namespace ocid {

// What the pod gives each of its containers. An empty namespace path means
// the host's namespace of that kind (host network, host IPC, ...).
struct SandboxContext {
  std::string id;
  std::string hostname;
  std::string net_ns_path;  // "/run/ocid/netns/<id>"
  std::string ipc_ns_path;
  std::string uts_ns_path;
  // Set when the pod shares one PID namespace (NamespaceMode POD): the infra
  // process's /proc/<pid>/ns/pid. Empty with NamespaceMode CONTAINER (own
  // namespace) and NODE (host, see host_pid).
  std::string pid_ns_path;
  bool host_pid = false;
  std::string resolv_conf_path;  // files bind-mounted into each container
  std::string hosts_path;
  std::string hostname_path;
  std::string shm_path;       // the pod's /dev/shm (a sized tmpfs)
  std::string cgroup_parent;  // from LinuxPodSandboxConfig, may be ""
  // A pod user namespace: its pin, joined (linux.namespaces user), and its
  // mappings, which runc wants in linux.uidMappings/gidMappings too.
  // Empty/nullopt: the host's user namespace.
  std::string user_ns_path;
  std::optional<UserNamespaceMappings> userns;
};

struct ContainerSpecInputs {
  std::string container_id;
  const runtime::v1::ContainerConfig* config = nullptr;
  const ImageConfig* image = nullptr;
  const SandboxContext* sandbox = nullptr;
  std::string rootfs;  // the mounted root file system (overlay)
  // The lowest oom_score_adj this host lets us set (0 when root lacks
  // CAP_SYS_RESOURCE); lower requested values are raised to it.
  int min_oom_score_adj = -1000;
  // "cgroupfs" or "systemd": the form of linux.cgroupsPath.
  std::string cgroup_manager = "cgroupfs";
  // Builds linux.seccomp; null: a profile other than Unconfined is refused.
  SeccompProfiles* seccomp = nullptr;
  // Where AppArmor's state is read (tests give a fake); null: the host's.
  const AppArmorHost* apparmor_host = nullptr;
  // The container's SELinux labels (Selinux::ContainerLabels): become
  // process.selinuxLabel and linux.mountLabel; empty where SELinux is off.
  SelinuxLabels selinux;
  // Whether the host's memory cgroups account swap (BuildResources).
  bool swap_accounting = true;
  // ocid.runtime.default_capabilities.
  std::vector<std::string> default_capabilities = Config().default_capabilities;
  // For each mount (by index in config->mounts) with uid/gid mappings: where
  // its idmapped tree of the host path is attached (ContainerManager makes
  // it; runc 1.1 knows no per-mount mappings). The spec binds that path, an
  // ordinary bind mount, which keeps the idmap. A mapped mount missing here
  // is an internal error.
  std::map<int, std::string> idmapped_sources;
};

// Capability names as runtime-spec spells them (CAP_ added, upper case, each
// once); InvalidArgument naming field[i] for an unknown one or "ALL".
absl::StatusOr<std::vector<std::string>> NormalizeCapabilities(
    const std::vector<std::string>& names, const std::string& field);

// linux.resources (cpu, memory, hugepageLimits, unified) for `resources`,
// as CreateContainer writes them and `runtime update --resources` takes
// them. InvalidArgument names the field under `prefix`.
// memory.swap is the OCI memory+swap total. An explicit
// memory_swap_limit_in_bytes is used as given. A memory limit without one
// gets swap equal to the limit, i.e. no swap beyond it (v1
// memory.memsw.limit_in_bytes = the limit, v2 memory.swap.max 0), as
// containerd and cri-o set, when `swap_accounting` says the host's memory
// cgroups account swap (Cgroups::SwapAccounting); without it runc could not
// write memsw on v1, so nothing is set.
absl::StatusOr<nlohmann::json> BuildResources(const runtime::v1::LinuxContainerResources& resources,
                                              const std::string& prefix, bool swap_accounting);

// Builds config.json. Process args follow kubelet's rules: command replaces
// the image's Entrypoint (and drops its Cmd), args replace Cmd. Env is the
// image's with the request's on top. The user comes from
// run_as_user/run_as_username/run_as_group or the image's User, names
// resolved in the rootfs's /etc/passwd and /etc/group (read inside rootfs,
// never following links out of it); supplemental groups from /etc/group plus
// the request's. CRI mounts (readonly, propagation; selinux_relabel is done
// by the caller, before: Selinux::Relabel), SELinux labels from inputs,
// devices, resources, security context (privileged, capabilities add/drop,
// no_new_privs, readonly rootfs, masked/readonly paths, seccomp: none for a
// privileged container, whatever it asks, as containerd and cri-o do;
// AppArmor: pkg/security/apparmor.h), tty. InvalidArgument
// names the field at fault ("config.mounts[1].container_path: not absolute").
absl::StatusOr<nlohmann::json> BuildContainerSpec(const ContainerSpecInputs& inputs);

// The checks of config.linux.security_context's user fields that need no
// rootfs, so that CreateContainer can refuse bad ones before it makes
// anything: negative ids, and run_as_group without run_as_user or
// run_as_username (a group alone would pair with the image's user, which
// kubelet never means; containerd and cri-o refuse it too).
absl::Status ValidateUserFields(const runtime::v1::LinuxContainerSecurityContext& sc);

// For a pod with its own user namespace, what ValidateUserFields checks plus
// the request's own ids against the pod's mappings (`userns`), so that an id
// the kernel would refuse to switch to is refused before anything is made,
// not by the runtime's setuid: InvalidArgument naming the field
// ("config.linux.security_context.run_as_user: uid 70000 is not mapped in
// the pod's user namespace", "...supplemental_groups[1]: ..."). The ids of
// a run_as_username or the image's user are known only from the rootfs:
// BuildContainerSpec checks those, naming where they came from.
absl::Status ValidateUserFieldsMapped(const runtime::v1::LinuxContainerSecurityContext& sc,
                                      const UserNamespaceMappings& userns);

}  // namespace ocid

#endif  // OCID_PKG_OCI_SPEC_H_
