// The one place CRI calls meet gRPC: each handler runs through ServeRpc, which
// logs the call and turns the absl::Status of the domain into a gRPC status.
#ifndef OCID_PKG_SERVER_RPC_H_
#define OCID_PKG_SERVER_RPC_H_

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "pkg/base/log.h"
#include "pkg/metrics/operation_metrics.h"

namespace ocid {

grpc::Status ToGrpcStatus(const absl::Status& status);

// Where ServeRpc counts and times calls (none: null). Set once the metrics
// endpoint serves, cleared before it goes; the metrics must outlive it.
void SetOperationMetrics(OperationMetrics* metrics);
OperationMetrics* CurrentOperationMetrics();

// Runs `handler` (returning absl::Status) for the RPC named `method`.
template <typename Handler>
grpc::Status ServeRpc(const char* method, Handler&& handler) {
  OCID_LOG(kDebug) << "rpc " << method;
  absl::Time start = absl::Now();
  absl::Status status = std::forward<Handler>(handler)();
  if (!status.ok()) OCID_LOG(kWarn) << "rpc " << method << " failed: " << status;
  if (OperationMetrics* metrics = CurrentOperationMetrics()) {
    metrics->Record(method, status.code(), absl::Now() - start);
  }
  return ToGrpcStatus(status);
}

}  // namespace ocid

#endif  // OCID_PKG_SERVER_RPC_H_
