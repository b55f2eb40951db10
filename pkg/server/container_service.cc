// CreateContainer, StartContainer, StopContainer, RemoveContainer,
// ContainerStatus, ListContainers, ExecSync, ReopenContainerLog.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/image/manifest.h"
#include "pkg/oci/spec.h"
#include "pkg/server/filters.h"
#include "pkg/server/image_service.h"
#include "pkg/server/rpc.h"
#include "pkg/server/runtime_service.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr size_t kMaxConfigBytes = 8 << 20;
// After SIGKILL conmon reports the exit within moments; past this the
// container is taken as gone.
constexpr absl::Duration kKillGrace = absl::Seconds(10);

// "SIGTERM", "TERM" or "15" -> 15.
absl::StatusOr<int> SignalNumber(const std::string& name) {
  int number = 0;
  if (absl::SimpleAtoi(name, &number) && number > 0 && number < 65) return number;
  std::string bare = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
  for (int signal = 1; signal < 32; ++signal) {
    const char* abbrev = sigabbrev_np(signal);
    if (abbrev != nullptr && bare == abbrev) return signal;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown stop signal \"", name, "\""));
}

// The log file under the pod's log dir; the CRI path may not leave it.
absl::StatusOr<std::string> LogPathFor(const std::string& log_dir, const std::string& relative) {
  if (relative.empty() || relative[0] == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("config.log_path: \"", relative, "\" must be relative to the pod's log dir"));
  }
  for (absl::string_view part : absl::StrSplit(relative, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("config.log_path: \"", relative, "\" leaves the pod's log dir"));
    }
  }
  return absl::StrCat(log_dir, "/", relative);
}

cri::ContainerState ToCri(ContainerState state) {
  return static_cast<cri::ContainerState>(static_cast<int>(state));
}

SandboxContext ContextOf(const SandboxRecord& pod, const cri::PodSandboxConfig& config) {
  SandboxContext context;
  context.id = pod.id;
  context.hostname = !pod.hostname.empty()        ? pod.hostname
                     : !config.hostname().empty() ? config.hostname()
                                                  : pod.name;
  context.net_ns_path = pod.namespaces.net;
  context.ipc_ns_path = pod.namespaces.ipc;
  context.uts_ns_path = pod.namespaces.uts;
  if (pod.infra_pid > 0) context.pid_ns_path = absl::StrCat("/proc/", pod.infra_pid, "/ns/pid");
  context.host_pid =
      config.linux().security_context().namespace_options().pid() == cri::NamespaceMode::NODE;
  context.resolv_conf_path = pod.files_dir + "/resolv.conf";
  context.hosts_path = pod.files_dir + "/hosts";
  context.hostname_path = pod.files_dir + "/hostname";
  context.shm_path = pod.shm_path;
  context.cgroup_parent = pod.cgroup_parent;
  return context;
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

absl::StatusOr<ContainerRecord> RuntimeService::FindContainer(const std::string& id) const {
  if (id.empty()) return absl::InvalidArgumentError("container_id is empty");
  std::optional<ContainerRecord> container = containers_.Get(id);
  if (!container) return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
  return *container;
}

absl::StatusOr<OciRuntime*> RuntimeService::RuntimeFor(const std::string& handler) {
  auto it = runtimes_.find(handler.empty() ? config_.default_runtime : handler);
  if (it == runtimes_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("runtime_handler \"", handler, "\" is not configured"));
  }
  return it->second.get();
}

