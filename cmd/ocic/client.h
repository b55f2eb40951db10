// ocic's connection to ocid: both CRI services on one channel, and a call
// helper that applies the deadline and turns gRPC errors into absl::Status.
#ifndef OCID_CMD_OCIC_CLIENT_H_
#define OCID_CMD_OCIC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/runtime/v1/api.grpc.pb.h"

namespace ocid::ocic {

inline constexpr char kDefaultEndpoint[] = "/run/ocid/ocid.sock";

// "unix:///run/x.sock", "unix:/run/x.sock" or "/run/x.sock" -> "/run/x.sock".
absl::StatusOr<std::string> SocketPathOf(const std::string& endpoint);

class Client {
 public:
  // Fails when no socket is at the endpoint, naming it. `timeout` bounds each
  // call; zero means none (image pulls can take long).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& endpoint,
                                                         absl::Duration timeout);

  runtime::v1::RuntimeService::Stub& runtime() { return *runtime_; }
  runtime::v1::ImageService::Stub& images() { return *images_; }

  // Runs `rpc(context)`; an error becomes "<method>: <message>" with the
  // gRPC code kept.
  template <typename Rpc>
  absl::Status Call(const char* method, Rpc&& rpc) {
    grpc::ClientContext context;
    if (timeout_ > absl::ZeroDuration()) {
      context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    }
    grpc::Status status = rpc(context);
    if (status.ok()) return absl::OkStatus();
    std::string message = status.error_message().empty()
                              ? std::string(method)
                              : absl::StrCat(method, ": ", status.error_message());
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
  }

 private:
  Client(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);

  std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<runtime::v1::ImageService::Stub> images_;
  absl::Duration timeout_;
};

}  // namespace ocid::ocic

#endif  // OCID_CMD_OCIC_CLIENT_H_
