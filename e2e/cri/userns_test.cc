// Pod user namespaces (CRI userns_options mode POD), a contract critest does
// not check (not in specs.txt): the pod's containers run in a user namespace
// with exactly the mappings sent, root inside is the mapped host id outside,
// the image's files are root's inside while no layer is chowned (idmapped
// layers), what a container writes is the mapped host ids' in its upper dir,
// and RemovePodSandbox leaves no pin or mount. Bad mappings, and a container
// asking for another user namespace than its pod's, are refused naming the
// field, and leave nothing behind.
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "e2e/cri/contract_support.h"
#include "e2e/cri/cri_suite.h"
#include "nlohmann/json.hpp"

namespace ocid::e2e {
namespace {

using ::absl::StatusCode;

// kubelet's kind of mapping: a multiple of 65536, 65536 long.
constexpr uint32_t kHostId = 1u << 20;  // 1048576
constexpr uint32_t kLength = 65536;
constexpr char kUsernsField[] = "config.linux.security_context.namespace_options.userns_options";

void MapUsers(v1::NamespaceOption& options, uint32_t host_id, uint32_t length) {
  v1::UserNamespace& userns = *options.mutable_userns_options();
  userns.set_mode(v1::NamespaceMode::POD);
  for (v1::IDMapping* m : {userns.add_uids(), userns.add_gids()}) {
    m->set_container_id(0);
    m->set_host_id(host_id);
    m->set_length(length);
  }
}

class CriUserNamespace : public ContractTest {
 protected:
  static std::string Runroot() {
    return std::string(absl::StripSuffix(Info().root_dir, "/root")) + "/run";
  }
  static std::string UserPin(const std::string& pod_id) {
    return absl::StrCat(Runroot(), "/ns/user/", pod_id);
  }
  // Mount points whose path names `id`.
  static std::vector<std::string> MountsNaming(const std::string& id) {
    std::vector<std::string> found;
    std::istringstream mounts(ReadAll("/proc/self/mountinfo"));
    std::string line;
    while (std::getline(mounts, line)) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ');
      if (fields.size() > 4 && absl::StrContains(fields[4], id)) found.push_back(fields[4]);
    }
    return found;
  }
  v1::PodSandboxConfig MappedPodConfig(const std::string& name) {
    v1::PodSandboxConfig config = DefaultPodConfig(name);
    MapUsers(*config.mutable_linux()->mutable_security_context()->mutable_namespace_options(),
             kHostId, kLength);
    return config;
  }
  // The stdout of `cmd` in the container, which must exit 0.
  std::string Output(const std::string& id, const std::vector<std::string>& cmd) {
    absl::StatusOr<ExecResult> result = ExecSync(id, cmd, 30);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return "";
    EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
    return std::string(absl::StripAsciiWhitespace(result->stdout_text));
  }
};

// "Uid:\t1048576\t1048576\t..." of /proc/PID/status: the real uid on the host.
int64_t HostUidOf(int64_t pid) {
  std::istringstream status(ReadAll(absl::StrCat("/proc/", pid, "/status")));
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "Uid:")) continue;
    std::vector<std::string> ids = absl::StrSplit(line.substr(4), '\t', absl::SkipEmpty());
    int64_t uid = -1;
    if (!ids.empty() && absl::SimpleAtoi(ids[0], &uid)) return uid;
  }
  return -1;
}

// One runtime handler each: "" (the default, runc) and crun.
class CriUserNamespaceHandler : public CriUserNamespace,
                                public ::testing::WithParamInterface<std::string> {
 protected:
  // RunPod with the handler; the pod is removed when the test ends.
  absl::StatusOr<Pod> RunMappedPod(const std::string& name) {
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = MappedPodConfig(name);
    request.set_runtime_handler(GetParam());
    v1::RunPodSandboxResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::RunPodSandbox, request, &response);
    if (!status.ok()) return status;
    made_.push_back(response.pod_sandbox_id());
    return Pod{response.pod_sandbox_id(), request.config()};
  }
  void TearDown() override {
    for (const std::string& id : made_) OCID_EXPECT_OK(RemovePod(id));
    CriUserNamespace::TearDown();
  }

 private:
  std::vector<std::string> made_;
};

INSTANTIATE_TEST_SUITE_P(Runtimes, CriUserNamespaceHandler, ::testing::Values("", "crun"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.empty() ? std::string("runc") : info.param;
                         });