absl::StatusOr<std::string> RuntimeService::Create(const cri::CreateContainerRequest& request) {
  const cri::ContainerConfig& config = request.config();
  ASSIGN_OR_RETURN(SandboxRecord pod, FindPod(request.pod_sandbox_id()));
  if (!pod.ready) {
    return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", pod.id, " is not ready"));
  }
  if (!config.has_metadata() || config.metadata().name().empty()) {
    return absl::InvalidArgumentError("config.metadata.name is empty");
  }
  RETURN_IF_ERROR(ValidateUserFields(config.linux().security_context()));
  if (config.image().image().empty())
    return absl::InvalidArgumentError("config.image.image is empty");
  absl::StatusOr<std::optional<ImageMatch>> match =
      LookupImage(images_, search_registries_, config.image().image());
  if (!match.ok()) {
    return absl::Status(match.status().code(),
                        absl::StrCat("config.image.image: ", match.status().message()));
  }
  if (!match->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("config.image.image: image \"", config.image().image(), "\" is not pulled"));
  }
  const ImageRecord* image = &(*match)->image;
  std::string log_dir = pod.log_directory.empty()
                            ? absl::StrCat(paths_.default_log_dir, "/", pod.id)
                            : pod.log_directory;
  std::string relative_log =
      config.log_path().empty()
          ? absl::StrCat(config.metadata().name(), "_", config.metadata().attempt(), ".log")
          : config.log_path();
  ASSIGN_OR_RETURN(std::string log_path, LogPathFor(log_dir, relative_log));
  ASSIGN_OR_RETURN(std::string image_config_text, blobs_.ReadBlob(image->id, kMaxConfigBytes));
  ASSIGN_OR_RETURN(ImageConfig image_config, ParseImageConfig(image_config_text));
  ASSIGN_OR_RETURN(OciRuntime * runtime, RuntimeFor(pod.runtime_handler));

  ContainerRecord c;
  c.id = NewRandomId();
  c.sandbox_id = pod.id;
  c.name = config.metadata().name();
  c.attempt = config.metadata().attempt();
  c.created_at = absl::ToUnixNanos(absl::Now());
  c.labels.insert(config.labels().begin(), config.labels().end());
  c.annotations.insert(config.annotations().begin(), config.annotations().end());
  (void)google::protobuf::util::MessageToJsonString(config, &c.config_json);
  c.image_id = image->id.String();
  c.image_name = ContainerImageName(**match);
  c.image_ref = ContainerImageRef(*image, c.image_name);
  c.runtime_handler = pod.runtime_handler;
  c.bundle = absl::StrCat(paths_.bundles, "/", c.id);
  c.rootfs = c.bundle + "/rootfs";
  c.overlay_dir = absl::StrCat(paths_.overlay, "/", c.id);
  c.log_path = log_path;
  c.exit_dir = paths_.exits;
  c.persist_dir = c.bundle + "/persist";
  c.stop_signal = "SIGTERM";
  if (config.stop_signal() != cri::SIGNAL_RUNTIME_DEFAULT) {
    c.stop_signal = cri::Signal_Name(config.stop_signal()).substr(strlen("SIGNAL_"));
  } else if (!image_config.stop_signal.empty()) {
    c.stop_signal = image_config.stop_signal;
  }
  RETURN_IF_ERROR(SignalNumber(c.stop_signal).status());

  // kubelet retries a CreateContainer that timed out with the same request:
  // hand back the container made for it (as for pods). While the first call
  // is still running, the name stays reserved and the retry is refused.
  std::string holder = NameHolder(c.ReservedName());
  if (!holder.empty()) {
    std::optional<ContainerRecord> existing = containers_.Get(holder);
    cri::ContainerConfig existing_config;
    if (existing && existing->sandbox_id == pod.id &&
        google::protobuf::util::JsonStringToMessage(existing->config_json, &existing_config).ok() &&
        google::protobuf::util::MessageDifferencer::Equivalent(existing_config, config)) {
      return existing->id;
    }
  }
  RETURN_IF_ERROR(ReserveName(c.ReservedName(), c.id));
  std::vector<std::function<void()>> rollback;
  absl::Cleanup undo = [&] {
    for (auto it = rollback.rbegin(); it != rollback.rend(); ++it) (*it)();
  };
  rollback.push_back([&] { ReleaseName(c.ReservedName()); });
  rollback.push_back([&] {
    RemoveAll(c.bundle).IgnoreError();
    RemoveAll(c.overlay_dir).IgnoreError();
  });
  for (const std::string& dir :
       {c.rootfs, c.persist_dir, c.overlay_dir + "/upper", c.overlay_dir + "/work"}) {
    RETURN_IF_ERROR(MakeDirs(dir, 0755));
  }
  RETURN_IF_ERROR(MakeDirs(log_path.substr(0, log_path.rfind('/')), 0755));
  ASSIGN_OR_RETURN(ScopedMount rootfs, layers_.Mount(image->layers, c.overlay_dir + "/upper",
                                                     c.overlay_dir + "/work", c.rootfs));

  cri::PodSandboxConfig pod_config;
  (void)google::protobuf::util::JsonStringToMessage(pod.config_json, &pod_config);
  SandboxContext sandbox = ContextOf(pod, pod_config);
  ContainerSpecInputs inputs{
      c.id, &config, &image_config, &sandbox, c.rootfs, min_oom_score_adj_, config_.cgroup_manager};
  ASSIGN_OR_RETURN(nlohmann::json spec, BuildContainerSpec(inputs));
  RETURN_IF_ERROR(WriteFileAtomically(c.bundle + "/config.json", spec.dump(), 0600,
                                      /*durable=*/false));  // runroot: volatile

  ContainerLaunch launch{c.id,       c.name,        c.bundle,     c.log_path,
                         c.exit_dir, c.persist_dir, config.tty(), config.stdin()};
  ASSIGN_OR_RETURN(c.conmon_pid, runtime->Create(launch));
  rollback.push_back([&] { runtime->Delete(c.id, /*force=*/true).IgnoreError(); });
  RETURN_IF_ERROR(containers_.Add(c));
  images_.Acquire(image->id);
  rootfs.Release();  // the container keeps its root file system mounted
  std::move(undo).Cancel();
  return c.id;
}

