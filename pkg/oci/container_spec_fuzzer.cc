// Fuzz target: a CreateContainer request is whatever a CRI client sends. The
// bytes are read as a binary CreateContainerRequest (its ContainerConfig and
// PodSandboxConfig), turned into the pod's SandboxContext as
// ContainerManager does, and BuildContainerSpec runs over a fixed image
// config and a small rootfs (/etc/passwd, /etc/group). Errors are fine;
// a crash, a throw or a spec that cannot be printed is not.
// The seeds are made from testdata/fuzz_seeds/container_spec_fuzzer/*.txtpb:
//   protoc -Iapi --encode=runtime.v1.CreateContainerRequest api/runtime/v1/api.proto
//     < X.txtpb > testdata/fuzz/container_spec_fuzzer/X.bin
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/runtime/v1/api.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "nlohmann/json.hpp"
#include "pkg/image/manifest.h"
#include "pkg/oci/spec.h"
#include "pkg/security/apparmor.h"
#include "pkg/security/seccomp.h"

namespace {

namespace cri = runtime::v1;

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) std::abort();
}

// The pod's dir (rootfs and the files a pod gives its containers), made once
// under the sandbox's TEST_TMPDIR (else /tmp) and kept for the whole run.
std::string MakePodDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/container_spec_fuzz.XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) std::abort();
  for (const char* sub : {"/rootfs", "/rootfs/etc", "/shm"}) {
    if (mkdir((dir + sub).c_str(), 0755) != 0) std::abort();
  }
  WriteAll(dir + "/rootfs/etc/passwd",
           "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  WriteAll(dir + "/rootfs/etc/group", "root:x:0:\nalice:x:1000:\nvideo:x:44:alice\n");
  for (const char* file : {"/resolv.conf", "/hosts", "/hostname"}) WriteAll(dir + file, "x\n");
  return dir;
}

// What ContainerManager derives from the pod (container_manager.cc ContextOf).
ocid::SandboxContext ContextOf(const cri::PodSandboxConfig& pod, const std::string& dir) {
  ocid::SandboxContext context;
  context.id = "sandbox1";
  context.hostname = pod.hostname().empty() ? pod.metadata().name() : pod.hostname();
  const cri::NamespaceOption& namespaces = pod.linux().security_context().namespace_options();
  if (namespaces.network() != cri::NamespaceMode::NODE) {
    context.net_ns_path = "/run/ocid/netns/sandbox1";
  }
  if (namespaces.ipc() != cri::NamespaceMode::NODE) context.ipc_ns_path = "/proc/42/ns/ipc";
  context.uts_ns_path = context.net_ns_path.empty() ? "" : "/proc/42/ns/uts";
  if (namespaces.pid() == cri::NamespaceMode::POD) context.pid_ns_path = "/proc/42/ns/pid";
  context.host_pid = namespaces.pid() == cri::NamespaceMode::NODE;
  context.resolv_conf_path = dir + "/resolv.conf";
  context.hosts_path = dir + "/hosts";
  context.hostname_path = dir + "/hostname";
  context.shm_path = dir + "/shm";
  context.cgroup_parent = pod.linux().cgroup_parent();
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in a string field fails the parse (as it does under gRPC);
  // the log line each such input makes would drown the test's output.
  static google::protobuf::LogSilencer quiet;
  cri::CreateContainerRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  static const std::string dir = MakePodDir();
  static ocid::SeccompProfiles seccomp;
  static const ocid::AppArmorHost apparmor{"/nonexistent/enabled", "/nonexistent/profiles"};

  ocid::ImageConfig image;
  image.entrypoint = {"/entry"};
  image.cmd = {"cmd-arg"};
  image.env = {"PATH=/usr/bin:/bin", "A=1"};
  image.working_dir = "/work";
  image.user = "alice";
  ocid::SandboxContext sandbox = ContextOf(request.sandbox_config(), dir);

  (void)ocid::ValidateUserFields(request.config().linux().security_context());
  for (const char* manager : {"cgroupfs", "systemd"}) {
    ocid::ContainerSpecInputs inputs;
    inputs.container_id = "ctr1";
    inputs.config = &request.config();
    inputs.image = &image;
    inputs.sandbox = &sandbox;
    inputs.rootfs = dir + "/rootfs";
    inputs.min_oom_score_adj = 0;
    inputs.cgroup_manager = manager;
    inputs.seccomp = &seccomp;
    inputs.apparmor_host = &apparmor;
    absl::StatusOr<nlohmann::json> spec = ocid::BuildContainerSpec(inputs);
    // runtime.cc writes the spec as config.json; dump() throws on bad UTF-8.
    if (spec.ok()) (void)spec->dump();
  }
  (void)ocid::BuildResources(request.config().linux().resources(), "config.linux.resources",
                             /*swap_accounting=*/false);
  return 0;
}
