// The CRI contracts critest does not check, part 1: every implemented RPC's
// answer to bad input (the gRPC code, a message naming the field, and no
// state changed), the idempotent Stop/Remove calls, and kubelet's retry of a
// RunPodSandbox or CreateContainer whose deadline passed.
//
// What "right" means here: the field comments of upstream cri-api's
// api.proto ("This call is idempotent, and must not return an error if ...",
// "If the PodSandbox is not present, returns an error", ImageStatus answers
// a missing image with no image), and where the API says nothing, what
// cri-o and containerd answer (NOT_FOUND for an unknown ID of a Status or
// Start call, OK for Stop/Remove of a pod that is gone).
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e/cri/contract_support.h"

namespace ocid::e2e {
namespace {

using ::absl::StatusCode;

// ---- bad input ----------------------------------------------------------

class CriContractBadInput : public ContractTest {};

struct PodCase {
  std::string what;
  std::function<void(v1::RunPodSandboxRequest&)> spoil;
  StatusCode code;
  std::string field;
};

TEST_F(CriContractBadInput, RunPodSandboxRefusesBadConfigAndMakesNothing) {
  const std::vector<PodCase> cases = {
      {"no config", [](v1::RunPodSandboxRequest& r) { r.clear_config(); },
       StatusCode::kInvalidArgument, "config.metadata"},
      {"no metadata", [](v1::RunPodSandboxRequest& r) { r.mutable_config()->clear_metadata(); },
       StatusCode::kInvalidArgument, "config.metadata"},
      {"empty name",
       [](v1::RunPodSandboxRequest& r) { r.mutable_config()->mutable_metadata()->clear_name(); },
       StatusCode::kInvalidArgument, "config.metadata.name"},
      {"empty namespace",
       [](v1::RunPodSandboxRequest& r) {
         r.mutable_config()->mutable_metadata()->clear_namespace_();
       },
       StatusCode::kInvalidArgument, "config.metadata.namespace"},
      {"empty uid",
       [](v1::RunPodSandboxRequest& r) { r.mutable_config()->mutable_metadata()->clear_uid(); },
       StatusCode::kInvalidArgument, "config.metadata.uid"},
      {"relative log directory",
       [](v1::RunPodSandboxRequest& r) { r.mutable_config()->set_log_directory("var/log/pods"); },
       StatusCode::kInvalidArgument, "config.log_directory"},
      // The kernel's limit (HOST_NAME_MAX); sethostname would fail with
      // EINVAL after the namespaces were made.
      {"hostname of 65 bytes",
       [](v1::RunPodSandboxRequest& r) { r.mutable_config()->set_hostname(std::string(65, 'h')); },
       StatusCode::kInvalidArgument, "config.hostname"},
      {"host-level sysctl",
       [](v1::RunPodSandboxRequest& r) {
         (*r.mutable_config()->mutable_linux()->mutable_sysctls())["kernel.panic"] = "1";
       },
       StatusCode::kInvalidArgument, "config.linux.sysctls[\"kernel.panic\"]"},
      {"network sysctl on the host's network",
       [](v1::RunPodSandboxRequest& r) {
         auto& pod_linux = *r.mutable_config()->mutable_linux();
         pod_linux.mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
         (*pod_linux.mutable_sysctls())["net.ipv4.ip_forward"] = "1";
       },
       StatusCode::kInvalidArgument, "config.linux.sysctls[\"net.ipv4.ip_forward\"]"},
      {"hostname of 300 bytes",
       [](v1::RunPodSandboxRequest& r) { r.mutable_config()->set_hostname(std::string(300, 'h')); },
       StatusCode::kInvalidArgument, "config.hostname"},
      {"host port 70000",
       [](v1::RunPodSandboxRequest& r) {
         v1::PortMapping& port = *r.mutable_config()->add_port_mappings();
         port.set_container_port(80);
         port.set_host_port(70000);
       },
       StatusCode::kInvalidArgument, "config.port_mappings[0].host_port"},
      {"negative host port",
       [](v1::RunPodSandboxRequest& r) {
         v1::PortMapping& port = *r.mutable_config()->add_port_mappings();
         port.set_container_port(80);
         port.set_host_port(-1);
       },
       StatusCode::kInvalidArgument, "config.port_mappings[0].host_port"},
      {"container port 70000",
       [](v1::RunPodSandboxRequest& r) {
         v1::PortMapping& port = *r.mutable_config()->add_port_mappings();
         port.set_container_port(70000);
         port.set_host_port(12000);
       },
       StatusCode::kInvalidArgument, "config.port_mappings[0].container_port"},
      {"second mapping out of range",
       [](v1::RunPodSandboxRequest& r) {
         v1::PortMapping& good = *r.mutable_config()->add_port_mappings();
         good.set_container_port(80);
         good.set_host_port(12001);
         v1::PortMapping& bad = *r.mutable_config()->add_port_mappings();
         bad.set_container_port(81);
         bad.set_host_port(65536);
       },
       StatusCode::kInvalidArgument, "config.port_mappings[1].host_port"},
      {"unknown runtime handler",
       [](v1::RunPodSandboxRequest& r) { r.set_runtime_handler("no-such-handler"); },
       StatusCode::kInvalidArgument, "runtime_handler"},
  };
  const v1::PodSandboxConfig good = DefaultPodConfig("bad-input-pod-");
  const std::set<std::string> before = PodIds();
  for (const PodCase& c : cases) {
    SCOPED_TRACE(c.what);
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = good;
    c.spoil(request);
    v1::RunPodSandboxResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::RunPodSandbox, request, &response);
    EXPECT_TRUE(HasCode(status, c.code, c.field));
    if (status.ok()) {  // keep the next cases meaningful
      OCID_EXPECT_OK(StopPod(response.pod_sandbox_id()));
      OCID_EXPECT_OK(RemovePod(response.pod_sandbox_id()));
    }
    EXPECT_EQ(PodIds(), before);
  }
  // No refused call kept the pod's name: the good config runs.
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(good));
  EXPECT_EQ(PodIds().count(pod.id), 1u);
}

