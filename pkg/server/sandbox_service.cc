// RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus,
// ListPodSandbox.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <signal.h>

#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/sandbox/namespaces.h"
#include "pkg/server/filters.h"
#include "pkg/server/rpc.h"
#include "pkg/server/runtime_service.h"

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

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

}  // namespace

absl::StatusOr<SandboxRecord> RuntimeService::FindPod(const std::string& id) const {
  if (id.empty()) return absl::InvalidArgumentError("pod_sandbox_id is empty");
  std::optional<SandboxRecord> pod = sandboxes_.Get(id);
  if (!pod.has_value()) return absl::NotFoundError(absl::StrCat("pod sandbox ", id, " not found"));
  return *pod;
}

PodNetworkRequest RuntimeService::NetworkRequest(const SandboxRecord& pod,
                                                 const cri::PodSandboxConfig& config) const {
  PodNetworkRequest request;
  request.pod_id = pod.id;
  request.netns_path = pod.namespaces.net;
  request.pod_name = pod.name;
  request.pod_namespace = pod.pod_namespace;
  request.pod_uid = pod.uid;
  for (const cri::PortMapping& port : config.port_mappings()) {
    CniPortMapping mapping;
    mapping.host_port = port.host_port();
    mapping.container_port = port.container_port();
    mapping.protocol = port.protocol() == cri::UDP    ? "udp"
                       : port.protocol() == cri::SCTP ? "sctp"
                                                      : "tcp";
    mapping.host_ip = port.host_ip();
    request.port_mappings.push_back(mapping);
  }
  const cri::DNSConfig& dns = config.dns_config();
  request.dns_servers.assign(dns.servers().begin(), dns.servers().end());
  request.dns_searches.assign(dns.searches().begin(), dns.searches().end());
  request.dns_options.assign(dns.options().begin(), dns.options().end());
  return request;
}

absl::StatusOr<std::string> RuntimeService::RunPod(const cri::RunPodSandboxRequest& request) {
  const cri::PodSandboxConfig& config = request.config();
  RETURN_IF_ERROR(ValidatePodConfig(config));
  std::string handler = request.runtime_handler();
  RETURN_IF_ERROR(RuntimeFor(handler).status());

  SandboxRecord pod;
  pod.id = NewRandomId();
  pod.name = config.metadata().name();
  pod.pod_namespace = config.metadata().namespace_();
  pod.uid = config.metadata().uid();
  pod.attempt = config.metadata().attempt();
  pod.config_json = ToJson(config);

  // kubelet retries a RunPodSandbox that timed out with the same request:
  // hand back the pod made for it.
  std::string holder = NameHolder(pod.ReservedName());
  if (!holder.empty()) {
    std::optional<SandboxRecord> existing = sandboxes_.Get(holder);
    cri::PodSandboxConfig existing_config;
    // Compared as messages: proto maps serialize in no fixed order.
    if (existing &&
        google::protobuf::util::JsonStringToMessage(existing->config_json, &existing_config)
            .ok() &&
        google::protobuf::util::MessageDifferencer::Equivalent(existing_config, config)) {
      return existing->id;
    }
    return absl::AlreadyExistsError(absl::StrCat("pod sandbox name \"", pod.ReservedName(),
                                                 "\" is reserved for ", holder));
  }
  RETURN_IF_ERROR(ReserveName(pod.ReservedName(), pod.id));
  std::vector<std::function<void()>> rollback;
  absl::Cleanup undo = [&] {
    for (auto it = rollback.rbegin(); it != rollback.rend(); ++it) (*it)();
  };
  rollback.push_back([&] { ReleaseName(pod.ReservedName()); });

  const auto& options = config.linux().security_context().namespace_options();
  bool host_network = options.network() == cri::NamespaceMode::NODE;
  bool host_ipc = options.ipc() == cri::NamespaceMode::NODE;
  pod.created_at = absl::ToUnixNanos(absl::Now());
  pod.runtime_handler = handler;
  pod.labels.insert(config.labels().begin(), config.labels().end());
  pod.annotations.insert(config.annotations().begin(), config.annotations().end());
  pod.log_directory = config.log_directory();
  pod.cgroup_parent = config.linux().cgroup_parent();
  ASSIGN_OR_RETURN(pod.hostname, PodHostname(config.hostname()));

  PinRequest pin{pod.id,    paths_.pins,   paths_.pinns, !host_network,
                 !host_ipc, !host_network, pod.hostname, {}};
  for (const auto& [key, value] : config.linux().sysctls()) pin.sysctls.emplace_back(key, value);
  ASSIGN_OR_RETURN(pod.namespaces, PinNamespaces(pin));
  rollback.push_back([&] { UnpinNamespaces(pod.namespaces).IgnoreError(); });

  if (!host_network) {
    // SetUp undoes its own partial work when a plugin fails.
    ASSIGN_OR_RETURN(PodNetworkResult network, cni_.SetUp(NetworkRequest(pod, config)));
    pod.ips = network.ips;
    rollback.push_back([&] { cni_.TearDown(NetworkRequest(pod, config)).IgnoreError(); });
  }

  pod.files_dir = absl::StrCat(paths_.pods, "/", pod.id);
  RETURN_IF_ERROR(MakeDirs(pod.files_dir, 0755));
  rollback.push_back([&] { RemoveAll(pod.files_dir).IgnoreError(); });
  const cri::DNSConfig& dns = config.dns_config();
  RETURN_IF_ERROR(WritePodFiles(pod.files_dir, pod.hostname,
                                {dns.servers().begin(), dns.servers().end()},
                                {dns.searches().begin(), dns.searches().end()},
                                {dns.options().begin(), dns.options().end()})
                      .status());
  if (!host_ipc) {
    pod.shm_path = pod.files_dir + "/shm";
    RETURN_IF_ERROR(MakeDirs(pod.shm_path, 0755));
    RETURN_IF_ERROR(MountShm(pod.shm_path, 0));
    rollback.push_back([&] { UnmountShm(pod.shm_path).IgnoreError(); });
  }
  if (options.pid() == cri::NamespaceMode::POD) {
    ASSIGN_OR_RETURN(pod.infra_pid,
                     StartInfraProcess(paths_.infra, pod.namespaces, pod.cgroup_parent));
    rollback.push_back([&] { ::kill(pod.infra_pid, SIGKILL); });
  }
  RETURN_IF_ERROR(sandboxes_.Add(pod));
  std::move(undo).Cancel();
  return pod.id;
}

