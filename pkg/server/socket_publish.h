// Making a unix socket path appear only once something listens on it.
#ifndef OCID_PKG_SERVER_SOCKET_PUBLISH_H_
#define OCID_PKG_SERVER_SOCKET_PUBLISH_H_

#include <sys/types.h>

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace ocid {

// Where ListenThenPublish has `listen` bind for the final `path`: a hidden
// name beside it, keyed by pid. Empty when that name would not fit in
// sun_path although `path` does.
std::string PrivateSocketPath(const std::string& path, pid_t pid);

// Calls `listen(bind_path)`, which must bind and listen a unix socket at
// bind_path (gRPC's BuildAndStart does), then sets its mode to `mode` and
// renames it to `path`. So `path` appears only when it accepts, with its
// final mode: a client that polls for the path and connects at once never
// meets a socket that is bound but not yet listening (ECONNREFUSED, which a
// gRPC client sits out with a 1 s reconnect backoff).
//
// bind_path is PrivateSocketPath(path, getpid()) (a stale one is removed
// first), or `path` itself when that does not fit. `path` must not exist
// (PrepareSocketPath); if it appears meanwhile, FailedPrecondition: it is
// never replaced. On any error nothing is left at bind_path, and the caller
// must stop whatever `listen` started.
absl::Status ListenThenPublish(const std::string& path, mode_t mode,
                               absl::FunctionRef<absl::Status(const std::string&)> listen);

}  // namespace ocid

#endif  // OCID_PKG_SERVER_SOCKET_PUBLISH_H_