TEST_F(CriContractBadInput, HostnameOfExactly64BytesIsAccepted) {
  v1::PodSandboxConfig config = DefaultPodConfig("hostname-64-");
  const std::string hostname(64, 'h');
  config.set_hostname(hostname);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(config));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "hostname-64-"));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK_AND_ASSIGN(ExecResult result, ExecSync(id, {"hostname"}));
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_text, hostname + "\n");
}

struct ContainerCase {
  std::string what;
  std::function<void(v1::CreateContainerRequest&)> spoil;
  StatusCode code;
  std::string field;
};

TEST_F(CriContractBadInput, CreateContainerRefusesBadConfigAndMakesNothing) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("bad-container-"));
  OCID_ASSERT_OK_AND_ASSIGN(Pod stopped, RunDefaultPod("bad-container-stopped-"));
  OCID_ASSERT_OK(StopPod(stopped.id));
  // Pulled (by ID below) so that every refusal is about the request.
  OCID_ASSERT_OK(PullImage(kDefaultImage).status());
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image image, ImageStatus(kDefaultImage));
  v1::ContainerConfig good = DefaultContainerConfig("bad-input-ctr-");
  good.mutable_image()->set_image(image.id());

  auto security = [](v1::CreateContainerRequest& r) {
    return r.mutable_config()->mutable_linux()->mutable_security_context();
  };
  const std::string bad_profile = Info().scratch_dir + "/bad-seccomp.json";
  {
    std::ofstream out(bad_profile);
    out << R"({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["chmod", "chmodd"], "action": "SCMP_ACT_ERRNO"}]})";
  }
  auto localhost = [&](const std::string& path) {
    return [&security, path](v1::CreateContainerRequest& r) {
      v1::SecurityProfile& profile = *security(r)->mutable_seccomp();
      profile.set_profile_type(v1::SecurityProfile::Localhost);
      profile.set_localhost_ref(path);
    };
  };
  const std::vector<ContainerCase> cases = {
      {"empty pod id", [](v1::CreateContainerRequest& r) { r.clear_pod_sandbox_id(); },
       StatusCode::kInvalidArgument, "pod_sandbox_id"},
      {"unknown pod id", [](v1::CreateContainerRequest& r) { r.set_pod_sandbox_id(UnknownId()); },
       StatusCode::kNotFound, UnknownId()},
      {"pod not ready",
       [&](v1::CreateContainerRequest& r) {
         r.set_pod_sandbox_id(stopped.id);
         *r.mutable_sandbox_config() = stopped.config;
       },
       StatusCode::kFailedPrecondition, stopped.id},
      {"no config", [](v1::CreateContainerRequest& r) { r.clear_config(); },
       StatusCode::kInvalidArgument, "config.metadata"},
      {"no metadata", [](v1::CreateContainerRequest& r) { r.mutable_config()->clear_metadata(); },
       StatusCode::kInvalidArgument, "config.metadata"},
      {"empty name",
       [](v1::CreateContainerRequest& r) { r.mutable_config()->mutable_metadata()->clear_name(); },
       StatusCode::kInvalidArgument, "config.metadata.name"},
      {"no image", [](v1::CreateContainerRequest& r) { r.mutable_config()->clear_image(); },
       StatusCode::kInvalidArgument, "config.image.image"},
      {"image not pulled",
       [](v1::CreateContainerRequest& r) {
         r.mutable_config()->mutable_image()->set_image(
             "registry.k8s.io/e2e-test-images/busybox:never-pulled");
       },
       StatusCode::kNotFound, "config.image.image"},
      {"absolute log path",
       [](v1::CreateContainerRequest& r) { r.mutable_config()->set_log_path("/etc/passwd"); },
       StatusCode::kInvalidArgument, "config.log_path"},
      {"log path leaving the log dir",
       [](v1::CreateContainerRequest& r) { r.mutable_config()->set_log_path("../../escape.log"); },
       StatusCode::kInvalidArgument, "config.log_path"},
      {"relative working dir",
       [](v1::CreateContainerRequest& r) { r.mutable_config()->set_working_dir("tmp"); },
       StatusCode::kInvalidArgument, "config.working_dir"},
      {"env with an empty key",
       [](v1::CreateContainerRequest& r) { r.mutable_config()->add_envs()->set_value("v"); },
       StatusCode::kInvalidArgument, "config.envs[0].key"},
      {"env key with '='",
       [](v1::CreateContainerRequest& r) {
         v1::KeyValue& env = *r.mutable_config()->add_envs();
         env.set_key("A=B");
         env.set_value("v");
       },
       StatusCode::kInvalidArgument, "config.envs[0].key"},
      // kubelet's API validation refuses it; the runtime must too (containerd:
      // "user group is specified without user").
      {"run_as_group without run_as_user",
       [&](v1::CreateContainerRequest& r) { security(r)->mutable_run_as_group()->set_value(3000); },
       StatusCode::kInvalidArgument, "run_as_group"},
      {"negative run_as_user",
       [&](v1::CreateContainerRequest& r) { security(r)->mutable_run_as_user()->set_value(-1); },
       StatusCode::kInvalidArgument, "config.linux.security_context.run_as_user"},
      {"negative run_as_group",
       [&](v1::CreateContainerRequest& r) {
         security(r)->mutable_run_as_user()->set_value(1000);
         security(r)->mutable_run_as_group()->set_value(-1);
       },
       StatusCode::kInvalidArgument, "config.linux.security_context.run_as_group"},
      {"seccomp profile with an unknown syscall", localhost(bad_profile),
       StatusCode::kInvalidArgument,
       bad_profile + ": syscalls[0].names[1]: unknown syscall \"chmodd\""},
      {"seccomp profile that is not there", localhost(bad_profile + ".gone"),
       StatusCode::kInvalidArgument, bad_profile + ".gone"},
      {"seccomp localhost_ref not absolute", localhost("profile.json"),
       StatusCode::kInvalidArgument, "config.linux.security_context.seccomp.localhost_ref"},
  };
  const std::set<std::string> before = ContainerIds();
  for (const ContainerCase& c : cases) {
    SCOPED_TRACE(c.what);
    v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(pod.id);
    *request.mutable_config() = good;
    *request.mutable_sandbox_config() = pod.config;
    c.spoil(request);
    v1::CreateContainerResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::CreateContainer, request, &response);
    EXPECT_TRUE(HasCode(status, c.code, c.field));
    if (status.ok()) {
      OCID_EXPECT_OK(RemoveContainer(response.container_id()));
    }
    EXPECT_EQ(ContainerIds(), before);
  }
  // No refused call kept the container's name: the good config creates.
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, good));
  EXPECT_EQ(ContainerIds().count(id), 1u);
}

