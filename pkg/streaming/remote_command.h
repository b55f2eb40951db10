// Kubernetes' remote command protocol (exec and attach) over either
// transport, pumped to a Channel by one shared loop (PumpRemoteCommand):
// - SPDY: the client opens an error stream and one stream per stdio it
//   wants (plus resize for a tty, from v3);
// - WebSocket: every binary message starts with its channel, 0 stdin,
//   1 stdout, 2 stderr, 3 error, 4 resize; v5 adds 255, a message [255, N]
//   saying the client closed its channel N (so stdin can end).
// Both end with the status on the error stream or channel (from v4 a
// metav1.Status JSON, with the exit code of a failed command as the ExitCode
// cause).
#ifndef OCID_PKG_STREAMING_REMOTE_COMMAND_H_
#define OCID_PKG_STREAMING_REMOTE_COMMAND_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/streaming/channel.h"
#include "pkg/streaming/spdy_session.h"
#include "pkg/streaming/websocket.h"

namespace ocid::streaming {

// Ours first: the one a client also offers wins.
extern const std::vector<std::string> kRemoteCommandProtocols;

struct RemoteCommandOptions {
  std::string protocol;  // one of kRemoteCommandProtocols
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  bool tty = false;
  absl::Duration stream_creation_timeout = absl::Seconds(30);
};

// The WebSocket subprotocols (Sec-WebSocket-Protocol) we take, as
// kubelet's: the first the client offers that is here wins (kubelet's
// order); a client offering none gets channel.k8s.io's meaning.
extern const std::vector<std::string> kWebSocketRemoteCommandProtocols;

// Opens a session's channel; a terminal session passes the terminal's size
// (the client's first resize, or 0x0 when none came soon).
using OpenChannel = std::function<absl::StatusOr<std::unique_ptr<Channel>>(TerminalSize)>;

// What a transport does for one session; the pumping between it and the
// Channel is PumpRemoteCommand's.
class CommandTransport {
 public:
  virtual ~CommandTransport() = default;
  // Output for the client (for a tty all of it comes as stdout).
  virtual void SendOutput(OutputKind kind, absl::string_view data) = 0;
  // All output was sent.
  virtual void EndOutput() = 0;
  // The session's status as the protocol words it ("": nothing to send),
  // after which the error stream ends.
  virtual void SendStatus(absl::string_view status) = 0;
  // Feeds the client's stdin (and its end) and resize events to `channel`
  // until the client sent all it will or is gone. On a thread of its own.
  virtual void PumpInput(Channel& channel) = 0;
  // A terminal session's first size, waited for at most `wait` before the
  // channel opens (kubectl sends it at once): a command's first look at its
  // terminal then sees the right size. 0x0 when none came.
  virtual TerminalSize AwaitFirstSize(absl::Duration wait) = 0;
  // Blocks until the connection is gone (the client left, or Close).
  virtual void WaitGone() = 0;
  // Ends the connection in order, so that what was sent is read.
  virtual void Close() = 0;
};

// Opens the channel, pumps its output to the transport and the transport's
// input to it, reports the status, closes. The client going away cancels
// the channel. Returns when the session is over.
void PumpRemoteCommand(CommandTransport& transport, bool tty, bool json_status,
                       const OpenChannel& open);

// Serves one SPDY session to its end: waits for the streams, then pumps.
void ServeRemoteCommand(spdy::Session& session, const RemoteCommandOptions& options,
                        const OpenChannel& open);

// Serves one WebSocket session to its end; `options.protocol` is the
// negotiated subprotocol ("" for none).
void ServeRemoteCommandWebSocket(ws::Connection& connection, const RemoteCommandOptions& options,
                                 const OpenChannel& open);

// What the error stream carries: the JSON status for v4 and later, else the
// failure's text ("" on success).
std::string StatusText(bool json, const absl::Status& error, std::optional<int> exit_code);

// The error stream's status for v4 and later: success, a command's non-zero
// exit, or another failure.
std::string StatusJson(const absl::Status& error, std::optional<int> exit_code);

// Parses the resize stream's concatenated {"Width":W,"Height":H} objects
// from `buffer`, consuming whole ones; calls `resize` for each.
absl::Status ParseResizeEvents(std::string& buffer,
                               const std::function<void(uint16_t, uint16_t)>& resize);

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_REMOTE_COMMAND_H_
