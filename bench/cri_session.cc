#include "bench/cri_session.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"

namespace ocid {

namespace cri = ::runtime::v1;

absl::Status ToAbsl(const char* name, const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(name, ": ", status.error_message()));
}

// Removes /sys/fs/cgroup/*/ocid (the parent of ocid's cgroupsPath, which

cri::PodSandboxConfig PodConfig(const std::string& name, const std::string& log_root) {
  cri::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("ocid-bench");
  config.mutable_metadata()->set_uid("uid-" + NewRandomId().substr(0, 16));
  config.set_hostname(name);
  config.set_log_directory(log_root + "/" + name);
  auto* namespaces =
      config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  namespaces->set_network(cri::POD);
  namespaces->set_ipc(cri::POD);
  namespaces->set_pid(cri::CONTAINER);
  return config;
}

cri::ContainerConfig SleepConfig(const std::string& image) {
  cri::ContainerConfig config;
  config.mutable_metadata()->set_name("sleeper");
  config.mutable_image()->set_image(image);
  for (const char* arg : {"/bin/sh", "-c", "exec sleep 3600"}) config.add_command(arg);
  cri::KeyValue* path = config.add_envs();
  path->set_key("PATH");
  path->set_value("/usr/sbin:/usr/bin:/sbin:/bin");
  config.set_log_path("sleeper.log");
  return config;
}

// The private ocid and the ids of what was made through it. Thread-safe:
// the client threads share it. On destruction every pod ocid still lists is
// removed, ocid gets SIGTERM (SIGKILL after 15 s), and whatever a dead ocid

absl::StatusOr<std::unique_ptr<OcidSession>> OcidSession::Start(
    const std::string& binary, const std::string& dir, const std::string& registry,
    const std::vector<std::string>& extra) {
  ASSIGN_OR_RETURN(Subprocess process, StartLoopbackOcid(binary, dir, registry, extra));
  std::unique_ptr<OcidSession> session(new OcidSession(std::move(process), dir));
  RETURN_IF_ERROR(session->WaitUntilServing());
  return session;
}

absl::StatusOr<std::unique_ptr<OcidSession>> OcidSession::StartWithNetwork(
    const std::string& binary, const std::string& dir, const std::string& registry,
    const std::string& conflist, const std::vector<std::string>& extra) {
  ASSIGN_OR_RETURN(Subprocess process,
                   StartOcidWithNetwork(binary, dir, registry, conflist, extra));
  std::unique_ptr<OcidSession> session(new OcidSession(std::move(process), dir));
  RETURN_IF_ERROR(session->WaitUntilServing());
  return session;
}

std::unique_ptr<cri::RuntimeService::Stub> OcidSession::NewRuntimeStub() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return cri::RuntimeService::NewStub(grpc::CreateCustomChannel(
      "unix:" + dir_ + "/ocid.sock", grpc::InsecureChannelCredentials(), args));
}

absl::Status OcidSession::WaitUntilServing() {
  auto stub = NewRuntimeStub();
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  cri::VersionResponse version;
  return ToAbsl("Version", stub->Version(&context, cri::VersionRequest(), &version));
}

absl::Status OcidSession::Pull(const std::string& image) {
  auto images = cri::ImageService::NewStub(
      grpc::CreateChannel("unix:" + dir_ + "/ocid.sock", grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kPullTimeout));
  cri::PullImageRequest request;
  request.mutable_image()->set_image(image);
  cri::PullImageResponse response;
  return ToAbsl("PullImage", images->PullImage(&context, request, &response));
}

// One call with the usual deadline.

absl::StatusOr<OcidSession::RunningPod> OcidSession::RunPod(cri::RuntimeService::Stub& stub,
                                                            const std::string& name,
                                                            const cri::ContainerConfig& config) {
  using S = cri::RuntimeService::Stub;
  cri::RunPodSandboxRequest run;
  *run.mutable_config() = PodConfig(name, dir_ + "/podlogs");
  cri::RunPodSandboxResponse ran;
  RETURN_IF_ERROR(Call(stub, &S::RunPodSandbox, "RunPodSandbox", run, &ran));
  RunningPod pod{ran.pod_sandbox_id(), ""};
  // RemovePodSandbox also removes the pod's containers.
  absl::Cleanup remove_pod = [&] {
    cri::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod.pod_id);
    cri::RemovePodSandboxResponse removed;
    absl::Status status = Call(stub, &S::RemovePodSandbox, "RemovePodSandbox", remove, &removed);
    if (!status.ok()) {
      std::fprintf(stderr, "cleanup of %s: %s\n", name.c_str(), status.ToString().c_str());
    }
  };

  cri::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod.pod_id);
  *create.mutable_config() = config;
  *create.mutable_sandbox_config() = run.config();
  cri::CreateContainerResponse created;
  RETURN_IF_ERROR(Call(stub, &S::CreateContainer, "CreateContainer", create, &created));
  pod.container_id = created.container_id();
  {
    absl::MutexLock lock(&mu_);
    containers_.insert(pod.container_id);
  }
  cri::StartContainerRequest start;
  start.set_container_id(pod.container_id);
  cri::StartContainerResponse started;
  RETURN_IF_ERROR(Call(stub, &S::StartContainer, "StartContainer", start, &started));
  std::move(remove_pod).Cancel();
  return pod;
}

