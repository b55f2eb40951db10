#include "pkg/streaming/websocket_tunnel.h"

#include <sys/socket.h>

#include <cerrno>

#include "pkg/base/log.h"
#include "pkg/streaming/http_upgrade.h"

namespace ocid::streaming {

absl::StatusOr<std::unique_ptr<WebSocketTunnel>> WebSocketTunnel::Start(
    ws::Connection& connection) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair for a WebSocket tunnel");
  }
  std::unique_ptr<WebSocketTunnel> tunnel(
      new WebSocketTunnel(connection, UniqueFd(pair[0]), UniqueFd(pair[1])));
  tunnel->inbound_ = std::thread([t = tunnel.get()] { t->Inbound(); });
  tunnel->outbound_ = std::thread([t = tunnel.get()] { t->Outbound(); });
  return tunnel;
}

WebSocketTunnel::WebSocketTunnel(ws::Connection& connection, UniqueFd ours, UniqueFd theirs)
    : connection_(connection), ours_(std::move(ours)), theirs_(std::move(theirs)) {}

WebSocketTunnel::~WebSocketTunnel() {
  ::shutdown(ours_.get(), SHUT_RDWR);  // ends Outbound's recv and Inbound's sends
  connection_.Shutdown();              // ends Inbound's Receive
  inbound_.join();
  outbound_.join();
}

void WebSocketTunnel::Inbound() {
  for (std::optional<ws::Message> m = connection_.Receive(); m.has_value();
       m = connection_.Receive()) {
    if (m->opcode != ws::Opcode::kBinary) {
      OCID_LOG(kWarn) << "streaming: a text message in a WebSocket tunnel; closing it";
      connection_.Close(ws::kCloseProtocolError, absl::ZeroDuration());
      break;
    }
    if (!SendAll(ours_.get(), m->data).ok()) break;
  }
  ::shutdown(ours_.get(), SHUT_WR);  // the peer's end of stream
}

void WebSocketTunnel::Outbound() {
  char buffer[64 << 10];
  for (;;) {
    ssize_t n = ::recv(ours_.get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      connection_.Shutdown();
      return;
    }
    if (n == 0) break;
    if (!connection_.SendBinary(absl::string_view(buffer, static_cast<size_t>(n))).ok()) {
      return;
    }
  }
  // Our end of stream: the close frame, then a moment for the peer's.
  connection_.Close(ws::kCloseNormal);
}

}  // namespace ocid::streaming
