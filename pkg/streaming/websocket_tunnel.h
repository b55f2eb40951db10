// A byte stream carried in a WebSocket's binary messages, as Kubernetes'
// `SPDY/3.1+portforward.k8s.io` subprotocol carries a whole SPDY connection
// (kubectl >= 1.30 port-forward): each message is the next bytes of the
// stream, a close frame its end. There is no HTTP upgrade inside the tunnel;
// SPDY frames start with the first message.
//
// The tunnel hands out one end of a socket pair; two threads copy between
// the other end and the WebSocket, so that whatever speaks over a socket (our
// spdy::Session) speaks over the tunnel unchanged.
#ifndef OCID_PKG_STREAMING_WEBSOCKET_TUNNEL_H_
#define OCID_PKG_STREAMING_WEBSOCKET_TUNNEL_H_

#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/websocket.h"

namespace ocid::streaming {

inline constexpr char kPortForwardTunnelProtocol[] = "SPDY/3.1+portforward.k8s.io";

class WebSocketTunnel {
 public:
  // Starts copying at once. `connection` must outlive the tunnel.
  static absl::StatusOr<std::unique_ptr<WebSocketTunnel>> Start(ws::Connection& connection);
  // Ends both copies: the stream's user sees its socket shut down.
  ~WebSocketTunnel();
  WebSocketTunnel(const WebSocketTunnel&) = delete;
  WebSocketTunnel& operator=(const WebSocketTunnel&) = delete;

  // The stream's end: bytes written here go out as binary messages; the
  // peer's messages are read here. Shutting down its write side sends our
  // close; the peer's close (or a text message, which the tunnel does not
  // carry) ends what can be read. Valid once: the caller owns it.
  UniqueFd TakeStream() { return std::move(theirs_); }

 private:
  WebSocketTunnel(ws::Connection& connection, UniqueFd ours, UniqueFd theirs);
  void Inbound();
  void Outbound();

  ws::Connection& connection_;
  UniqueFd ours_;    // the copies' end of the pair
  UniqueFd theirs_;  // until taken
  std::thread inbound_, outbound_;
};

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_WEBSOCKET_TUNNEL_H_
