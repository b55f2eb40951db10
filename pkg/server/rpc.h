// The one place CRI calls meet gRPC: each handler runs through ServeRpc, which
// logs the call and turns the absl::Status of the domain into a gRPC status.
#ifndef OCID_PKG_SERVER_RPC_H_
#define OCID_PKG_SERVER_RPC_H_

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/status.h"
#include "pkg/base/log.h"

namespace ocid {

grpc::Status ToGrpcStatus(const absl::Status& status);

// Runs `handler` (returning absl::Status) for the RPC named `method`.
template <typename Handler>
grpc::Status ServeRpc(const char* method, Handler&& handler) {
  OCID_LOG(kDebug) << "rpc " << method;
  absl::Status status = std::forward<Handler>(handler)();
  if (!status.ok()) OCID_LOG(kWarn) << "rpc " << method << " failed: " << status;
  return ToGrpcStatus(status);
}

}  // namespace ocid

#endif  // OCID_PKG_SERVER_RPC_H_
