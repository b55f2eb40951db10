// Exec, Attach, PortForward: the request checks, then a URL of the streaming
// server that serves the session. Nothing starts until a client claims it.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pkg/base/status_macros.h"
#include "pkg/server/rpc.h"
#include "pkg/server/runtime_service.h"

namespace ocid {

namespace cri = ::runtime::v1;
namespace {

// kubelet's rules for a remote command's stdio.
absl::Status CheckStdio(bool stdin, bool stdout, bool stderr, bool tty) {
  if (!stdin && !stdout && !stderr) {
    return absl::InvalidArgumentError("one of stdin, stdout or stderr must be set");
  }
  if (tty && stderr) {
    return absl::InvalidArgumentError("tty and stderr cannot both be true: a terminal has one output");
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status RuntimeService::Exec(grpc::ServerContext*, const cri::ExecRequest* request,
                                  cri::ExecResponse* response) {
  return ServeRpc("Exec", [&]() -> absl::Status {
    if (request->container_id().empty()) {
      return absl::InvalidArgumentError("container_id is empty");
    }
    if (request->cmd().empty()) return absl::InvalidArgumentError("cmd is empty");
    RETURN_IF_ERROR(
        CheckStdio(request->stdin(), request->stdout(), request->stderr(), request->tty()));
    ASSIGN_OR_RETURN(ContainerRecord c, containers_.GetRunning(request->container_id()));
    streaming::ExecRequest exec;
    exec.container_id = c.id;
    exec.cmd.assign(request->cmd().begin(), request->cmd().end());
    exec.tty = request->tty();
    exec.stdin = request->stdin();
    exec.stdout = request->stdout();
    exec.stderr = request->stderr();
    response->set_url(streaming_.ExecUrl(std::move(exec)));
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::Attach(grpc::ServerContext*, const cri::AttachRequest* request,
                                    cri::AttachResponse* response) {
  return ServeRpc("Attach", [&]() -> absl::Status {
    if (request->container_id().empty()) {
      return absl::InvalidArgumentError("container_id is empty");
    }
    RETURN_IF_ERROR(
        CheckStdio(request->stdin(), request->stdout(), request->stderr(), request->tty()));
    ASSIGN_OR_RETURN(ContainerRecord c, containers_.GetRunning(request->container_id()));
    streaming::AttachRequest attach;
    attach.container_id = c.id;
    attach.tty = request->tty();
    attach.stdin = request->stdin();
    attach.stdout = request->stdout();
    attach.stderr = request->stderr();
    response->set_url(streaming_.AttachUrl(std::move(attach)));
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::PortForward(grpc::ServerContext*,
                                         const cri::PortForwardRequest* request,
                                         cri::PortForwardResponse* response) {
  return ServeRpc("PortForward", [&]() -> absl::Status {
    if (request->pod_sandbox_id().empty()) {
      return absl::InvalidArgumentError("pod_sandbox_id is empty");
    }
    streaming::PortForwardRequest forward;
    for (int i = 0; i < request->port_size(); ++i) {
      int32_t port = request->port(i);
      if (port < 1 || port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat("port[", i, "]: ", port, " is not a port (1-65535)"));
      }
      forward.ports.push_back(port);
    }
    ASSIGN_OR_RETURN(SandboxRecord pod, pods_.Get(request->pod_sandbox_id()));
    if (!pod.ready) {
      return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", pod.id, " is not ready"));
    }
    forward.pod_id = pod.id;
    response->set_url(streaming_.PortForwardUrl(std::move(forward)));
    return absl::OkStatus();
  });
}

}  // namespace ocid
