// CRI RuntimeService. Calls not handled here answer UNIMPLEMENTED (the
// generated base class) until the issue that builds them lands.
#ifndef OCID_PKG_SERVER_RUNTIME_SERVICE_H_
#define OCID_PKG_SERVER_RUNTIME_SERVICE_H_

#include "api/runtime/v1/api.grpc.pb.h"
#include "pkg/config/config.h"

namespace ocid {

class RuntimeService final : public runtime::v1::RuntimeService::Service {
 public:
  explicit RuntimeService(const Config& config) : config_(config) {}

  // runtime_status.cc
  grpc::Status Version(grpc::ServerContext* context, const runtime::v1::VersionRequest* request,
                       runtime::v1::VersionResponse* response) override;
  grpc::Status Status(grpc::ServerContext* context, const runtime::v1::StatusRequest* request,
                      runtime::v1::StatusResponse* response) override;
  grpc::Status RuntimeConfig(grpc::ServerContext* context,
                             const runtime::v1::RuntimeConfigRequest* request,
                             runtime::v1::RuntimeConfigResponse* response) override;

 private:
  const Config& config_;
};

}  // namespace ocid

#endif  // OCID_PKG_SERVER_RUNTIME_SERVICE_H_
