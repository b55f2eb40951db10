// What ocid remembers of a pod sandbox, persisted so that a restarted ocid
// manages the pods that run.
#ifndef OCID_PKG_SANDBOX_SANDBOX_RECORD_H_
#define OCID_PKG_SANDBOX_SANDBOX_RECORD_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/base/subprocess.h"
#include "pkg/sandbox/namespaces.h"
#include "pkg/security/userns.h"

namespace ocid {

struct SandboxRecord {
  std::string id;
  std::string name, pod_namespace, uid;
  uint32_t attempt = 0;
  // In flight: RunPod stores the record before its first side effect and
  // clears this at its end; a record still creating after a restart is
  // undone by Recover. Hidden from Get, List and Status meanwhile.
  bool creating = false;
  // RemovePodSandbox began: set before its first side effect, so a removal
  // cut short is finished at the next start (FinishRemovals).
  bool removing = false;
  bool ready = true;  // SANDBOX_READY: not stopped, and its infra and pins live
  // StopPod ran: the network, pins and infra are gone. A pod not ready but
  // not stopped (its infra died) still owes its CNI DEL.
  bool stopped = false;
  int64_t created_at = 0;
  std::map<std::string, std::string> labels, annotations;
  std::string runtime_handler;  // as kubelet asked: "" for the default
  // The configured runtime that handler named when the pod was made, so a
  // default_runtime reloaded later moves no existing pod. "" only in
  // records from before it was kept, until Recover resolves it.
  std::string runtime;
  std::string config_json;  // the PodSandboxConfig as proto3 JSON
  PinnedNamespaces namespaces;  // namespaces.user: a pod user namespace's pin
  // The mappings of the pod's user namespace; nullopt for the host's (and in
  // records from before user namespaces, which all ran in the host's).
  std::optional<UserNamespaceMappings> userns;
  pid_t infra_pid = 0;      // 0: no shared PID namespace
  // With infra_pid, the infra's identity: signalled only while it matches
  // (a reused pid is another process). 0 in records written before it was
  // kept.
  uint64_t infra_start_time = 0;
  std::string hostname;     // the config's, or the node's when it was empty
  std::string files_dir;    // resolv.conf, hosts, hostname, shm
  std::string shm_path;     // "" when the pod uses the host's IPC
  std::string log_directory;
  std::string cgroup_parent;
  std::vector<std::string> ips;  // from CNI, IPv4 first; empty for host network
  // SELinux labels of the pod (pkg/security/selinux.h); the mount label's
  // level is the pod's MCS level, held while the record exists. Both ""
  // where SELinux is off, and in records from before they were kept.
  std::string selinux_process_label;
  std::string selinux_mount_label;

  // kubelet's name for the pod, unique among live sandboxes.
  std::string ReservedName() const;
  ProcessIdentity Infra() const { return {infra_pid, infra_start_time}; }

  std::string Serialize() const;
  static absl::StatusOr<SandboxRecord> Parse(const std::string& text);
};

}  // namespace ocid

#endif  // OCID_PKG_SANDBOX_SANDBOX_RECORD_H_
