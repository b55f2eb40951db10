// Fuzz target: a CreateContainer request is whatever a CRI client sends. The
// bytes are read as a binary CreateContainerRequest (its ContainerConfig and
// PodSandboxConfig), turned into the pod's SandboxContext as
// ContainerManager does, and BuildContainerSpec runs over a fixed image
// config and a small rootfs (/etc/passwd, /etc/group). Errors are fine;
// a crash, a throw or a spec that cannot be printed is not.
// The driver's byte mutations break most protobufs (a length prefix, a
// UTF-8 check), so bytes that do not parse are read instead as a recipe of
// field edits (ApplyRecipe): every field of the request is reachable that
// way, with values a client could send.
// The seeds are made from testdata/fuzz_seeds/container_spec_fuzzer/*.txtpb:
//   protoc -Iapi --encode=runtime.v1.CreateContainerRequest api/runtime/v1/api.proto
//     < X.txtpb > testdata/fuzz/container_spec_fuzzer/X.bin
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/runtime/v1/api.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
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

// Reads a recipe: bytes taken one at a time, 0 once they run out.
class Recipe {
 public:
  Recipe(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  // An edge value or 8 bytes' worth.
  int64_t Int() {
    static constexpr int64_t kEdges[] = {0,
                                         1,
                                         -1,
                                         2,
                                         1000,
                                         65536,
                                         1LL << 31,
                                         -(1LL << 31),
                                         std::numeric_limits<int64_t>::max(),
                                         std::numeric_limits<int64_t>::min()};
    uint8_t pick = Byte();
    if (pick < sizeof(kEdges) / sizeof(kEdges[0])) return kEdges[pick];
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | Byte();
    return static_cast<int64_t>(value);
  }
  // gRPC refuses a string field that is not UTF-8, so bytes past ASCII
  // become '/'; a bytes field (`raw`) keeps them.
  std::string Text(bool raw) {
    std::string text;
    for (size_t length = Byte() % 64; length > 0 && !done(); --length) {
      uint8_t ch = Byte();
      text += raw || ch < 0x80 ? static_cast<char>(ch) : '/';
    }
    return text;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

template <typename T>
void Put(const google::protobuf::Reflection* reflection, google::protobuf::Message& message,
         const google::protobuf::FieldDescriptor* field, T value,
         void (google::protobuf::Reflection::*set)(google::protobuf::Message*,
                                                   const google::protobuf::FieldDescriptor*, T)
             const,
         void (google::protobuf::Reflection::*add)(google::protobuf::Message*,
                                                   const google::protobuf::FieldDescriptor*, T)
             const) {
  (reflection->*(field->is_repeated() ? add : set))(&message, field, value);
}

// One edit: a byte picks a field of `message`; a message field is descended
// into (a repeated one, maps included, gets a new element or an existing
// one), a scalar is set (or, repeated, added) from the next bytes.
void ApplyEdit(google::protobuf::Message& message, Recipe& recipe, int depth) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::Reflection;
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  const Reflection* reflection = message.GetReflection();
  if (type->field_count() == 0 || depth > 8) return;
  const FieldDescriptor* field = type->field(recipe.Byte() % type->field_count());
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    google::protobuf::Message* child = nullptr;
    if (!field->is_repeated()) {
      child = reflection->MutableMessage(&message, field);
    } else {
      int count = reflection->FieldSize(message, field);
      uint8_t pick = recipe.Byte();
      child = count > 0 && pick % 4 != 0
                  ? reflection->MutableRepeatedMessage(&message, field, pick % count)
                  : reflection->AddMessage(&message, field);
    }
    ApplyEdit(*child, recipe, depth + 1);
    return;
  }
  int64_t number = recipe.Int();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      Put<int32_t>(reflection, message, field, static_cast<int32_t>(number), &Reflection::SetInt32,
                   &Reflection::AddInt32);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      Put<int64_t>(reflection, message, field, number, &Reflection::SetInt64,
                   &Reflection::AddInt64);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      Put<uint32_t>(reflection, message, field, static_cast<uint32_t>(number),
                    &Reflection::SetUInt32, &Reflection::AddUInt32);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      Put<uint64_t>(reflection, message, field, static_cast<uint64_t>(number),
                    &Reflection::SetUInt64, &Reflection::AddUInt64);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      Put<bool>(reflection, message, field, (number & 1) != 0, &Reflection::SetBool,
                &Reflection::AddBool);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:  // proto3 enums are open: unknown numbers arrive too
      Put<int>(reflection, message, field, static_cast<int>(number % 8), &Reflection::SetEnumValue,
               &Reflection::AddEnumValue);
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string text = recipe.Text(field->type() == FieldDescriptor::TYPE_BYTES);
      if (field->is_repeated()) {
        reflection->AddString(&message, field, std::move(text));
      } else {
        reflection->SetString(&message, field, std::move(text));
      }
      break;
    }
    default:  // float and double: none in what CreateContainer reads
      break;
  }
}

void ApplyRecipe(const uint8_t* data, size_t size, cri::CreateContainerRequest& request) {
  request.Clear();
  request.mutable_config()->mutable_metadata()->set_name("c1");
  Recipe recipe(data, size);
  for (int edits = 0; !recipe.done() && edits < 64; ++edits) ApplyEdit(request, recipe, 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in a string field fails the parse (as it does under gRPC);
  // the log line each such input makes would drown the test's output.
  static google::protobuf::LogSilencer quiet;
  cri::CreateContainerRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) ApplyRecipe(data, size, request);
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
  {
    // One cgroup manager per input (both would double the run for one
    // string's difference).
    const char* manager = size % 2 == 0 ? "cgroupfs" : "systemd";
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