absl::Status RuntimeService::StopPod(const std::string& id) {
  ASSIGN_OR_RETURN(SandboxRecord pod, FindPod(id));
  for (const ContainerRecord& container : containers_.List()) {
    if (container.sandbox_id == pod.id) RETURN_IF_ERROR(Stop(container.id, 0));
  }
  if (pod.infra_pid > 0) ::kill(pod.infra_pid, SIGKILL);
  if (!pod.shm_path.empty()) RETURN_IF_ERROR(UnmountShm(pod.shm_path));
  // The network goes with the pod's stop (kubelet's contract): DEL while
  // the netns still exists, then drop the pins, so nothing of the network
  // outlives a stopped pod. Both are idempotent.
  if (pod.ready && !pod.namespaces.net.empty()) {
    cri::PodSandboxConfig config;
    (void)google::protobuf::util::JsonStringToMessage(pod.config_json, &config);
    RETURN_IF_ERROR(cni_.TearDown(NetworkRequest(pod, config)));
  }
  RETURN_IF_ERROR(UnpinNamespaces(pod.namespaces));
  return sandboxes_.Update(pod.id, [](SandboxRecord& r) {
                      r.ready = false;
                      r.infra_pid = 0;
                    })
      .status();
}

absl::Status RuntimeService::RemovePod(const std::string& id) {
  absl::StatusOr<SandboxRecord> pod = FindPod(id);
  if (absl::IsNotFound(pod.status())) return absl::OkStatus();  // already gone
  RETURN_IF_ERROR(pod.status());
  RETURN_IF_ERROR(StopPod(pod->id));
  for (const ContainerRecord& container : containers_.List()) {
    if (container.sandbox_id == pod->id) RETURN_IF_ERROR(Remove(container.id));
  }
  RETURN_IF_ERROR(RemoveAll(pod->files_dir));
  RETURN_IF_ERROR(sandboxes_.Remove(pod->id));
  ReleaseName(pod->ReservedName());
  return absl::OkStatus();
}