TEST_P(CriUserNamespaceHandler, APodsContainersRunMappedAndSeeTheImageAsRoots) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunMappedPod("userns"));
  struct stat st;
  ASSERT_EQ(stat(UserPin(pod.id).c_str(), &st), 0) << "the user namespace is pinned";

  v1::ContainerConfig config = DefaultContainerConfig("userns");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));

  // Inside: exactly the mapping sent, and root.
  std::vector<std::string> uid_map =
      absl::StrSplit(Output(id, {"cat", "/proc/self/uid_map"}), ' ', absl::SkipEmpty());
  EXPECT_EQ(uid_map, (std::vector<std::string>{"0", "1048576", "65536"}));
  std::vector<std::string> gid_map =
      absl::StrSplit(Output(id, {"cat", "/proc/self/gid_map"}), ' ', absl::SkipEmpty());
  EXPECT_EQ(gid_map, (std::vector<std::string>{"0", "1048576", "65536"}));
  EXPECT_EQ(Output(id, {"id", "-u"}), "0");

  // Outside: the container's init runs as the mapped host id.
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id, true));
  nlohmann::json info = nlohmann::json::parse(status.info().at("info"));
  int64_t pid = info.value("pid", 0);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(HostUidOf(pid), kHostId);
  EXPECT_EQ(status.status().user().linux().uid(), 0) << "user as seen inside";

  // The image's files (host root's on disk) are root's inside; so are the
  // pod's files and the rootfs itself.
  EXPECT_EQ(Output(id, {"stat", "-c", "%u:%g", "/bin/busybox", "/etc/passwd", "/",
                        "/etc/resolv.conf", "/etc/hostname", "/dev/shm"}),
            "0:0\n0:0\n0:0\n0:0\n0:0\n0:0");
  // Root inside can use what it owns: write to the rootfs and /dev/shm.
  Output(id, {"sh", "-c", "echo made > /made-here && echo x >> /etc/passwd && touch /dev/shm/x"});
  std::string upper = absl::StrCat(Info().root_dir, "/containers/", id, "/upper");
  for (const std::string& path : {upper + "/made-here", upper + "/etc/passwd", upper}) {
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, kHostId) << path << ": the mapped host id owns it on disk";
    EXPECT_EQ(st.st_gid, kHostId) << path;
  }
  // The pod's network namespace is owned by its user namespace: root in the
  // container has CAP_NET_BIND_SERVICE over it and binds port 80 (httpd
  // forks into the background once bound).
  EXPECT_EQ(Output(id, {"sh", "-c", "httpd -p 80 -h / && echo bound"}), "bound");

  OCID_ASSERT_OK(StopContainer(id, 5));
  OCID_ASSERT_OK(RemoveContainer(id));
  OCID_ASSERT_OK(RemovePod(pod.id));
  EXPECT_NE(lstat(UserPin(pod.id).c_str(), &st), 0) << "the user namespace pin is gone";
  EXPECT_EQ(MountsNaming(pod.id), std::vector<std::string>{});
  EXPECT_EQ(MountsNaming(id), std::vector<std::string>{});
}

TEST_F(CriUserNamespace, APodUserNamespaceOutlivesAnOcidKilledAndRestarted) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(MappedPodConfig("userns-restart")));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateContainer(pod, DefaultContainerConfig("userns-restart")));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK(RestartOcid(/*kill=*/true));
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse status, PodStatus(pod.id));
  EXPECT_EQ(status.status().state(), v1::SANDBOX_READY) << "its user namespace pin still holds";
  std::vector<std::string> uid_map =
      absl::StrSplit(Output(id, {"cat", "/proc/self/uid_map"}), ' ', absl::SkipEmpty());
  EXPECT_EQ(uid_map, (std::vector<std::string>{"0", "1048576", "65536"}));
  // A new container after the restart joins the same namespace.
  OCID_ASSERT_OK_AND_ASSIGN(std::string second,
                            CreateContainer(pod, DefaultContainerConfig("userns-after")));
  OCID_ASSERT_OK(StartContainer(second));
  EXPECT_EQ(Output(second, {"readlink", "/proc/self/ns/user"}),
            Output(id, {"readlink", "/proc/self/ns/user"}));
  OCID_ASSERT_OK(RemovePod(pod.id));
  struct stat st;
  EXPECT_NE(lstat(UserPin(pod.id).c_str(), &st), 0) << "the user namespace pin is gone";
  EXPECT_EQ(MountsNaming(pod.id), std::vector<std::string>{});
}