absl::Status RuntimeService::Start(const std::string& id) {
  ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(id));
  if (c.state != ContainerState::kCreated) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", c.id, " is not in the created state"));
  }
  ASSIGN_OR_RETURN(OciRuntime * runtime, RuntimeFor(c.runtime_handler));
  RETURN_IF_ERROR(runtime->Start(c.id));
  // The runtime wrote the init pid at create: no `state` call (a process
  // start, ~25 ms for runc) is needed.
  pid_t pid = 0;
  absl::StatusOr<std::string> pidfile = ReadFileToString(c.bundle + "/pidfile", 64);
  if (pidfile.ok()) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*pidfile), &pid);
  int64_t now = absl::ToUnixNanos(absl::Now());
  return containers_
      .Update(c.id,
              [&](ContainerRecord& r) {
                r.started_at = now;
                // The exit watcher may have seen a quick exit already.
                if (r.state != ContainerState::kCreated) return;
                r.state = ContainerState::kRunning;
                r.pid = pid;
              })
      .status();
}

void RuntimeService::OnExit(const std::string& id) {
  std::optional<ContainerRecord> c = containers_.Get(id);
  if (!c || c->id != id || c->state == ContainerState::kExited) return;
  absl::StatusOr<ContainerExit> exit = ReadExitFile(c->exit_dir, id, c->persist_dir);
  if (!exit.ok()) return;
  absl::Status updated = containers_
                             .Update(id,
                                     [&](ContainerRecord& r) {
                                       r.state = ContainerState::kExited;
                                       r.exit_code = exit->exit_code;
                                       r.finished_at = absl::ToUnixNanos(exit->finished_at);
                                       if (r.started_at == 0) r.started_at = r.finished_at;
                                       r.reason = exit->oom_killed       ? "OOMKilled"
                                                  : exit->exit_code == 0 ? "Completed"
                                                                         : "Error";
                                       r.pid = 0;
                                     })
                             .status();
  if (!updated.ok()) OCID_LOG(kError) << "container " << id << ": record exit: " << updated;
}