grpc::Status RuntimeService::RunPodSandbox(grpc::ServerContext*,
                                           const cri::RunPodSandboxRequest* request,
                                           cri::RunPodSandboxResponse* response) {
  return ServeRpc("RunPodSandbox", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::string id, RunPod(*request));
    response->set_pod_sandbox_id(id);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::StopPodSandbox(grpc::ServerContext*,
                                            const cri::StopPodSandboxRequest* request,
                                            cri::StopPodSandboxResponse*) {
  return ServeRpc("StopPodSandbox", [&] { return StopPod(request->pod_sandbox_id()); });
}

grpc::Status RuntimeService::RemovePodSandbox(grpc::ServerContext*,
                                              const cri::RemovePodSandboxRequest* request,
                                              cri::RemovePodSandboxResponse*) {
  return ServeRpc("RemovePodSandbox", [&]() -> absl::Status {
    if (request->pod_sandbox_id().empty()) {
      return absl::InvalidArgumentError("pod_sandbox_id is empty");
    }
    return RemovePod(request->pod_sandbox_id());
  });
}

grpc::Status RuntimeService::PodSandboxStatus(grpc::ServerContext*,
                                              const cri::PodSandboxStatusRequest* request,
                                              cri::PodSandboxStatusResponse* response) {
  return ServeRpc("PodSandboxStatus", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(SandboxRecord pod, FindPod(request->pod_sandbox_id()));
    cri::PodSandboxConfig config;
    (void)google::protobuf::util::JsonStringToMessage(pod.config_json, &config);
    cri::PodSandboxStatus& status = *response->mutable_status();
    status.set_id(pod.id);
    *status.mutable_metadata() = config.metadata();
    status.set_state(pod.ready ? cri::SANDBOX_READY : cri::SANDBOX_NOTREADY);
    status.set_created_at(pod.created_at);
    if (!pod.ips.empty() && pod.ready) {
      status.mutable_network()->set_ip(pod.ips[0]);
      for (size_t i = 1; i < pod.ips.size(); ++i) {
        status.mutable_network()->add_additional_ips()->set_ip(pod.ips[i]);
      }
    }
    *status.mutable_linux()->mutable_namespaces()->mutable_options() =
        config.linux().security_context().namespace_options();
    status.mutable_labels()->insert(pod.labels.begin(), pod.labels.end());
    status.mutable_annotations()->insert(pod.annotations.begin(), pod.annotations.end());
    status.set_runtime_handler(pod.runtime_handler);
    response->set_timestamp(absl::ToUnixNanos(absl::Now()));
    if (request->verbose()) (*response->mutable_info())["info"] = pod.Serialize();
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ListPodSandbox(grpc::ServerContext*,
                                            const cri::ListPodSandboxRequest* request,
                                            cri::ListPodSandboxResponse* response) {
  return ServeRpc("ListPodSandbox", [&] {
    const cri::PodSandboxFilter& filter = request->filter();
    sandboxes_.ForEach([&](const SandboxRecord& pod) {
      if (!filter.id().empty() && pod.id.rfind(filter.id(), 0) != 0) return;
      cri::PodSandboxState state = pod.ready ? cri::SANDBOX_READY : cri::SANDBOX_NOTREADY;
      if (filter.has_state() && filter.state().state() != state) return;
      if (!LabelsMatch(filter.label_selector(), pod.labels)) return;
      cri::PodSandboxConfig config;
      (void)google::protobuf::util::JsonStringToMessage(pod.config_json, &config);
      cri::PodSandbox& item = *response->add_items();
      item.set_id(pod.id);
      *item.mutable_metadata() = config.metadata();
      item.set_state(state);
      item.set_created_at(pod.created_at);
      item.mutable_labels()->insert(pod.labels.begin(), pod.labels.end());
      item.mutable_annotations()->insert(pod.annotations.begin(), pod.annotations.end());
      item.set_runtime_handler(pod.runtime_handler);
    });
    return absl::OkStatus();
  });
}

absl::Status RuntimeService::ReserveName(const std::string& name, const std::string& id) {
  absl::MutexLock lock(&names_mu_);
  auto [it, added] = names_.emplace(name, id);
  if (!added && it->second != id) {
    return absl::AlreadyExistsError(
        absl::StrCat("name \"", name, "\" is reserved for ", it->second));
  }
  return absl::OkStatus();
}

void RuntimeService::ReleaseName(const std::string& name) {
  absl::MutexLock lock(&names_mu_);
  names_.erase(name);
}

std::string RuntimeService::NameHolder(const std::string& name) {
  absl::MutexLock lock(&names_mu_);
  auto it = names_.find(name);
  return it == names_.end() ? "" : it->second;
}

}  // namespace ocid
