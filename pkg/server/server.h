// ocid's gRPC server: the CRI services on a unix socket.
#ifndef OCID_PKG_SERVER_SERVER_H_
#define OCID_PKG_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/config/config.h"
#include "pkg/server/runtime_service.h"

namespace ocid {

class CriServer {
 public:
  // Serves on config.listen: creates its parent dirs, replaces a stale socket
  // file, refuses (FailedPrecondition) when a live server answers on it, and
  // leaves the socket mode 0660. `config` must outlive the server.
  static absl::StatusOr<std::unique_ptr<CriServer>> Start(const Config& config);

  // Stops taking calls, lets in-flight calls finish for up to `grace`, then
  // cancels the rest and removes the socket. Idempotent.
  void Shutdown(absl::Duration grace);

  ~CriServer();

 private:
  CriServer(const Config& config);

  const Config& config_;
  RuntimeService runtime_service_;
  ImageService image_service_;
  std::unique_ptr<grpc::Server> server_;
  bool shut_down_ = false;
};

// Makes `path` ready for a new listener (the steps Start takes first).
absl::Status PrepareSocketPath(const std::string& path);

}  // namespace ocid

#endif  // OCID_PKG_SERVER_SERVER_H_