// The calls that name one container: empty ID, unknown ID, and a container
// in the wrong state.
TEST_F(CriContractBadInput, ContainerCallsRefuseEmptyAndUnknownIds) {
  const std::set<std::string> before = ContainerIds();
  for (const std::string& id : {std::string(), UnknownId()}) {
    SCOPED_TRACE(id.empty() ? "empty id" : "unknown id");
    const StatusCode want = id.empty() ? StatusCode::kInvalidArgument : StatusCode::kNotFound;
    const std::string field = id.empty() ? "container_id" : id;
    {
      v1::StartContainerRequest request;
      request.set_container_id(id);
      v1::StartContainerResponse response;
      EXPECT_TRUE(
          HasCode(Call(&v1::RuntimeService::Stub::StartContainer, request, &response), want, field))
          << "StartContainer";
    }
    {
      // Unknown: containerd and cri-o answer NOT_FOUND; kubelet never stops
      // a container it has not seen listed.
      v1::StopContainerRequest request;
      request.set_container_id(id);
      v1::StopContainerResponse response;
      EXPECT_TRUE(
          HasCode(Call(&v1::RuntimeService::Stub::StopContainer, request, &response), want, field))
          << "StopContainer";
    }
    {
      v1::ContainerStatusRequest request;
      request.set_container_id(id);
      v1::ContainerStatusResponse response;
      EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::ContainerStatus, request, &response),
                          want, field))
          << "ContainerStatus";
    }
    {
      v1::ExecSyncRequest request;
      request.set_container_id(id);
      request.add_cmd("true");
      v1::ExecSyncResponse response;
      EXPECT_TRUE(
          HasCode(Call(&v1::RuntimeService::Stub::ExecSync, request, &response), want, field))
          << "ExecSync";
    }
    {
      v1::ReopenContainerLogRequest request;
      request.set_container_id(id);
      v1::ReopenContainerLogResponse response;
      EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::ReopenContainerLog, request, &response),
                          want, field))
          << "ReopenContainerLog";
    }
    {
      // api.proto: "must not return an error if the container has already
      // been removed"; an empty ID is still not an ID.
      v1::RemoveContainerRequest request;
      request.set_container_id(id);
      v1::RemoveContainerResponse response;
      absl::Status status = Call(&v1::RuntimeService::Stub::RemoveContainer, request, &response);
      if (id.empty()) {
        EXPECT_TRUE(HasCode(status, StatusCode::kInvalidArgument, "container_id"))
            << "RemoveContainer";
      } else {
        OCID_EXPECT_OK(status);
      }
    }
  }
  EXPECT_EQ(ContainerIds(), before);
}

