#include "cmd/ocic/client.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace ocid::ocic {

absl::StatusOr<std::string> SocketPathOf(const std::string& endpoint) {
  absl::string_view path = endpoint;
  if (absl::ConsumePrefix(&path, "unix://")) {
    // unix:///abs/path
  } else {
    absl::ConsumePrefix(&path, "unix:");
  }
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--connect: \"", endpoint, "\" is not a unix socket path (unix:///path or /path)"));
  }
  return std::string(path);
}

Client::Client(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
    : runtime_(runtime::v1::RuntimeService::NewStub(channel)),
      images_(runtime::v1::ImageService::NewStub(channel)),
      timeout_(timeout) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& endpoint,
                                                        absl::Duration timeout) {
  absl::StatusOr<std::string> path = SocketPathOf(endpoint);
  if (!path.ok()) return path.status();
  struct stat st;
  if (::stat(path->c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return absl::UnavailableError(absl::StrCat("no ocid socket at ", *path,
                                               " (is ocid running? see --connect)"));
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  auto channel = grpc::CreateCustomChannel("unix:" + *path, grpc::InsecureChannelCredentials(),
                                           arguments);
  return std::unique_ptr<Client>(new Client(std::move(channel), timeout));
}

}  // namespace ocid::ocic
