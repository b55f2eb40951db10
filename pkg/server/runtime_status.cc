// Version, Status and RuntimeConfig: what the runtime is and whether it can
// run pods now.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/version.h"
#include "pkg/config/config.h"
#include "pkg/server/rpc.h"
#include "pkg/server/runtime_service.h"

namespace ocid {
namespace {

// kubelet's CRI client sends and expects this version string.
constexpr char kKubeletApiVersion[] = "0.1.0";

// `default_runtime`: the runtime "" names now (it follows a reload).
runtime::v1::RuntimeCondition RuntimeReadyCondition(const Config& config,
                                                    const std::string& default_runtime) {
  runtime::v1::RuntimeCondition condition;
  condition.set_type("RuntimeReady");
  auto handler = config.runtimes.find(default_runtime);
  std::string missing;
  if (handler == config.runtimes.end()) {
    missing = absl::StrCat("runtime \"", default_runtime, "\"");
  } else if (::access(handler->second.path.c_str(), X_OK) != 0) {
    missing = absl::StrCat("runtime \"", default_runtime, "\" binary ", handler->second.path);
  } else if (::access(config.conmon.c_str(), X_OK) != 0) {
    missing = absl::StrCat("conmon binary ", config.conmon);
  }
  condition.set_status(missing.empty());
  if (!missing.empty()) {
    condition.set_reason("RuntimeBinaryMissing");
    condition.set_message(absl::StrCat(missing, " is not an executable file"));
  }
  return condition;
}

runtime::v1::RuntimeCondition NetworkReadyCondition(const CniManager& cni) {
  runtime::v1::RuntimeCondition condition;
  condition.set_type("NetworkReady");
  absl::Status ready = cni.Ready();
  condition.set_status(ready.ok());
  if (!ready.ok()) {
    condition.set_reason("NetworkPluginNotReady");
    condition.set_message(std::string(ready.message()));
  }
  return condition;
}

}  // namespace

grpc::Status RuntimeService::Version(grpc::ServerContext*, const runtime::v1::VersionRequest*,
                                     runtime::v1::VersionResponse* response) {
  return ServeRpc("Version", [&] {
    response->set_version(kKubeletApiVersion);
    response->set_runtime_name("ocid");
    response->set_runtime_version(kOcidVersion);
    response->set_runtime_api_version(kCriApiVersion);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::Status(grpc::ServerContext*, const runtime::v1::StatusRequest* request,
                                    runtime::v1::StatusResponse* response) {
  return ServeRpc("Status", [&] {
    runtime::v1::RuntimeStatus* status = response->mutable_status();
    *status->add_conditions() = RuntimeReadyCondition(config_, containers_.DefaultHandlerName());
    *status->add_conditions() = NetworkReadyCondition(cni_);
    // Every handler runs pod user namespaces (kubelet asks for one only of a
    // handler that says so): ocid makes, pins and idmaps them, the runtime
    // only joins the namespace (runtime-spec linux.namespaces user path).
    // A host whose kernel cannot idmap the layers fails CreateContainer
    // with FailedPrecondition saying so.
    for (const auto& [name, handler] : config_.runtimes) {
      runtime::v1::RuntimeHandler* described = response->add_runtime_handlers();
      described->set_name(name);
      described->mutable_features()->set_user_namespaces(true);
    }
    // The default handler is also reachable as "" (the CRI's "no handler").
    runtime::v1::RuntimeHandler* no_name = response->add_runtime_handlers();
    no_name->set_name("");
    no_name->mutable_features()->set_user_namespaces(true);
    if (request->verbose()) {
      (*response->mutable_info())["config"] = ConfigAsJson(config_);
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::RuntimeConfig(grpc::ServerContext*,
                                           const runtime::v1::RuntimeConfigRequest*,
                                           runtime::v1::RuntimeConfigResponse* response) {
  return ServeRpc("RuntimeConfig", [&] {
    response->mutable_linux()->set_cgroup_driver(config_.cgroup_manager == "systemd"
                                                     ? runtime::v1::CgroupDriver::SYSTEMD
                                                     : runtime::v1::CgroupDriver::CGROUPFS);
    return absl::OkStatus();
  });
}

namespace {

// kubelet sends one CIDR or, dual-stack, "v4/len,v6/len".
absl::Status ValidatePodCidr(const std::string& cidrs) {
  const char* field = "runtime_config.network_config.pod_cidr";
  if (cidrs.empty()) return absl::OkStatus();
  for (absl::string_view cidr : absl::StrSplit(cidrs, ',')) {
    std::vector<std::string> parts = absl::StrSplit(cidr, absl::MaxSplits('/', 1));
    unsigned char address[sizeof(in6_addr)];
    int max_length = 0;
    if (parts.size() == 2 && inet_pton(AF_INET, parts[0].c_str(), address) == 1) {
      max_length = 32;
    } else if (parts.size() == 2 && inet_pton(AF_INET6, parts[0].c_str(), address) == 1) {
      max_length = 128;
    }
    int length = -1;
    if (max_length == 0 || !absl::SimpleAtoi(parts[1], &length) || length < 0 ||
        length > max_length) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", cidr, "\" is not an address/prefix-length CIDR"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status RuntimeService::UpdateRuntimeConfig(
    grpc::ServerContext*, const runtime::v1::UpdateRuntimeConfigRequest* request,
    runtime::v1::UpdateRuntimeConfigResponse*) {
  return ServeRpc("UpdateRuntimeConfig", [&] {
    const std::string& cidr = request->runtime_config().network_config().pod_cidr();
    RETURN_IF_ERROR(ValidatePodCidr(cidr));
    if (!cidr.empty()) cni_.SetPodCidr(cidr);
    return absl::OkStatus();
  });
}

}  // namespace ocid
