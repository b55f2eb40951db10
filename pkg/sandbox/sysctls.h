// Which sysctls a pod may set: only those its own namespaces scope (as
// kubelet's namespaced list has them), so that no pod changes the host.
#ifndef OCID_PKG_SANDBOX_SYSCTLS_H_
#define OCID_PKG_SANDBOX_SYSCTLS_H_

#include <google/protobuf/map.h>

#include <string>

#include "absl/status/status.h"

namespace ocid {

// OK when each of `sysctls` (dots or slashes) is namespaced and its
// namespace is the pod's own: kernel.shm*, kernel.msg*, kernel.sem and
// fs.mqueue.* need the pod's IPC namespace, net.* its network namespace.
// Otherwise InvalidArgument naming the key (config.linux.sysctls["..."]).
absl::Status CheckPodSysctls(const google::protobuf::Map<std::string, std::string>& sysctls,
                             bool own_ipc, bool own_network);

}  // namespace ocid

#endif  // OCID_PKG_SANDBOX_SYSCTLS_H_
