#include "pkg/server/streaming_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "pkg/base/netns.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

// localhost:port, IPv4 first, as kubelet's port-forward does.
absl::StatusOr<UniqueFd> DialLocalhost(int32_t port) {
  absl::Status last;
  for (int family : {AF_INET, AF_INET6}) {
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) continue;
    sockaddr_storage address{};
    socklen_t length;
    if (family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      v4->sin_family = AF_INET;
      v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      v4->sin_port = htons(static_cast<uint16_t>(port));
      length = sizeof(*v4);
    } else {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
      v6->sin6_family = AF_INET6;
      v6->sin6_addr = in6addr_loopback;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      length = sizeof(*v6);
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), length) == 0) {
      // As kubelet's (Go's) dial: what the client sent goes on at once, not
      // held back by Nagle's algorithm behind an unacknowledged write.
      int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return fd;
    }
    last = absl::ErrnoToStatus(errno, absl::StrCat("connect to localhost:", port));
  }
  return last;
}

}  // namespace

absl::StatusOr<std::unique_ptr<streaming::Channel>> StreamingBackend::Exec(
    const streaming::ExecRequest& request, streaming::TerminalSize size) {
  return containers_.StartExec(request.container_id, request.cmd,
                               streaming::ExecStdio{request.tty, request.stdin, size});
}

absl::StatusOr<std::unique_ptr<streaming::Channel>> StreamingBackend::Attach(
    const streaming::AttachRequest& request) {
  return containers_.Attach(request.container_id, request.stdin);
}

absl::StatusOr<UniqueFd> StreamingBackend::DialPod(const std::string& pod_id, int32_t port) {
  ASSIGN_OR_RETURN(SandboxRecord pod, pods_.Get(pod_id));
  if (!pod.ready) return absl::FailedPreconditionError("pod " + pod.id + " is not ready");
  if (pod.namespaces.net.empty()) return DialLocalhost(port);
  absl::StatusOr<UniqueFd> conn = absl::InternalError("not dialled");
  RETURN_IF_ERROR(
      RunInNetworkNamespace(pod.namespaces.net, [&] { conn = DialLocalhost(port); }));
  return conn;
}

}  // namespace ocid