TEST_F(CriContractBadInput, ContainerCallsRefuseTheWrongState) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("wrong-state-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string created, CreateDefaultContainer(pod, "created-"));
  {
    v1::ExecSyncRequest request;
    request.set_container_id(created);
    request.add_cmd("true");
    v1::ExecSyncResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::ExecSync, request, &response),
                        StatusCode::kFailedPrecondition, created))
        << "ExecSync in a created container";
  }
  {
    v1::ReopenContainerLogRequest request;
    request.set_container_id(created);
    v1::ReopenContainerLogResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::ReopenContainerLog, request, &response),
                        StatusCode::kFailedPrecondition, created))
        << "ReopenContainerLog of a created container";
  }
  OCID_ASSERT_OK(StartContainer(created));
  {
    v1::StartContainerRequest request;
    request.set_container_id(created);
    v1::StartContainerResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::StartContainer, request, &response),
                        StatusCode::kFailedPrecondition, created))
        << "StartContainer of a running container";
  }
  {
    v1::ExecSyncRequest request;
    request.set_container_id(created);
    v1::ExecSyncResponse response;  // no cmd
    EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::ExecSync, request, &response),
                        StatusCode::kInvalidArgument, "cmd"))
        << "ExecSync without cmd";
  }
  // None of the refusals touched the container.
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(created));
  EXPECT_EQ(status.status().state(), v1::CONTAINER_RUNNING);
  OCID_ASSERT_OK_AND_ASSIGN(ExecResult result, ExecSync(created, {"echo", "alive"}));
  EXPECT_EQ(result.stdout_text, "alive\n");
}

TEST_F(CriContractBadInput, PodCallsRefuseEmptyIdsAndAnswerUnknownOnes) {
  const std::set<std::string> before = PodIds();
  {
    v1::PodSandboxStatusRequest request;
    v1::PodSandboxStatusResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::PodSandboxStatus, request, &response),
                        StatusCode::kInvalidArgument, "pod_sandbox_id"))
        << "PodSandboxStatus, empty id";
    // api.proto: "If the PodSandbox is not present, returns an error."
    request.set_pod_sandbox_id(UnknownId());
    EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::PodSandboxStatus, request, &response),
                        StatusCode::kNotFound, UnknownId()))
        << "PodSandboxStatus, unknown id";
  }
  {
    v1::StopPodSandboxRequest request;
    v1::StopPodSandboxResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::StopPodSandbox, request, &response),
                        StatusCode::kInvalidArgument, "pod_sandbox_id"))
        << "StopPodSandbox, empty id";
    // api.proto: idempotent, "must not return an error if all relevant
    // resources have already been reclaimed" (cri-o: "pod stop ignores not
    // found sandboxes"); kubelet stops pods it finds in its own records.
    request.set_pod_sandbox_id(UnknownId());
    OCID_EXPECT_OK(Call(&v1::RuntimeService::Stub::StopPodSandbox, request, &response));
  }
  {
    v1::RemovePodSandboxRequest request;
    v1::RemovePodSandboxResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::RemovePodSandbox, request, &response),
                        StatusCode::kInvalidArgument, "pod_sandbox_id"))
        << "RemovePodSandbox, empty id";
    request.set_pod_sandbox_id(UnknownId());
    OCID_EXPECT_OK(Call(&v1::RuntimeService::Stub::RemovePodSandbox, request, &response));
  }
  EXPECT_EQ(PodIds(), before);
}

