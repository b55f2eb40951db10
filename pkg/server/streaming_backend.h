// What the streaming server runs, from the managers: exec and attach
// channels of containers, and connections to ports inside pods.
#ifndef OCID_PKG_SERVER_STREAMING_BACKEND_H_
#define OCID_PKG_SERVER_STREAMING_BACKEND_H_

#include <memory>
#include <string>

#include "pkg/container/container_manager.h"
#include "pkg/sandbox/sandbox_manager.h"
#include "pkg/streaming/server.h"

namespace ocid {

class StreamingBackend final : public streaming::Backend {
 public:
  StreamingBackend(SandboxManager& pods, ContainerManager& containers)
      : pods_(pods), containers_(containers) {}

  absl::StatusOr<std::unique_ptr<streaming::Channel>> Exec(const streaming::ExecRequest& request,
                                                           streaming::TerminalSize size) override;
  absl::StatusOr<std::unique_ptr<streaming::Channel>> Attach(
      const streaming::AttachRequest& request) override;
  // Connects to localhost:port in the pod's network namespace (the host's
  // for a host-network pod), from a thread that enters it and ends.
  absl::StatusOr<UniqueFd> DialPod(const std::string& pod_id, int32_t port) override;

 private:
  SandboxManager& pods_;
  ContainerManager& containers_;
};

}  // namespace ocid

#endif  // OCID_PKG_SERVER_STREAMING_BACKEND_H_