absl::Status RuntimeService::Stop(const std::string& id, int64_t timeout_seconds) {
  ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(id));
  OnExit(c.id);  // an exit the watcher has not delivered yet
  c = containers_.Get(c.id).value_or(c);
  if (c.state == ContainerState::kExited || c.state == ContainerState::kUnknown) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(OciRuntime * runtime, RuntimeFor(c.runtime_handler));
  auto exited = [](const ContainerRecord& r) {
    return r.state != ContainerState::kRunning && r.state != ContainerState::kCreated;
  };
  if (timeout_seconds > 0 && c.state == ContainerState::kRunning) {
    ASSIGN_OR_RETURN(int signal, SignalNumber(c.stop_signal));
    absl::Status sent = runtime->Kill(c.id, signal);
    if (!sent.ok() && !absl::IsNotFound(sent)) return sent;
    if (containers_.WaitFor(c.id, exited, absl::Seconds(timeout_seconds))) return absl::OkStatus();
  }
  absl::Status killed = runtime->Kill(c.id, SIGKILL);
  if (!killed.ok() && !absl::IsNotFound(killed)) return killed;
  if (containers_.WaitFor(c.id, exited, kKillGrace)) return absl::OkStatus();
  // No exit file (a created container that never ran): say so.
  return containers_
      .Update(c.id,
              [](ContainerRecord& r) {
                if (r.state == ContainerState::kExited) return;
                r.state = ContainerState::kExited;
                r.exit_code = 128 + SIGKILL;
                r.finished_at = absl::ToUnixNanos(absl::Now());
                r.reason = "Error";
              })
      .status();
}

absl::Status RuntimeService::Remove(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("container_id is empty");
  std::optional<ContainerRecord> found = containers_.Get(id);
  if (!found) return absl::OkStatus();  // already gone
  ContainerRecord c = *found;
  RETURN_IF_ERROR(Stop(c.id, 0));
  ASSIGN_OR_RETURN(OciRuntime * runtime, RuntimeFor(c.runtime_handler));
  RETURN_IF_ERROR(runtime->Delete(c.id, /*force=*/true));
  if (::umount2(c.rootfs.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "unmount " + c.rootfs);
  }
  RETURN_IF_ERROR(RemoveAll(c.bundle));
  RETURN_IF_ERROR(RemoveAll(c.overlay_dir));
  ::unlink(absl::StrCat(c.exit_dir, "/", c.id).c_str());
  RETURN_IF_ERROR(containers_.Remove(c.id));
  absl::StatusOr<Digest> image = ParseDigest(c.image_id);
  if (image.ok()) images_.Release(*image);
  ReleaseName(c.ReservedName());
  return absl::OkStatus();
}

