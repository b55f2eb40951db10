// Helpers behind OciRuntime (runtime.cc): conmon's sync protocol and reading
// conmon's CRI log files. Not part of //pkg/oci's public surface; exposed here
// so tests can reach the parsers.
#ifndef OCID_PKG_OCI_CONMON_INTERNAL_H_
#define OCID_PKG_OCI_CONMON_INTERNAL_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ocid {
namespace oci_internal {

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