TEST_F(CriContractBadInput, ListFiltersOfUnknownIdsGiveEmptyLists) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("list-filter-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "list-filter-"));
  v1::PodSandboxFilter pod_filter;
  pod_filter.set_id(UnknownId());
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::PodSandbox> pods, ListPods(pod_filter));
  EXPECT_TRUE(pods.empty());
  v1::ContainerFilter by_id;
  by_id.set_id(UnknownId());
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> containers, ListContainers(by_id));
  EXPECT_TRUE(containers.empty());
  v1::ContainerFilter by_pod;
  by_pod.set_pod_sandbox_id(UnknownId());
  OCID_ASSERT_OK_AND_ASSIGN(containers, ListContainers(by_pod));
  EXPECT_TRUE(containers.empty());
  v1::ImageFilter by_image;
  by_image.mutable_image()->set_image("registry.k8s.io/e2e-test-images/busybox:never-pulled");
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Image> images, ListImages(by_image));
  EXPECT_TRUE(images.empty());
  // The filters do match what exists (the empty answers are not blindness).
  pod_filter.set_id(pod.id);
  OCID_ASSERT_OK_AND_ASSIGN(pods, ListPods(pod_filter));
  EXPECT_EQ(pods.size(), 1u);
  by_pod.set_pod_sandbox_id(pod.id);
  OCID_ASSERT_OK_AND_ASSIGN(containers, ListContainers(by_pod));
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].id(), id);
}

TEST_F(CriContractBadInput, ImageCallsRefuseBadReferencesAndStoreNothing) {
  const std::set<std::string> before = ImageIds();
  {
    v1::ImageStatusRequest request;  // no image
    v1::ImageStatusResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::ImageService::Stub::ImageStatus, request, &response),
                        StatusCode::kInvalidArgument, "image.image"))
        << "ImageStatus, no image";
    // api.proto: "If the image is not present, returns a response with
    // ImageStatusResponse.Image set to nil."
    request.mutable_image()->set_image("registry.k8s.io/e2e-test-images/busybox:never-pulled");
    OCID_EXPECT_OK(Call(&v1::ImageService::Stub::ImageStatus, request, &response));
    EXPECT_FALSE(response.has_image());
  }
  {
    v1::PullImageRequest request;
    v1::PullImageResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::ImageService::Stub::PullImage, request, &response),
                        StatusCode::kInvalidArgument, "image.image"))
        << "PullImage, no image";
    for (const std::string& bad :
         {std::string("Upper/Case:tag"), std::string("spaces in/name"),
          std::string("busybox@sha256:not-hex"), std::string("busybox:tag:tag"),
          std::string("busybox:") + std::string(200, 't')}) {
      SCOPED_TRACE(bad);
      request.mutable_image()->set_image(bad);
      EXPECT_TRUE(HasCode(Call(&v1::ImageService::Stub::PullImage, request, &response),
                          StatusCode::kInvalidArgument, "image.image"))
          << "PullImage of a malformed reference";
    }
    request.mutable_image()->set_image(kDefaultImage);
    request.mutable_auth()->set_auth("!!not base64!!");
    EXPECT_TRUE(HasCode(Call(&v1::ImageService::Stub::PullImage, request, &response),
                        StatusCode::kInvalidArgument, "auth.auth"))
        << "PullImage with a malformed auth";
    request.clear_auth();
    // Well-formed, but no registry has it.
    request.mutable_image()->set_image("registry.k8s.io/e2e-test-images/no-such-image:1.0");
    EXPECT_TRUE(HasCode(Call(&v1::ImageService::Stub::PullImage, request, &response),
                        StatusCode::kNotFound, "no-such-image"))
        << "PullImage of an image no registry has";
  }
  {
    v1::RemoveImageRequest request;  // no image
    v1::RemoveImageResponse response;
    EXPECT_TRUE(HasCode(Call(&v1::ImageService::Stub::RemoveImage, request, &response),
                        StatusCode::kInvalidArgument, "image.image"))
        << "RemoveImage, no image";
  }
  EXPECT_EQ(ImageIds(), before);
}

