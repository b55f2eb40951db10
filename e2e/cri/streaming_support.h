// What the streaming suites share: the Exec/Attach/PortForward calls and a
// local listener that forwards each connection it accepts through a
// port-forward session, as `kubectl port-forward` (and critest) do.
#ifndef OCID_E2E_CRI_STREAMING_SUPPORT_H_
#define OCID_E2E_CRI_STREAMING_SUPPORT_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "e2e/cri/cri_suite.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/client.h"

namespace ocid::e2e {

class StreamingTest : public CriTest {
 protected:
  absl::StatusOr<std::string> ExecUrl(const v1::ExecRequest& request) {
    v1::ExecResponse response;
    RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::Exec, request, &response));
    return response.url();
  }
  absl::StatusOr<std::string> AttachUrl(const v1::AttachRequest& request) {
    v1::AttachResponse response;
    RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::Attach, request, &response));
    return response.url();
  }
  absl::StatusOr<std::string> PortForwardUrl(const std::string& pod_id) {
    v1::PortForwardRequest request;
    request.set_pod_sandbox_id(pod_id);
    v1::PortForwardResponse response;
    RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::PortForward, request, &response));
    return response.url();
  }

  struct Session {
    streaming::RemoteCommandResult result;
    std::string out, err;
  };
  // Runs a remote command session to its end, collecting its output.
  absl::StatusOr<Session> Run(const std::string& url, streaming::RemoteCommandIo io = {}) {
    Session session;
    io.on_stdout = [&](absl::string_view d) { absl::StrAppend(&session.out, d); };
    io.on_stderr = [&](absl::string_view d) { absl::StrAppend(&session.err, d); };
    ASSIGN_OR_RETURN(session.result, streaming::RunRemoteCommand(url, io));
    return session;
  }
};

// Listens on 127.0.0.1:`local_port`; each accepted connection is forwarded
// to `remote_port` of the pod. Stops (and joins) when destroyed.
class LocalPortForward {
 public:
  static absl::StatusOr<std::unique_ptr<LocalPortForward>> Start(const std::string& url,
                                                                 int local_port, int remote_port) {
    ASSIGN_OR_RETURN(std::unique_ptr<streaming::PortForwarder> forwarder,
                     streaming::PortForwarder::Dial(url));
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(local_port));
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener.get(), 16) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("listen on 127.0.0.1:", local_port));
    }
    return std::unique_ptr<LocalPortForward>(
        new LocalPortForward(std::move(forwarder), std::move(listener), remote_port));
  }

  ~LocalPortForward() {
    ::shutdown(listener_.get(), SHUT_RDWR);
    acceptor_.join();
    for (auto& [fd, thread] : connections_) ::shutdown(fd.get(), SHUT_RDWR);
    for (auto& [fd, thread] : connections_) thread.join();
  }

  std::atomic<int> failures{0};

 private:
  LocalPortForward(std::unique_ptr<streaming::PortForwarder> forwarder, UniqueFd listener,
                   int remote_port)
      : forwarder_(std::move(forwarder)), listener_(std::move(listener)), remote_(remote_port) {
    acceptor_ = std::thread([this] {
      for (;;) {
        UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn.valid()) return;
        int fd = conn.get();
        connections_.emplace_back(std::move(conn), std::thread([this, fd] {
                                    if (!forwarder_->Forward(fd, remote_).ok()) ++failures;
                                  }));
      }
    });
  }

  std::unique_ptr<streaming::PortForwarder> forwarder_;
  UniqueFd listener_;
  const int remote_;
  std::list<std::pair<UniqueFd, std::thread>> connections_;  // the acceptor's until joined
  std::thread acceptor_;
};

}  // namespace ocid::e2e

#endif  // OCID_E2E_CRI_STREAMING_SUPPORT_H_
