// The client side of the streaming protocols, as kubectl and crictl speak
// them: for `ocic` and for the tests, which must not talk to ocid only the
// way ocid expects (the server is also checked against unmodified crictl and
// critest).
#ifndef OCID_PKG_STREAMING_CLIENT_H_
#define OCID_PKG_STREAMING_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/http_upgrade.h"
#include "pkg/streaming/spdy_session.h"
#include "pkg/streaming/tls_relay.h"
#include "pkg/streaming/websocket.h"
#include "pkg/streaming/websocket_tunnel.h"

namespace ocid::streaming {

struct Upgraded {
  std::unique_ptr<TlsRelay> tls;  // https: outlives the session above it
  std::unique_ptr<spdy::Session> session;
  std::string protocol;
};

// Connects to an http:// or https:// (not verified, as crictl's and
// critest's streaming clients) URL and upgrades to SPDY/3.1 offering
// `protocols`. An HTTP error status is FailedPrecondition (404: NotFound)
// with the server's message.
absl::StatusOr<Upgraded> DialStreaming(const std::string& url,
                                       const std::vector<std::string>& protocols);

struct WebSocketUpgraded {
  std::unique_ptr<TlsRelay> tls;  // https: outlives the connection above it
  std::shared_ptr<ws::Connection> connection;
  std::string protocol;  // "" when the server chose none
};

// Connects to an http:// streaming URL (its query kept) and upgrades to
// WebSocket offering `protocols` (none: no Sec-WebSocket-Protocol). Errors
// as DialStreaming's; a wrong Sec-WebSocket-Accept is DataLoss.
absl::StatusOr<WebSocketUpgraded> DialWebSocket(const std::string& url,
                                                const std::vector<std::string>& protocols);

struct RemoteCommandIo {
  bool tty = false;
  bool stdout = true;
  bool stderr = true;  // ignored with tty: the terminal merges them
  // Input: these bytes, then end of input...
  std::optional<std::string> stdin_data;
  // ...or whatever this fd gives until its end (the caller's terminal).
  int stdin_fd = -1;
  // Terminal sizes to send, in order, once the streams are open (tty only).
  std::vector<std::pair<uint16_t, uint16_t>> sizes;
  // Later sizes (tty only): called on a thread of its own with a function
  // that sends one; it may block (waiting for SIGWINCH) and is left running
  // when the session ends, so it must only touch what outlives the process
  // (ocic's terminal).
  std::function<void(std::function<void(uint16_t width, uint16_t height)> send)> watch_resizes;
  std::function<void(absl::string_view)> on_stdout;
  std::function<void(absl::string_view)> on_stderr;
  // Offered protocols, newest first (tests pin older ones).
  std::vector<std::string> protocols = {"v5.channel.k8s.io", "v4.channel.k8s.io",
                                        "v3.channel.k8s.io", "v2.channel.k8s.io"};
  // WebSocket instead of SPDY, as kubectl and crictl >= 1.30 prefer, offering
  // `websocket_protocols`. Over v4 the end of stdin cannot be told (v5's
  // close signal does it), so stdin stays open until the session ends.
  bool websocket = false;
  std::vector<std::string> websocket_protocols = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
};

struct RemoteCommandResult {
  std::string protocol;    // the one the server chose
  int exit_code = 0;       // the command's (0 for an attach)
  std::string failure;     // a failure other than an exit code, "" if none
};

// Runs one exec or attach session to its end.
absl::StatusOr<RemoteCommandResult> RunRemoteCommand(const std::string& url,
                                                     const RemoteCommandIo& io);

// A port-forward session: each Forward carries one connection to a port of
// the pod.
class PortForwarder {
 public:
  // SPDY/3.1 upgrade (portforward.k8s.io).
  static absl::StatusOr<std::unique_ptr<PortForwarder>> Dial(const std::string& url);
  // The same SPDY protocol inside a WebSocket (SPDY/3.1+portforward.k8s.io),
  // as kubectl >= 1.30 dials.
  static absl::StatusOr<std::unique_ptr<PortForwarder>> DialWebSocket(const std::string& url);
  ~PortForwarder();

  // Copies between `local` (a connected socket) and `port` in the pod until
  // both sides end. The server's error message, if it sent one, is an error.
  absl::Status Forward(int local, int32_t port);

 private:
  explicit PortForwarder(Upgraded upgraded) : upgraded_(std::move(upgraded)) {}
  PortForwarder(WebSocketUpgraded websocket, std::unique_ptr<WebSocketTunnel> tunnel,
                Upgraded upgraded)
      : websocket_(std::move(websocket)),
        tunnel_(std::move(tunnel)),
        upgraded_(std::move(upgraded)) {}
  // Over WebSocket: the connection, then the tunnel in it, then the session
  // in that (destroyed in the reverse order).
  WebSocketUpgraded websocket_;
  std::unique_ptr<WebSocketTunnel> tunnel_;
  Upgraded upgraded_;
  std::atomic<int> next_request_{0};
};

// A port-forward session over WebSocket (kubelet's channels): one
// connection to each of `ports` in the pod, carried whole by one session.
class WebSocketPortForward {
 public:
  // `ports` are those the URL's request named, or any when it named none
  // (they are sent as the `port` query parameter). `protocols` are offered
  // (tests pin the base64 form).
  static absl::StatusOr<std::unique_ptr<WebSocketPortForward>> Dial(
      const std::string& url, std::vector<int32_t> ports,
      std::vector<std::string> protocols = {"v4.channel.k8s.io"});
  ~WebSocketPortForward();

  // Copies between `locals[i]` (connected sockets, one per port) and the
  // i-th port until the server ends the session (every pod side ended) or
  // Close. The end of a local side cannot be told to the pod (the protocol
  // has no half-close). The first error message of a port is an error.
  absl::Status Copy(const std::vector<int>& locals);
  // Ends the session; Copy returns. Safe from any thread.
  void Close();

 private:
  WebSocketPortForward(WebSocketUpgraded upgraded, std::vector<int32_t> ports)
      : upgraded_(std::move(upgraded)), ports_(std::move(ports)) {}
  WebSocketUpgraded upgraded_;
  const std::vector<int32_t> ports_;
};

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_CLIENT_H_
