// RunPodSandbox, StopPodSandbox, RemovePodSandbox, UpdatePodSandboxResources,
// PodSandboxStatus, ListPodSandbox: request checks and proto conversion
// around SandboxManager.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pkg/base/status_macros.h"
#include "pkg/cgroups/paths.h"
#include "pkg/sandbox/namespaces.h"
#include "pkg/server/filters.h"
#include "pkg/server/rpc.h"
#include "pkg/server/runtime_service.h"
#include "pkg/server/statuses.h"
#include "pkg/server/stream_batches.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

absl::Status ValidatePodConfig(const cri::PodSandboxConfig& config) {
  const cri::PodSandboxMetadata& metadata = config.metadata();
  if (!config.has_metadata()) return absl::InvalidArgumentError("config.metadata is missing");
  if (metadata.name().empty()) return absl::InvalidArgumentError("config.metadata.name is empty");
  if (metadata.namespace_().empty()) {
    return absl::InvalidArgumentError("config.metadata.namespace is empty");
  }
  if (metadata.uid().empty()) return absl::InvalidArgumentError("config.metadata.uid is empty");
  // An unknown cgroup_parent form is refused before anything is made.
  RETURN_IF_ERROR(PodCgroupPath(config.linux().cgroup_parent(), "check").status());
  if (config.hostname().size() > kMaxHostnameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("config.hostname: \"", config.hostname(),
                                                   "\" is longer than ", kMaxHostnameBytes,
                                                   " bytes"));
  }
  for (int i = 0; i < config.port_mappings_size(); ++i) {
    const cri::PortMapping& port = config.port_mappings(i);
    for (const auto& [field, value] :
         {std::pair("host_port", port.host_port()), {"container_port", port.container_port()}}) {
      // 0 is allowed: a host port of 0 means "no forwarding".
      if (value < 0 || value > 65535) {
        return absl::InvalidArgumentError(absl::StrCat("config.port_mappings[", i, "].", field,
                                                       ": ", value, " is not a port (0-65535)"));
      }
    }
  }
  if (!config.log_directory().empty() && config.log_directory()[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("config.log_directory: \"", config.log_directory(), "\" is not absolute"));
  }
  return absl::OkStatus();
}

// The record holds the metadata's fields: List needs no config parsing.
}  // namespace

grpc::Status RuntimeService::RunPodSandbox(grpc::ServerContext*,
                                           const cri::RunPodSandboxRequest* request,
                                           cri::RunPodSandboxResponse* response) {
  return ServeRpc("RunPodSandbox", [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidatePodConfig(request->config()));
    ASSIGN_OR_RETURN(std::string id, pods_.RunPod(request->config(), request->runtime_handler()));
    response->set_pod_sandbox_id(id);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::StopPodSandbox(grpc::ServerContext*,
                                            const cri::StopPodSandboxRequest* request,
                                            cri::StopPodSandboxResponse*) {
  return ServeRpc("StopPodSandbox", [&]() -> absl::Status {
    // The CRI makes Stop idempotent: a pod already removed has nothing left
    // to reclaim (kubelet stops pods it may have removed before a restart).
    absl::Status stopped = pods_.StopPod(request->pod_sandbox_id());
    return absl::IsNotFound(stopped) ? absl::OkStatus() : stopped;
  });
}

grpc::Status RuntimeService::RemovePodSandbox(grpc::ServerContext*,
                                              const cri::RemovePodSandboxRequest* request,
                                              cri::RemovePodSandboxResponse*) {
  return ServeRpc("RemovePodSandbox", [&]() -> absl::Status {
    if (request->pod_sandbox_id().empty()) {
      return absl::InvalidArgumentError("pod_sandbox_id is empty");
    }
    return pods_.RemovePod(request->pod_sandbox_id());
  });
}

grpc::Status RuntimeService::UpdatePodSandboxResources(
    grpc::ServerContext*, const cri::UpdatePodSandboxResourcesRequest* request,
    cri::UpdatePodSandboxResourcesResponse*) {
  return ServeRpc("UpdatePodSandboxResources", [&]() -> absl::Status {
    if (request->pod_sandbox_id().empty()) {
      return absl::InvalidArgumentError("pod_sandbox_id is empty");
    }
    return pods_.UpdateResources(request->pod_sandbox_id(), request->overhead(),
                                 request->resources());
  });
}

grpc::Status RuntimeService::PodSandboxStatus(grpc::ServerContext*,
                                              const cri::PodSandboxStatusRequest* request,
                                              cri::PodSandboxStatusResponse* response) {
  return ServeRpc("PodSandboxStatus", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(PodView view, pods_.Status(request->pod_sandbox_id()));
    const SandboxRecord& pod = view.record;
    *response->mutable_status() = PodStatusOf(view);
    response->set_timestamp(absl::ToUnixNanos(absl::Now()));
    if (request->verbose()) (*response->mutable_info())["info"] = pod.Serialize();
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ListPodSandbox(grpc::ServerContext*,
                                            const cri::ListPodSandboxRequest* request,
                                            cri::ListPodSandboxResponse* response) {
  return ServeRpc("ListPodSandbox", [&] {
    pods_.ForEach([&](const SandboxRecord& pod) {
      if (PodSelected(request->filter(), pod)) *response->add_items() = PodItemOf(pod);
    });
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::StreamPodSandboxes(
    grpc::ServerContext*, const cri::StreamPodSandboxesRequest* request,
    grpc::ServerWriter<cri::StreamPodSandboxesResponse>* writer) {
  return ServeRpc("StreamPodSandboxes", [&] {
    std::vector<std::string> ids;
    pods_.ForEach([&](const SandboxRecord& pod) {
      if (PodSelected(request->filter(), pod)) ids.push_back(pod.id);
    });
    return WriteInBatches(writer, ids, [&](const std::string& id, auto& response) {
      absl::StatusOr<SandboxRecord> pod = pods_.Get(id);  // gone meanwhile: left out
      if (pod.ok() && PodSelected(request->filter(), *pod)) {
        *response.add_pod_sandboxes() = PodItemOf(*pod);
      }
    });
  });
}

}  // namespace ocid
