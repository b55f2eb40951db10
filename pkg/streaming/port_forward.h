// Kubernetes' port-forward protocol.
// - SPDY (portforward.k8s.io): for each connection it forwards, the client
//   opens an error stream and a data stream sharing `port` and `requestID`
//   headers; we connect to the port in the pod and copy both ways, reporting
//   a failure on the error stream.
// - WebSocket (kubelet's: subprotocol v4.channel.k8s.io, its base64 form
//   v4.base64.channel.k8s.io, or none): one connection per port of the
//   request, the i-th port on channels 2i (data) and 2i+1 (error); the first
//   message on each channel is the port as two little-endian bytes. The
//   session ends once every port's connection ended.
// - WebSocket carrying SPDY (SPDY/3.1+portforward.k8s.io, kubectl >= 1.30):
//   the SPDY protocol above, inside a WebSocketTunnel.
#ifndef OCID_PKG_STREAMING_PORT_FORWARD_H_
#define OCID_PKG_STREAMING_PORT_FORWARD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/spdy_session.h"
#include "pkg/streaming/websocket.h"

namespace ocid::streaming {

inline constexpr char kPortForwardProtocol[] = "portforward.k8s.io";

// Serves the session until the client closes it. `allowed` empty means any
// port; `dial` connects to a port in the pod.
void ServePortForward(spdy::Session& session, const std::string& pod_id,
                      const std::vector<int32_t>& allowed,
                      const std::function<absl::StatusOr<UniqueFd>(int32_t port)>& dial);

// The WebSocket subprotocols we take for port-forward, besides none.
extern const std::vector<std::string> kWebSocketPortForwardProtocols;

// Serves one WebSocket session: dials each of `ports` (not empty) and copies
// until the pod side of every one ended or the client left.
// `protocol` is the negotiated subprotocol (its channel framing).
void ServePortForwardWebSocket(ws::Connection& connection, const std::string& protocol,
                               const std::string& pod_id, const std::vector<int32_t>& ports,
                               const std::function<absl::StatusOr<UniqueFd>(int32_t port)>& dial);

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_PORT_FORWARD_H_
