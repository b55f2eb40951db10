// Kubernetes' remote command protocol over a SPDY session (exec and
// attach): the client opens an error stream and one stream per stdio it
// wants (plus resize for a tty, from v3); we pump them to a Channel and end
// with the status on the error stream (from v4 a metav1.Status JSON, with the
// exit code of a failed command as the ExitCode cause).
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

// Serves one session to its end: waits for the streams, opens the channel,
// pumps, reports the status. Returns when the session is over.
// `open` gets the terminal's size when the session has one: the client's
// first resize, waited for briefly (kubectl sends it at once), so that a
// command's first look at its terminal sees the right size.
void ServeRemoteCommand(
    spdy::Session& session, const RemoteCommandOptions& options,
    const std::function<absl::StatusOr<std::unique_ptr<Channel>>(TerminalSize)>& open);

// The error stream's status for v4 and later: success, a command's non-zero
// exit, or another failure.
std::string StatusJson(const absl::Status& error, std::optional<int> exit_code);

// Parses the resize stream's concatenated {"Width":W,"Height":H} objects
// from `buffer`, consuming whole ones; calls `resize` for each.
absl::Status ParseResizeEvents(std::string& buffer,
                               const std::function<void(uint16_t, uint16_t)>& resize);

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_REMOTE_COMMAND_H_