TEST_F(CriUserNamespace, EveryHandlerSaysItRunsUserNamespaces) {
  v1::StatusRequest request;
  v1::StatusResponse response;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::Status, request, &response));
  std::set<std::string> names;
  for (const v1::RuntimeHandler& handler : response.runtime_handlers()) {
    names.insert(handler.name());
    EXPECT_TRUE(handler.features().user_namespaces()) << "handler \"" << handler.name() << "\"";
  }
  EXPECT_EQ(names, (std::set<std::string>{"", "runc", "crun"}));
}

TEST_F(CriUserNamespace, TheSameMappingOnTheContainerIsFineAnotherIsRefused) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(MappedPodConfig("userns-match")));
  v1::ContainerConfig same = DefaultContainerConfig("same");
  MapUsers(*same.mutable_linux()->mutable_security_context()->mutable_namespace_options(), kHostId,
           kLength);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, same));
  OCID_ASSERT_OK(StartContainer(id));
  EXPECT_EQ(Output(id, {"id", "-u"}), "0");

  std::set<std::string> before = ContainerIds();
  v1::ContainerConfig other = DefaultContainerConfig("other");
  MapUsers(*other.mutable_linux()->mutable_security_context()->mutable_namespace_options(),
           2 * kHostId, kLength);
  EXPECT_TRUE(HasCode(CreateContainer(pod, other).status(), StatusCode::kInvalidArgument,
                      "namespace_options.userns_options"));
  v1::ContainerConfig host = DefaultContainerConfig("host");
  host.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options()
      ->set_mode(v1::NamespaceMode::NODE);
  EXPECT_TRUE(HasCode(CreateContainer(pod, host).status(), StatusCode::kInvalidArgument,
                      "namespace_options.userns_options"));
  EXPECT_EQ(ContainerIds(), before) << "a refused create makes nothing";
}

TEST_F(CriUserNamespace, BadMappingsAreRefusedNamingTheFieldAndLeaveNothing) {
  struct Case {
    std::string what;
    uint32_t host_id, length;
    std::string field;
  };
  const std::string f = kUsernsField;
  const Case cases[] = {
      {"length 0", kHostId, 0, f + ".uids[0].length"},
      {"past the last id", 4294901760u, 65536, f + ".uids[0]"},
  };
  std::set<std::string> before = PodIds();
  for (const Case& c : cases) {
    v1::PodSandboxConfig config = DefaultPodConfig("userns-bad");
    MapUsers(*config.mutable_linux()->mutable_security_context()->mutable_namespace_options(),
             c.host_id, c.length);
    EXPECT_TRUE(HasCode(RunPod(config).status(), StatusCode::kInvalidArgument, c.field)) << c.what;
  }
  v1::PodSandboxConfig overlap = MappedPodConfig("userns-overlap");
  v1::IDMapping* second = overlap.mutable_linux()
                              ->mutable_security_context()
                              ->mutable_namespace_options()
                              ->mutable_userns_options()
                              ->add_gids();
  second->set_container_id(kLength);
  second->set_host_id(kHostId + 10);
  second->set_length(5);
  EXPECT_TRUE(HasCode(RunPod(overlap).status(), StatusCode::kInvalidArgument, f + ".gids[1]"));
  v1::PodSandboxConfig no_gids = MappedPodConfig("userns-nogids");
  no_gids.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options()
      ->clear_gids();
  EXPECT_TRUE(HasCode(RunPod(no_gids).status(), StatusCode::kInvalidArgument, f + ".gids"));
  v1::PodSandboxConfig host_network = MappedPodConfig("userns-hostnet");
  host_network.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->set_network(v1::NODE);
  EXPECT_TRUE(HasCode(RunPod(host_network).status(), StatusCode::kInvalidArgument,
                      "config.linux.security_context.namespace_options.network"));

  EXPECT_EQ(PodIds(), before) << "no pod made";
  EXPECT_EQ(Entries(Runroot() + "/ns/user"), std::vector<std::string>{}) << "no pin left";
  EXPECT_EQ(Entries(Runroot() + "/pods"), std::vector<std::string>{}) << "no pod files left";
}

}  // namespace
}  // namespace ocid::e2e
