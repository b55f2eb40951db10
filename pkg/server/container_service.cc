// CreateContainer, StartContainer, StopContainer, RemoveContainer,
// ContainerStatus, ListContainers, ExecSync, ReopenContainerLog,
// UpdateContainerResources, CheckpointContainer: request checks and proto conversion around
// ContainerManager.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/cgroups/cpuset.h"
#include "pkg/oci/spec.h"
#include "pkg/server/filters.h"
#include "pkg/server/rpc.h"
#include "pkg/server/runtime_service.h"
#include "pkg/server/statuses.h"
#include "pkg/server/stream_batches.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

// cpuset_cpus and cpuset_mems against the CPUs and nodes online now (read
// on each call: CPUs may be hot-plugged), before anything is applied.
absl::Status CheckCpusetOnMachine(absl::string_view field_prefix,
                                  const cri::LinuxContainerResources& resources) {
  if (resources.cpuset_cpus().empty() && resources.cpuset_mems().empty()) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(MachineCpus machine, ReadMachineCpus());
  return CheckCpuset(field_prefix, resources.cpuset_cpus(), resources.cpuset_mems(), machine);
}

// The fields CreateContainer can check before it looks anything up.
absl::Status ValidateCreate(const cri::CreateContainerRequest& request) {
  const cri::ContainerConfig& config = request.config();
  if (request.pod_sandbox_id().empty()) {
    return absl::InvalidArgumentError("pod_sandbox_id is empty");
  }
  if (!config.has_metadata() || config.metadata().name().empty()) {
    return absl::InvalidArgumentError("config.metadata.name is empty");
  }
  RETURN_IF_ERROR(ValidateUserFields(config.linux().security_context()));
  if (config.image().image().empty()) {
    return absl::InvalidArgumentError("config.image.image is empty");
  }
  return CheckCpusetOnMachine("config.linux.resources.", config.linux().resources());
}