absl::Status OcidSession::Lifecycle(cri::RuntimeService::Stub& stub, const std::string& name,
                                    const std::string& image, std::string* running_id) {
  using S = cri::RuntimeService::Stub;
  ASSIGN_OR_RETURN(RunningPod pod, RunPod(stub, name, SleepConfig(image)));
  const std::string& pod_id = pod.pod_id;
  const std::string& id = pod.container_id;
  if (running_id != nullptr) {  // the target: kept running
    *running_id = id;
    return absl::OkStatus();
  }
  absl::Cleanup remove_pod = [&] {
    cri::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod_id);
    cri::RemovePodSandboxResponse removed;
    absl::Status status = Call(stub, &S::RemovePodSandbox, "RemovePodSandbox", remove, &removed);
    if (!status.ok()) {
      std::fprintf(stderr, "cleanup of %s: %s\n", name.c_str(), status.ToString().c_str());
    }
  };

  cri::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(0);
  cri::StopContainerResponse stopped;
  RETURN_IF_ERROR(Call(stub, &S::StopContainer, "StopContainer", stop, &stopped));
  cri::RemoveContainerRequest remove;
  remove.set_container_id(id);
  cri::RemoveContainerResponse removed;
  RETURN_IF_ERROR(Call(stub, &S::RemoveContainer, "RemoveContainer", remove, &removed));
  {
    absl::MutexLock lock(&mu_);
    containers_.erase(id);
  }
  cri::StopPodSandboxRequest stop_pod;
  stop_pod.set_pod_sandbox_id(pod_id);
  cri::StopPodSandboxResponse stopped_pod;
  RETURN_IF_ERROR(Call(stub, &S::StopPodSandbox, "StopPodSandbox", stop_pod, &stopped_pod));
  std::move(remove_pod).Cancel();
  cri::RemovePodSandboxRequest remove_pod_request;
  remove_pod_request.set_pod_sandbox_id(pod_id);
  cri::RemovePodSandboxResponse removed_pod;
  return Call(stub, &S::RemovePodSandbox, "RemovePodSandbox", remove_pod_request, &removed_pod);
}

void OcidSession::RemoveAllPods() {
  auto stub = NewRuntimeStub();
  cri::ListPodSandboxResponse pods;
  absl::Status listed = Call(*stub, &cri::RuntimeService::Stub::ListPodSandbox, "ListPodSandbox",
                             cri::ListPodSandboxRequest(), &pods);
  if (!listed.ok()) std::fprintf(stderr, "teardown: %s\n", listed.ToString().c_str());
  for (const cri::PodSandbox& pod : pods.items()) {
    cri::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(pod.id());
    cri::RemovePodSandboxResponse response;
    absl::Status removed = Call(*stub, &cri::RuntimeService::Stub::RemovePodSandbox,
                                "RemovePodSandbox", request, &response);
    if (!removed.ok()) std::fprintf(stderr, "teardown: %s\n", removed.ToString().c_str());
  }
  // Containers of removed pods are gone too.
  if (listed.ok()) {
    cri::ListContainersResponse left;
    absl::Status listed_left = Call(*stub, &cri::RuntimeService::Stub::ListContainers,
                                    "ListContainers", cri::ListContainersRequest(), &left);
    if (listed_left.ok() && left.containers_size() == 0) {
      absl::MutexLock lock(&mu_);
      containers_.clear();
    }
  }
}

OcidSession::~OcidSession() {
  if (process_.Running()) RemoveAllPods();
  if (process_.Running()) {
    (void)process_.Signal(SIGTERM);
    for (int i = 0; i < 1500 && process_.Running(); ++i) ::usleep(10000);
  }
  // Subprocess's destructor sends SIGKILL if it is still running. What ocid
  // could not remove, by the runtime (the default handler, runc):
  absl::MutexLock lock(&mu_);
  for (const std::string& id : containers_) {
    auto child =
        Subprocess::SpawnLogged({"/usr/sbin/runc", "--root", "/run/runc", "delete", "--force", id});
    if (child.ok()) (void)child->Wait();
  }
  KillConmonsUnder(dir_);
}

}  // namespace ocid
