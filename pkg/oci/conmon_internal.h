// Helpers behind OciRuntime (runtime.cc): spawning conmon and the runtime
// binary, conmon's sync protocol, and reading conmon's CRI log files. Not part
// of //pkg/oci's public surface; exposed here so tests can reach the parsers.
#ifndef OCID_PKG_OCI_CONMON_INTERNAL_H_
#define OCID_PKG_OCI_CONMON_INTERNAL_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace oci_internal {

// A child started with posix_spawn (safe in a multithreaded daemon). It is
// SIGKILLed and reaped when destroyed unless Wait() has reaped it already.
// Needs pidfd_open (Linux 5.3) to wait with a timeout.
class Subprocess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is an absolute path
    std::vector<std::string> env;   // "NAME=value" entries added to (or replacing) ours
    int stdout_fd = -1;             // -1 means /dev/null
    int stderr_fd = -1;             // -1 means /dev/null
    std::vector<int> extra_fds;     // become fds 3, 4, ... in the child
  };

  // stdin is /dev/null; signal mask and dispositions are reset to defaults.
  static absl::StatusOr<Subprocess> Spawn(const Options& options);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // Waits up to `timeout` (absl::InfiniteDuration() for ever) for the child
  // to exit and returns its wait status; DeadlineExceeded if it still runs.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  Subprocess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  void KillAndReap();

  pid_t pid_ = -1;  // -1 once reaped or moved from
  UniqueFd pidfd_;
  int wait_status_ = 0;
};

// An anonymous in-memory file (memfd) to capture a child's output, and what
// was written to it (at most `max_bytes`).
absl::StatusOr<UniqueFd> MakeCaptureFd();
std::string ReadCaptureFd(int fd, size_t max_bytes);

// How a command ended and what it printed.
struct CommandOutput {
  int wait_status = 0;
  std::string stdout_data;
  std::string stderr_data;
};

// Runs `argv` to completion, capturing stdout and stderr apart. A command
// still running after `timeout` is killed: DeadlineExceeded.
absl::StatusOr<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout);

// "exit status N" / "killed by signal N" for a wait status.
std::string DescribeWaitStatus(int wait_status);

// The gist of a runtime's stderr: the msg="..." of runc's logrus lines (the
// last one), else the trimmed text.
std::string RuntimeMessage(absl::string_view stderr_text);

// One message conmon writes on its sync pipe: {"<key>": N} with an optional
// "message" (the runtime's error). key is "pid" for create, "exit_code" for
// exec.
struct SyncMessage {
  int value = 0;
  std::string message;
};
absl::StatusOr<SyncMessage> ParseSyncMessage(absl::string_view text, absl::string_view key);

// Waits up to `timeout` for one message on the SOCK_SEQPACKET `fd`.
// DeadlineExceeded on timeout; Unavailable when conmon closed it unsaid.
absl::StatusOr<SyncMessage> ReadSyncMessage(int fd, absl::string_view key, absl::Duration timeout);

// stdout and stderr split out of a CRI log ("<RFC3339Nano> stdout|stderr F|P
// <text>" per line; P marks a partial line, whose text has no newline).
struct CriLogStreams {
  std::string stdout_data;
  std::string stderr_data;
};
// Adds one line (without its trailing '\n') to `streams`, each stream capped
// at `max_per_stream` bytes. Lines that are not CRI log lines are skipped.
void AppendCriLogLine(absl::string_view line, size_t max_per_stream, CriLogStreams& streams);
absl::StatusOr<CriLogStreams> ReadCriLog(const std::string& path, size_t max_per_stream);

}  // namespace oci_internal
}  // namespace ocid

#endif  // OCID_PKG_OCI_CONMON_INTERNAL_H_