TEST_F(CriContractBadInput, UpdateRuntimeConfigRefusesAMalformedPodCidr) {
  for (const char* bad : {"not-a-cidr", "10.0.0.0/33", "10.0.0.300/24"}) {
    SCOPED_TRACE(bad);
    v1::UpdateRuntimeConfigRequest request;
    request.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(bad);
    v1::UpdateRuntimeConfigResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::UpdateRuntimeConfig, request, &response);
    EXPECT_TRUE(
        HasCode(status, StatusCode::kInvalidArgument, "runtime_config.network_config.pod_cidr"));
    // A taken garbage CIDR would reach every later pod's CNI call: undo it
    // for the tests that follow.
    if (status.ok()) {
      OCID_ASSERT_OK(RestartOcid());
    }
  }
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("after-cidr-"));
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse status, PodStatus(pod.id));
  EXPECT_FALSE(status.status().network().ip().empty());
}

// ---- idempotent Stop/Remove ----------------------------------------------

class CriContractIdempotency : public ContractTest {};

TEST_F(CriContractIdempotency, StopPodSandboxTwice) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("stop-twice-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "stop-twice-"));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse status, PodStatus(pod.id));
  EXPECT_EQ(status.status().state(), v1::SANDBOX_NOTREADY);
  // api.proto: "If there are any running containers in the sandbox, they
  // must be forcibly terminated."
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse container, ContainerStatus(id));
  EXPECT_EQ(container.status().state(), v1::CONTAINER_EXITED);
}

TEST_F(CriContractIdempotency, RemovePodSandboxTwiceAndStopAfterRemove) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("remove-twice-"));
  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK(RemovePod(pod.id));
  OCID_EXPECT_OK(RemovePod(pod.id));
  // kubelet may stop a pod again after its removal (GC racing a sync).
  OCID_EXPECT_OK(StopPod(pod.id));
  EXPECT_TRUE(HasCode(PodStatus(pod.id).status(), StatusCode::kNotFound, pod.id));
  EXPECT_EQ(PodIds().count(pod.id), 0u);
}

TEST_F(CriContractIdempotency, RemovePodSandboxRemovesItsRunningContainers) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("remove-running-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string running, CreateDefaultContainer(pod, "running-"));
  OCID_ASSERT_OK(StartContainer(running));
  OCID_ASSERT_OK_AND_ASSIGN(std::string created, CreateDefaultContainer(pod, "created-"));
  // No StopPodSandbox first: "they must be forcibly terminated and removed".
  OCID_ASSERT_OK(RemovePod(pod.id));
  EXPECT_EQ(PodIds().count(pod.id), 0u);
  const std::set<std::string> containers = ContainerIds();
  EXPECT_EQ(containers.count(running), 0u);
  EXPECT_EQ(containers.count(created), 0u);
  EXPECT_TRUE(HasCode(ContainerStatus(running).status(), StatusCode::kNotFound));
}

TEST_F(CriContractIdempotency, StopContainerOfAStoppedContainerChangesNothing) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("stop-stopped-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "stop-stopped-"));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK(StopContainer(id, 2));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse first, ContainerStatus(id));
  ASSERT_EQ(first.status().state(), v1::CONTAINER_EXITED);
  OCID_ASSERT_OK(StopContainer(id, 2));
  OCID_ASSERT_OK(StopContainer(id, 0));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse second, ContainerStatus(id));
  EXPECT_EQ(second.status().state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(second.status().exit_code(), first.status().exit_code());
  EXPECT_EQ(second.status().finished_at(), first.status().finished_at());
  EXPECT_EQ(second.status().reason(), first.status().reason());
}

TEST_F(CriContractIdempotency, StopContainerOfACreatedContainer) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("stop-created-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "stop-created-"));
  OCID_ASSERT_OK(StopContainer(id, 2));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_EQ(status.status().state(), v1::CONTAINER_EXITED);
  OCID_EXPECT_OK(StopContainer(id, 2));
}

TEST_F(CriContractIdempotency, RemoveContainerTwice) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("remove-ctr-twice-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "remove-ctr-twice-"));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK(StopContainer(id, 2));
  OCID_ASSERT_OK(RemoveContainer(id));
  OCID_EXPECT_OK(RemoveContainer(id));
  EXPECT_TRUE(HasCode(ContainerStatus(id).status(), StatusCode::kNotFound, id));
  EXPECT_EQ(ContainerIds().count(id), 0u);
}

