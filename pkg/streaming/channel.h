// What the streaming server drives for one exec or attach session: a
// process's (or a container's) stdio, its terminal size and its end. pkg/oci
// implements it; the server knows nothing of runtimes.
#ifndef OCID_PKG_STREAMING_CHANNEL_H_
#define OCID_PKG_STREAMING_CHANNEL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid::streaming {

enum class OutputKind { kStdout, kStderr };

struct TerminalSize {
  uint16_t width = 0;  // 0: not known yet
  uint16_t height = 0;
};

// How an exec'd command gets its stdio.
struct ExecStdio {
  bool tty = false;
  bool stdin = false;
  TerminalSize size;  // tty: the terminal's size before the command starts
};

struct Output {
  OutputKind kind = OutputKind::kStdout;
  std::string data;  // empty: all output has ended
};

class Channel {
 public:
  virtual ~Channel() = default;

  // Blocks for the next output; an empty `data` once all output ended (or
  // after Cancel).
  virtual absl::StatusOr<Output> ReadOutput() = 0;
  // Input for the process; FailedPrecondition when it takes none.
  virtual absl::Status WriteInput(absl::string_view data) = 0;
  // The client sent all its input.
  virtual void CloseInput() = 0;
  // The client's terminal changed size (tty sessions only).
  virtual absl::Status Resize(uint16_t width, uint16_t height) = 0;
  // After output ended: the exit code of an exec'd command; nullopt for an
  // attach, which has none of its own.
  virtual absl::StatusOr<std::optional<int>> Wait() = 0;
  // The client went away: ends the session now (an exec'd command is killed)
  // and unblocks ReadOutput. Safe from any thread.
  virtual void Cancel() = 0;
};

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_CHANNEL_H_