grpc::Status RuntimeService::CreateContainer(grpc::ServerContext*,
                                             const cri::CreateContainerRequest* request,
                                             cri::CreateContainerResponse* response) {
  return ServeRpc("CreateContainer", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::string id, Create(*request));
    response->set_container_id(id);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::StartContainer(grpc::ServerContext*,
                                            const cri::StartContainerRequest* request,
                                            cri::StartContainerResponse*) {
  return ServeRpc("StartContainer", [&] { return Start(request->container_id()); });
}

grpc::Status RuntimeService::StopContainer(grpc::ServerContext*,
                                           const cri::StopContainerRequest* request,
                                           cri::StopContainerResponse*) {
  return ServeRpc("StopContainer",
                  [&] { return Stop(request->container_id(), request->timeout()); });
}

grpc::Status RuntimeService::RemoveContainer(grpc::ServerContext*,
                                             const cri::RemoveContainerRequest* request,
                                             cri::RemoveContainerResponse*) {
  return ServeRpc("RemoveContainer", [&] { return Remove(request->container_id()); });
}

grpc::Status RuntimeService::ContainerStatus(grpc::ServerContext*,
                                             const cri::ContainerStatusRequest* request,
                                             cri::ContainerStatusResponse* response) {
  return ServeRpc("ContainerStatus", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(request->container_id()));
    if (c.state == ContainerState::kRunning) {
      OnExit(c.id);
      c = containers_.Get(c.id).value_or(c);
    }
    cri::ContainerConfig config;
    (void)google::protobuf::util::JsonStringToMessage(c.config_json, &config);
    cri::ContainerStatus& status = *response->mutable_status();
    status.set_id(c.id);
    *status.mutable_metadata() = config.metadata();
    status.set_state(ToCri(c.state));
    status.set_created_at(c.created_at);
    status.set_started_at(c.started_at);
    status.set_finished_at(c.finished_at);
    status.set_exit_code(c.exit_code);
    status.mutable_image()->set_image(c.image_name);
    status.set_image_ref(c.image_ref);
    status.set_image_id(c.image_id);
    status.set_reason(c.reason);
    status.set_message(c.message);
    status.mutable_labels()->insert(c.labels.begin(), c.labels.end());
    status.mutable_annotations()->insert(c.annotations.begin(), c.annotations.end());
    *status.mutable_mounts() = config.mounts();
    status.set_log_path(c.log_path);
    if (request->verbose()) {
      // The handler's name, also when the request left it to the default.
      absl::StatusOr<OciRuntime*> runtime = RuntimeFor(c.runtime_handler);
      (*response->mutable_info())["info"] =
          VerboseInfo(c, config, runtime.ok() ? (*runtime)->handler_name() : c.runtime_handler);
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ListContainers(grpc::ServerContext*,
                                            const cri::ListContainersRequest* request,
                                            cri::ListContainersResponse* response) {
  return ServeRpc("ListContainers", [&] {
    const cri::ContainerFilter& filter = request->filter();
    containers_.ForEach([&](const ContainerRecord& c) {
      if (!filter.id().empty() && c.id.rfind(filter.id(), 0) != 0) return;
      if (!filter.pod_sandbox_id().empty() && c.sandbox_id.rfind(filter.pod_sandbox_id(), 0) != 0) {
        return;
      }
      if (filter.has_state() && filter.state().state() != ToCri(c.state)) return;
      if (!LabelsMatch(filter.label_selector(), c.labels)) return;
      cri::Container& item = *response->add_containers();
      item.set_id(c.id);
      item.set_pod_sandbox_id(c.sandbox_id);
      item.mutable_metadata()->set_name(c.name);
      item.mutable_metadata()->set_attempt(c.attempt);
      item.mutable_image()->set_image(c.image_name);
      item.set_image_ref(c.image_ref);
      item.set_image_id(c.image_id);
      item.set_state(ToCri(c.state));
      item.set_created_at(c.created_at);
      item.mutable_labels()->insert(c.labels.begin(), c.labels.end());
      item.mutable_annotations()->insert(c.annotations.begin(), c.annotations.end());
    });
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ExecSync(grpc::ServerContext*, const cri::ExecSyncRequest* request,
                                      cri::ExecSyncResponse* response) {
  return ServeRpc("ExecSync", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(request->container_id()));
    if (request->cmd().empty()) return absl::InvalidArgumentError("cmd is empty");
    if (c.state != ContainerState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat("container ", c.id, " is not running"));
    }
    ASSIGN_OR_RETURN(OciRuntime * runtime, RuntimeFor(c.runtime_handler));
    std::vector<std::string> command(request->cmd().begin(), request->cmd().end());
    ASSIGN_OR_RETURN(ExecResult result,
                     runtime->ExecSync(c.id, c.bundle, command, absl::Seconds(request->timeout())));
    if (result.timed_out) {
      return absl::DeadlineExceededError(
          absl::StrCat("command timed out after ", request->timeout(), "s"));
    }
    response->set_stdout(result.stdout_data);
    response->set_stderr(result.stderr_data);
    response->set_exit_code(result.exit_code);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ReopenContainerLog(grpc::ServerContext*,
                                                const cri::ReopenContainerLogRequest* request,
                                                cri::ReopenContainerLogResponse*) {
  return ServeRpc("ReopenContainerLog", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(request->container_id()));
    if (c.state != ContainerState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat("container ", c.id, " is not running"));
    }
    ASSIGN_OR_RETURN(OciRuntime * runtime, RuntimeFor(c.runtime_handler));
    return runtime->ReopenLog(c.bundle, c.log_path);
  });
}

}  // namespace ocid