TEST_F(CriContractIdempotency, RemoveContainerOfARunningContainer) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("remove-running-ctr-"));
  v1::ContainerConfig config = DefaultContainerConfig("remove-running-ctr-");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  // api.proto: "If the container is running, the container must be
  // forcibly removed."
  OCID_ASSERT_OK(RemoveContainer(id));
  EXPECT_EQ(ContainerIds().count(id), 0u);
  // Its name is free again.
  OCID_ASSERT_OK_AND_ASSIGN(std::string again, CreateContainer(pod, config));
  EXPECT_NE(again, id);
}

TEST_F(CriContractIdempotency, RemoveImageOfAnAbsentImage) {
  const std::string image = "gcr.io/k8s-staging-cri-tools/test-image-1:latest";
  // api.proto: "must not return an error if the image has already been
  // removed" -- and of one never pulled.
  OCID_ASSERT_OK(RemoveImage("registry.k8s.io/e2e-test-images/busybox:never-pulled"));
  OCID_ASSERT_OK(PullImage(image).status());
  OCID_ASSERT_OK(RemoveImage(image));
  OCID_EXPECT_OK(RemoveImage(image));
  EXPECT_TRUE(HasCode(ImageStatus(image).status(), StatusCode::kNotFound));
}

// ---- kubelet's retry after a deadline ------------------------------------

class CriContractRetry : public ContractTest {
 protected:
  // The pods ocid holds under `config`'s metadata.
  std::vector<std::string> PodsNamed(const v1::PodSandboxConfig& config) {
    std::vector<std::string> ids;
    absl::StatusOr<std::vector<v1::PodSandbox>> pods = ListPods();
    EXPECT_TRUE(pods.ok()) << pods.status();
    if (!pods.ok()) return ids;
    for (const v1::PodSandbox& pod : *pods) {
      if (pod.metadata().name() == config.metadata().name() &&
          pod.metadata().namespace_() == config.metadata().namespace_() &&
          pod.metadata().uid() == config.metadata().uid() &&
          pod.metadata().attempt() == config.metadata().attempt()) {
        ids.push_back(pod.id());
      }
    }
    return ids;
  }
  std::vector<std::string> ContainersNamed(const std::string& pod_id,
                                           const v1::ContainerConfig& config) {
    std::vector<std::string> ids;
    v1::ContainerFilter filter;
    filter.set_pod_sandbox_id(pod_id);
    absl::StatusOr<std::vector<v1::Container>> containers = ListContainers(filter);
    EXPECT_TRUE(containers.ok()) << containers.status();
    if (!containers.ok()) return ids;
    for (const v1::Container& container : *containers) {
      if (container.metadata().name() == config.metadata().name() &&
          container.metadata().attempt() == config.metadata().attempt()) {
        ids.push_back(container.id());
      }
    }
    return ids;
  }
  // Removes the pods a timed-out call may have made that no helper knows of.
  void RemovePodsNamed(const v1::PodSandboxConfig& config) {
    for (const std::string& id : PodsNamed(config)) {
      StopPod(id).IgnoreError();
      RemovePod(id).IgnoreError();
    }
  }
};

// Waits (as kubelet's next sync would) until `list` shows exactly one object.
template <typename List>
std::vector<std::string> WaitForOne(List list, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> ids = list();
  while (ids.size() != 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    ids = list();
  }
  return ids;
}

TEST_F(CriContractRetry, RunPodSandboxTwiceWithTheSameConfigGivesTheSamePod) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod first, RunDefaultPod("retry-same-"));
  OCID_ASSERT_OK_AND_ASSIGN(Pod second, RunPod(first.config));
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(PodsNamed(first.config), std::vector<std::string>{first.id});
}

TEST_F(CriContractRetry, RunPodSandboxRetriedAfterItsDeadlineGivesThePodItMade) {
  v1::PodSandboxConfig config = DefaultPodConfig("retry-deadline-");
  absl::Cleanup cleanup = [&] { RemovePodsNamed(config); };
  v1::RunPodSandboxRequest request;
  *request.mutable_config() = config;
  v1::RunPodSandboxResponse response;
  // Short enough to pass while ocid sets the pod up, as kubelet's 4-minute
  // deadline does on a loaded node.
  absl::Status first =
      Call(&v1::RuntimeService::Stub::RunPodSandbox, request, &response, absl::Milliseconds(20));
  // Either way ocid made the pod once (a quick machine may beat the deadline).
  EXPECT_TRUE(first.ok() || HasCode(first, StatusCode::kDeadlineExceeded)) << first;
  RecordProperty("first_call_timed_out", first.ok() ? "no" : "yes");
  // ocid finishes the call the client gave up on.
  std::vector<std::string> made = WaitForOne([&] { return PodsNamed(config); }, absl::Seconds(30));
  ASSERT_EQ(made.size(), 1u) << "the first RunPodSandbox made no pod";
  if (first.ok()) {
    EXPECT_EQ(response.pod_sandbox_id(), made[0]);
  }
  // kubelet's retry: the same request.
  OCID_ASSERT_OK_AND_ASSIGN(Pod retried, RunPod(config));
  EXPECT_EQ(retried.id, made[0]);
  EXPECT_EQ(PodsNamed(config), std::vector<std::string>{made[0]});
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse status, PodStatus(retried.id));
  EXPECT_EQ(status.status().state(), v1::SANDBOX_READY);
}

