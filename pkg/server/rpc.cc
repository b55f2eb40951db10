#include "pkg/server/rpc.h"

#include <atomic>

namespace ocid {
namespace {

std::atomic<OperationMetrics*> operation_metrics{nullptr};

}  // namespace

void SetOperationMetrics(OperationMetrics* metrics) {
  operation_metrics.store(metrics, std::memory_order_release);
}

OperationMetrics* CurrentOperationMetrics() {
  return operation_metrics.load(std::memory_order_acquire);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace ocid