// What ContainerStatus(verbose) puts in info["info"]: the keys containerd
// and cri-o give and crictl inspect reads (pid, sandboxID, runtimeSpec,
// privileged), plus the request's config and the runtime handler.
std::string VerboseInfo(const ContainerRecord& c, const cri::ContainerConfig& config,
                        const std::string& runtime_type) {
  nlohmann::json info = {
      {"sandboxID", c.sandbox_id},
      {"pid", c.state == ContainerState::kRunning ? c.pid : 0},
      {"privileged", config.linux().security_context().privileged()},
      {"runtimeType", runtime_type},
      {"config", nlohmann::json::parse(c.config_json, nullptr, /*allow_exceptions=*/false)},
  };
  // The spec as written to the bundle; gone once the container is removed
  // or the runroot was wiped by a reboot.
  absl::StatusOr<std::string> spec = ReadFileToString(c.bundle + "/config.json", 64 << 20);
  if (spec.ok()) {
    info["runtimeSpec"] = nlohmann::json::parse(*spec, nullptr, /*allow_exceptions=*/false);
  }
  return info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

grpc::Status RuntimeService::CreateContainer(grpc::ServerContext*,
                                             const cri::CreateContainerRequest* request,
                                             cri::CreateContainerResponse* response) {
  return ServeRpc("CreateContainer", [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateCreate(*request));
    ASSIGN_OR_RETURN(std::string id,
                     containers_.Create(request->pod_sandbox_id(), request->config()));
    response->set_container_id(id);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::StartContainer(grpc::ServerContext*,
                                            const cri::StartContainerRequest* request,
                                            cri::StartContainerResponse*) {
  return ServeRpc("StartContainer", [&] { return containers_.Start(request->container_id()); });
}

grpc::Status RuntimeService::StopContainer(grpc::ServerContext*,
                                           const cri::StopContainerRequest* request,
                                           cri::StopContainerResponse*) {
  return ServeRpc("StopContainer",
                  [&] { return containers_.Stop(request->container_id(), request->timeout()); });
}

grpc::Status RuntimeService::RemoveContainer(grpc::ServerContext*,
                                             const cri::RemoveContainerRequest* request,
                                             cri::RemoveContainerResponse*) {
  return ServeRpc("RemoveContainer", [&] { return containers_.Remove(request->container_id()); });
}

grpc::Status RuntimeService::ContainerStatus(grpc::ServerContext*,
                                             const cri::ContainerStatusRequest* request,
                                             cri::ContainerStatusResponse* response) {
  return ServeRpc("ContainerStatus", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(ContainerView view, containers_.Status(request->container_id()));
    const ContainerRecord& c = view.record;
    *response->mutable_status() = ContainerStatusOf(view);
    if (request->verbose()) {
      // The handler's name, also when the request left it to the default.
      (*response->mutable_info())["info"] = VerboseInfo(c, view.config, containers_.HandlerName(c));
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ListContainers(grpc::ServerContext*,
                                            const cri::ListContainersRequest* request,
                                            cri::ListContainersResponse* response) {
  return ServeRpc("ListContainers", [&] {
    containers_.CheckMonitors();  // a container whose conmon died is listed EXITED
    containers_.ForEach([&](const ContainerRecord& c) {
      if (ContainerSelected(request->filter(), c)) *response->add_containers() = ContainerItemOf(c);
    });
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::StreamContainers(
    grpc::ServerContext*, const cri::StreamContainersRequest* request,
    grpc::ServerWriter<cri::StreamContainersResponse>* writer) {
  return ServeRpc("StreamContainers", [&] {
    std::vector<std::string> ids;
    containers_.ForEach([&](const ContainerRecord& c) {
      if (ContainerSelected(request->filter(), c)) ids.push_back(c.id);
    });
    return WriteInBatches(writer, ids, [&](const std::string& id, auto& response) {
      absl::StatusOr<ContainerRecord> c = containers_.Get(id);  // gone meanwhile: left out
      if (c.ok() && ContainerSelected(request->filter(), *c)) {
        *response.add_containers() = ContainerItemOf(*c);
      }
    });
  });
}

grpc::Status RuntimeService::ExecSync(grpc::ServerContext*, const cri::ExecSyncRequest* request,
                                      cri::ExecSyncResponse* response) {
  return ServeRpc("ExecSync", [&]() -> absl::Status {
    std::vector<std::string> command(request->cmd().begin(), request->cmd().end());
    ASSIGN_OR_RETURN(ExecResult result,
                     containers_.ExecSync(request->container_id(), command, request->timeout()));
    response->set_stdout(result.stdout_data);
    response->set_stderr(result.stderr_data);
    response->set_exit_code(result.exit_code);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::UpdateContainerResources(
    grpc::ServerContext*, const cri::UpdateContainerResourcesRequest* request,
    cri::UpdateContainerResourcesResponse*) {
  return ServeRpc("UpdateContainerResources", [&]() -> absl::Status {
    if (request->container_id().empty()) {
      return absl::InvalidArgumentError("container_id is empty");
    }
    RETURN_IF_ERROR(CheckCpusetOnMachine("linux.", request->linux()));
    return containers_.UpdateResources(request->container_id(), request->linux());
  });
}

grpc::Status RuntimeService::ReopenContainerLog(grpc::ServerContext*,
                                                const cri::ReopenContainerLogRequest* request,
                                                cri::ReopenContainerLogResponse*) {
  return ServeRpc("ReopenContainerLog",
                  [&] { return containers_.ReopenLog(request->container_id()); });
}

grpc::Status RuntimeService::CheckpointContainer(grpc::ServerContext*,
                                                 const cri::CheckpointContainerRequest* request,
                                                 cri::CheckpointContainerResponse*) {
  return ServeRpc("CheckpointContainer", [&] {
    return containers_.Checkpoint(request->container_id(), request->location());
  });
}

}  // namespace ocid
