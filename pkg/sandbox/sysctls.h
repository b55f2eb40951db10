// Which sysctls a pod may set: only those its own namespaces scope (as
// kubelet's namespaced list has them), so that no pod changes the host.
#ifndef OCID_PKG_SANDBOX_SYSCTLS_H_
#define OCID_PKG_SANDBOX_SYSCTLS_H_

#include <google/protobuf/map.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ocid {

// OK when each of `sysctls` (dots or slashes) is namespaced and its
// namespace is the pod's own: kernel.shm*, kernel.msg*, kernel.sem and
// fs.mqueue.* need the pod's IPC namespace, net.* its network namespace.
// Otherwise InvalidArgument naming the key (config.linux.sysctls["..."]).
absl::Status CheckPodSysctls(const google::protobuf::Map<std::string, std::string>& sysctls,
                             bool own_ipc, bool own_network);

// ocid.runtime.default_sysctls ("name=value" each): set in every pod that has
// the namespace they scope, before the pod's own. InvalidArgument naming
// ocid.runtime.default_sysctls[i] for a malformed or host-level one.
struct DefaultSysctl {
  std::string name;  // dotted
  std::string value;
  bool ipc = false;  // needs the pod's IPC namespace; else its network's
};
absl::StatusOr<std::vector<DefaultSysctl>> ParseDefaultSysctls(
    const std::vector<std::string>& entries);

// The sysctls a pod gets: the defaults its namespaces scope, then its own
// (which win over a default of the same name), in name order.
std::vector<std::pair<std::string, std::string>> PodSysctls(
    const std::vector<DefaultSysctl>& defaults,
    const google::protobuf::Map<std::string, std::string>& own, bool own_ipc, bool own_network);

}  // namespace ocid

#endif  // OCID_PKG_SANDBOX_SYSCTLS_H_
