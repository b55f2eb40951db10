// The channels of interactive sessions (pkg/streaming's Channel): an exec'd
// command run by the runtime in the foreground, and an attach to conmon's
// socket. For runtime.cc and its test only.
#ifndef OCID_PKG_OCI_INTERACTIVE_INTERNAL_H_
#define OCID_PKG_OCI_INTERACTIVE_INTERNAL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/streaming/channel.h"

namespace ocid::oci_internal {

// Runs `argv` (`runtime exec --process ... --pid-file PID_FILE ID`) with a
// pseudo-terminal as its stdio (tty; sized before the runtime starts, which
// gives the container's console that size) or with pipes (stdin only when
// asked; otherwise /dev/null). `dir` is removed when the channel goes.
// Cancel kills the exec'd process (named by the pid file) and the runtime.
absl::StatusOr<std::unique_ptr<streaming::Channel>> StartExecChannel(
    std::vector<std::string> argv, std::string dir, std::string pid_file,
    const streaming::ExecStdio& stdio);

// Connects to conmon's attach socket (SOCK_SEQPACKET; what conmon sends
// starts with the pipe, 2 stdout and 3 stderr). Resize writes to conmon's
// ctl FIFO. Without `stdin`, input is dropped.
absl::StatusOr<std::unique_ptr<streaming::Channel>> ConnectAttachChannel(
    const std::string& socket_path, const std::string& ctl_path, bool stdin);

}  // namespace ocid::oci_internal

#endif  // OCID_PKG_OCI_INTERACTIVE_INTERNAL_H_