TEST_F(CriContractRetry, RunPodSandboxWithTheSameNameAndAnotherConfigIsRefused) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod holder, RunDefaultPod("retry-other-"));
  v1::PodSandboxConfig other = holder.config;
  (*other.mutable_labels())["changed"] = "yes";
  const std::set<std::string> before = PodIds();
  v1::RunPodSandboxRequest request;
  *request.mutable_config() = other;
  v1::RunPodSandboxResponse response;
  EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::RunPodSandbox, request, &response),
                      StatusCode::kAlreadyExists, holder.id));
  EXPECT_EQ(PodIds(), before);
  // Once the holder is gone, the name is free (kubelet's next attempt).
  OCID_ASSERT_OK(StopPod(holder.id));
  OCID_ASSERT_OK(RemovePod(holder.id));
  OCID_ASSERT_OK_AND_ASSIGN(Pod next, RunPod(other));
  EXPECT_NE(next.id, holder.id);
}

TEST_F(CriContractRetry, CreateContainerRetriedAfterItsDeadlineGivesTheContainerItMade) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("retry-ctr-"));
  OCID_ASSERT_OK(PullImage(kDefaultImage).status());
  v1::ContainerConfig config = DefaultContainerConfig("retry-ctr-");
  // The retry below goes through CreateContainer(), which names the image
  // as the user gave it; kubelet's retry is the identical request.
  config.mutable_image()->set_user_specified_image(kDefaultImage);
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(pod.id);
  *request.mutable_config() = config;
  *request.mutable_sandbox_config() = pod.config;
  v1::CreateContainerResponse response;
  absl::Status first =
      Call(&v1::RuntimeService::Stub::CreateContainer, request, &response, absl::Milliseconds(20));
  EXPECT_TRUE(first.ok() || HasCode(first, StatusCode::kDeadlineExceeded)) << first;
  RecordProperty("first_call_timed_out", first.ok() ? "no" : "yes");
  std::vector<std::string> made =
      WaitForOne([&] { return ContainersNamed(pod.id, config); }, absl::Seconds(30));
  ASSERT_EQ(made.size(), 1u) << "the first CreateContainer made no container";
  if (first.ok()) {
    EXPECT_EQ(response.container_id(), made[0]);
  }
  // kubelet retries with the same name and attempt. cri-o hands back the
  // container the timed-out call made (as ocid does for pods); refusing it
  // with "name is reserved" leaves kubelet to fail the attempt.
  absl::StatusOr<std::string> retried = CreateContainer(pod, config);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(*retried, made[0]);
  EXPECT_EQ(ContainersNamed(pod.id, config), std::vector<std::string>{made[0]});
  OCID_ASSERT_OK(StartContainer(*retried));
}

TEST_F(CriContractRetry, CreateContainerWithTheSameNameAndAnotherConfigIsRefused) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("retry-ctr-other-"));
  v1::ContainerConfig config = DefaultContainerConfig("retry-ctr-other-");
  OCID_ASSERT_OK_AND_ASSIGN(std::string holder, CreateContainer(pod, config));
  v1::ContainerConfig other = config;
  (*other.mutable_labels())["changed"] = "yes";
  const std::set<std::string> before = ContainerIds();
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(pod.id);
  *request.mutable_config() = other;
  *request.mutable_sandbox_config() = pod.config;
  v1::CreateContainerResponse response;
  EXPECT_TRUE(HasCode(Call(&v1::RuntimeService::Stub::CreateContainer, request, &response),
                      StatusCode::kAlreadyExists, holder));
  EXPECT_EQ(ContainerIds(), before);
  // The same name in another attempt is another container.
  other.mutable_metadata()->set_attempt(config.metadata().attempt() + 1);
  OCID_ASSERT_OK_AND_ASSIGN(std::string next, CreateContainer(pod, other));
  EXPECT_NE(next, holder);
}

}  // namespace
}  // namespace ocid::e2e
