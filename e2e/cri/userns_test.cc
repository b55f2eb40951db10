// Pod user namespaces (CRI userns_options mode POD), a contract critest does
// not check (not in specs.txt): the pod's containers run in a user namespace
// with exactly the mappings sent, root inside is the mapped host id outside,
// the image's files are root's inside while no layer is chowned (idmapped
// layers), what a container writes is the mapped host ids' in its upper dir,
// and RemovePodSandbox leaves no pin or mount. Bad mappings, and a container
// asking for another user namespace than its pod's, or a run_as_user,
// run_as_group or supplemental group the pod does not map, are refused
// naming the field, and leave nothing behind. A volume with uid/gid mappings is an
// idmapped mount: its host files show their ids through the mappings inside,
// and removing the container detaches it and leaves the host's files.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
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

// A host dir for idmapped volumes: f1000 (owned 1000:1000) and froot (0:0).
class HostDir {
 public:
  HostDir() {
    char pattern[] = "/tmp/ocid-idmap-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return;
    path_ = pattern;
    chmod(path_.c_str(), 0755);
    for (const auto& [name, id] : {std::pair("f1000", 1000), std::pair("froot", 0)}) {
      std::ofstream(path_ + "/" + name) << name;
      if (chown((path_ + "/" + name).c_str(), id, id) != 0) path_.clear();
    }
  }
  ~HostDir() {
    // Only once nothing is mounted below it (the test checks that too).
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void MapMount(v1::Mount& mount, uint32_t container_id, uint32_t host_id, uint32_t length) {
  for (v1::IDMapping* m : {mount.add_uidmappings(), mount.add_gidmappings()}) {
    m->set_container_id(container_id);
    m->set_host_id(host_id);
    m->set_length(length);
  }
}

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

// kubelet's form: the pod's own mappings on the volume. Host uid 1000's
// file is 1000's inside (not nobody's), root's is root's, and what root
// inside makes is host root's on disk.
TEST_P(CriUserNamespaceHandler, AVolumeWithThePodsMappingsShowsTheHostsIdsInside) {
  HostDir host;
  ASSERT_FALSE(host.path().empty());
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunMappedPod("idmap"));
  v1::ContainerConfig config = DefaultContainerConfig("idmap");
  v1::Mount& mount = *config.add_mounts();
  mount.set_host_path(host.path());
  mount.set_container_path("/vol");
  MapMount(mount, 0, kHostId, kLength);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  EXPECT_EQ(Output(id, {"stat", "-c", "%u:%g", "/vol/f1000", "/vol/froot", "/vol"}),
            "1000:1000\n0:0\n0:0");
  Output(id, {"sh", "-c", "echo made > /vol/made && cat /vol/f1000 >> /vol/made"});
  struct stat st;
  ASSERT_EQ(lstat((host.path() + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "root inside writes as host root through the idmap";
  EXPECT_EQ(st.st_gid, 0u);
  std::vector<std::string> mounted = MountsNaming(id);
  EXPECT_TRUE(std::any_of(mounted.begin(), mounted.end(), [](const std::string& m) {
    return absl::EndsWith(m, "/idmap/0");
  })) << "the idmapped tree is attached under the bundle";

  OCID_ASSERT_OK(StopContainer(id, 5));
  OCID_ASSERT_OK(RemoveContainer(id));
  EXPECT_EQ(MountsNaming(id), std::vector<std::string>{});
  EXPECT_EQ(MountsNaming(host.path()), std::vector<std::string>{});
  EXPECT_EQ(lstat((host.path() + "/f1000").c_str(), &st), 0) << "the host's files stay";
  EXPECT_EQ(st.st_uid, 1000u) << "and keep their owners";
}

// Mappings other than the pod's get a user namespace of their own: host uid
// 1000 mapped to the pod's id 7.
TEST_F(CriUserNamespace, AVolumeWithOtherMappingsGetsAUserNamespaceOfItsOwn) {
  HostDir host;
  ASSERT_FALSE(host.path().empty());
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(MappedPodConfig("idmap-other")));
  v1::ContainerConfig config = DefaultContainerConfig("idmap-other");
  v1::Mount& mount = *config.add_mounts();
  mount.set_host_path(host.path() + "/f1000");  // a file
  mount.set_container_path("/f");
  mount.set_readonly(true);
  MapMount(mount, 1000, kHostId + 7, 1);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  EXPECT_EQ(Output(id, {"stat", "-c", "%u:%g", "/f"}), "7:7");
  EXPECT_EQ(Output(id, {"cat", "/f"}), "f1000");
  EXPECT_EQ(Entries(Runroot() + "/ns/user"), std::vector<std::string>{pod.id})
      << "the mount's user namespace is held by the mount alone, not pinned";

  // An ocid killed and restarted still finds the mount to detach: it is
  // under the bundle the record names.
  OCID_ASSERT_OK(RestartOcid(/*kill=*/true));
  EXPECT_EQ(Output(id, {"stat", "-c", "%u:%g", "/f"}), "7:7");
  OCID_ASSERT_OK(RemoveContainer(id));
  EXPECT_EQ(MountsNaming(id), std::vector<std::string>{});
  OCID_ASSERT_OK(RemovePod(pod.id));
  struct stat st;
  EXPECT_EQ(lstat((host.path() + "/f1000").c_str(), &st), 0) << "the host's file stays";
}

// ocid killed once the idmapped mounts are made (crash point after the
// spec is written): the restarted ocid undoes the create, mounts and all.
TEST_F(CriUserNamespace, AnIdmappedVolumeOfACreateCutShortIsUndoneAtRestart) {
  HostDir host;
  ASSERT_FALSE(host.path().empty());
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(MappedPodConfig("idmap-crash")));
  std::set<std::string> before = ContainerIds();
  v1::ContainerConfig config = DefaultContainerConfig("idmap-crash");
  for (uint32_t host_id : {kHostId, kHostId + 7}) {  // the pod's and their own
    v1::Mount& mount = *config.add_mounts();
    mount.set_host_path(host.path());
    mount.set_container_path(absl::StrCat("/vol", host_id));
    MapMount(mount, host_id == kHostId ? 0 : 1000, host_id, host_id == kHostId ? kLength : 1);
  }
  ::setenv("OCID_TEST_CRASH_AT", "create_container.spec_written", 1);
  absl::Status restarted = RestartOcid(/*kill=*/true);
  ::unsetenv("OCID_TEST_CRASH_AT");
  OCID_ASSERT_OK(restarted);
  EXPECT_FALSE(CreateContainer(pod, config).ok()) << "ocid dies at the crash point";
  OCID_ASSERT_OK(RestartOcid(/*kill=*/true));
  EXPECT_EQ(ContainerIds(), before);
  EXPECT_EQ(MountsNaming("/idmap/"), std::vector<std::string>{});
  EXPECT_EQ(Entries(Runroot() + "/ns/user"), std::vector<std::string>{pod.id});
  struct stat st;
  EXPECT_EQ(lstat((host.path() + "/f1000").c_str(), &st), 0) << "the host's files stay";
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  EXPECT_EQ(Output(id, {"stat", "-c", "%u", absl::StrCat("/vol", kHostId, "/f1000"),
                        absl::StrCat("/vol", kHostId + 7, "/f1000")}),
            "1000\n7");
  // RemovePodSandbox alone (no RemoveContainer first) detaches them too.
  OCID_ASSERT_OK(RemovePod(pod.id));
  EXPECT_EQ(MountsNaming("/idmap/"), std::vector<std::string>{});
  EXPECT_EQ(MountsNaming(host.path()), std::vector<std::string>{});
  EXPECT_EQ(Entries(Runroot() + "/ns/user"), std::vector<std::string>{});
}

TEST_F(CriUserNamespace, BadVolumeMappingsAreRefusedNamingTheMountAndLeaveNothing) {
  HostDir host;
  ASSERT_FALSE(host.path().empty());
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(MappedPodConfig("idmap-bad")));
  std::set<std::string> before = ContainerIds();
  auto create = [&](const std::function<void(v1::Mount&)>& edit) {
    v1::ContainerConfig config = DefaultContainerConfig("idmap-bad");
    v1::Mount& plain = *config.add_mounts();
    plain.set_host_path(host.path());
    plain.set_container_path("/plain");
    v1::Mount& mapped = *config.add_mounts();
    mapped.set_host_path(host.path());
    mapped.set_container_path("/vol");
    MapMount(mapped, 0, kHostId, kLength);
    edit(mapped);
    return CreateContainer(pod, config).status();
  };
  EXPECT_TRUE(HasCode(create([](v1::Mount& m) { m.clear_gidmappings(); }),
                      StatusCode::kInvalidArgument, "config.mounts[1].gidMappings"));
  EXPECT_TRUE(HasCode(create([](v1::Mount& m) { m.mutable_uidmappings(0)->set_length(0); }),
                      StatusCode::kInvalidArgument, "config.mounts[1].uidMappings[0].length"));
  EXPECT_TRUE(HasCode(create([](v1::Mount& m) {
                        v1::IDMapping* again = m.add_uidmappings();
                        again->set_container_id(5);
                        again->set_host_id(3 * kHostId);
                        again->set_length(1);
                      }),
                      StatusCode::kInvalidArgument, "config.mounts[1].uidMappings[1]"));
  // procfs cannot be idmapped: found only once the container is being made,
  // and undone.
  EXPECT_TRUE(HasCode(create([](v1::Mount& m) { m.set_host_path("/proc/sys"); }),
                      StatusCode::kInvalidArgument,
                      "config.mounts[1].host_path: this host cannot idmap"));
  EXPECT_EQ(ContainerIds(), before) << "a refused create makes nothing";
  EXPECT_EQ(MountsNaming("/idmap/"), std::vector<std::string>{});
  EXPECT_EQ(Entries(Runroot() + "/ns/user"), std::vector<std::string>{pod.id});
}

// Ids the kernel could not switch to inside the pod's user namespace are
// ocid's InvalidArgument naming the field, not the runtime's setuid error,
// and nothing is made for them.
TEST_F(CriUserNamespace, AnUnmappedRunAsUserOrGroupIsRefusedNamingTheFieldAndLeavesNothing) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(MappedPodConfig("userns-unmapped")));
  std::set<std::string> before = ContainerIds();
  std::vector<std::string> bundles = Entries(Runroot() + "/containers");
  auto create = [&](const std::function<void(v1::LinuxContainerSecurityContext&)>& edit) {
    v1::ContainerConfig config = DefaultContainerConfig("userns-unmapped");
    edit(*config.mutable_linux()->mutable_security_context());
    return CreateContainer(pod, config).status();
  };
  const std::string f = "config.linux.security_context.";
  EXPECT_TRUE(HasCode(create([](auto& sc) { sc.mutable_run_as_user()->set_value(kLength); }),
                      StatusCode::kInvalidArgument,
                      f + "run_as_user: uid 65536 is not mapped in the pod's user namespace"));
  EXPECT_TRUE(HasCode(create([](auto& sc) {
                        sc.mutable_run_as_user()->set_value(1000);
                        sc.mutable_run_as_group()->set_value(kHostId);  // a host id, not inside
                      }),
                      StatusCode::kInvalidArgument, f + "run_as_group: gid 1048576 is not mapped"));
  EXPECT_TRUE(HasCode(create([](auto& sc) {
                        sc.add_supplemental_groups(100);
                        sc.add_supplemental_groups(70000);
                      }),
                      StatusCode::kInvalidArgument,
                      f + "supplemental_groups[1]: gid 70000 is not mapped"));
  EXPECT_EQ(ContainerIds(), before) << "a refused create makes nothing";
  EXPECT_EQ(Entries(Runroot() + "/containers"), bundles) << "no bundle or rootfs left";
  EXPECT_EQ(MountsNaming("/rootfs"), std::vector<std::string>{});

  // The last mapped ids are fine.
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, [&] {
                              v1::ContainerConfig config = DefaultContainerConfig("userns-last");
                              auto& sc = *config.mutable_linux()->mutable_security_context();
                              sc.mutable_run_as_user()->set_value(kLength - 1);
                              sc.mutable_run_as_group()->set_value(kLength - 1);
                              return config;
                            }()));
  OCID_ASSERT_OK(StartContainer(id));
  EXPECT_EQ(Output(id, {"id", "-u"}), "65535");
  OCID_ASSERT_OK(RemovePod(pod.id));
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

// ocid killed at each step of a user-namespaced RunPodSandbox (the crash
// points of pkg/base/crash_point.h; ocid started with OCID_TEST_CRASH_AT
// _exits there): the restarted ocid lists no pod, has undone the user
// namespace pin with the others, the pod's files (chowned to the mapped
// root or not) and mounts, and the same request then makes a pod whose
// container runs mapped.
class CriUserNamespaceCrash : public CriUserNamespace,
                              public ::testing::WithParamInterface<std::string> {
 protected:
  absl::Status RestartAt(const char* point) {
    if (point != nullptr) ::setenv("OCID_TEST_CRASH_AT", point, 1);
    absl::Status restarted = RestartOcid(/*kill=*/true);
    ::unsetenv("OCID_TEST_CRASH_AT");
    return restarted;
  }
  // What a pod makes under the runroot: pins, pod dirs, mounts.
  static std::vector<std::string> Leftovers() {
    std::vector<std::string> left;
    for (const char* type : {"user", "net", "ipc", "uts"}) {
      const std::string dir = absl::StrCat(Runroot(), "/ns/", type);
      for (const std::string& pin : Entries(dir)) left.push_back("pin " + dir + "/" + pin);
    }
    for (const std::string& id : Entries(Runroot() + "/pods")) left.push_back("pod dir " + id);
    for (const std::string& mount : MountsNaming(Runroot() + "/")) {
      if (mount != Runroot() + "/ns") left.push_back("mount " + mount);
    }
    return left;
  }
};

TEST_P(CriUserNamespaceCrash, ARunPodCutShortIsUndoneAtRestartAndRunsAgain) {
  const v1::PodSandboxConfig config = MappedPodConfig("userns-crash");
  std::set<std::string> before = PodIds();
  ASSERT_EQ(Leftovers(), std::vector<std::string>{}) << "before the cut";
  OCID_ASSERT_OK(RestartAt(GetParam().c_str()));
  EXPECT_FALSE(RunPod(config).ok()) << "ocid did not stop at " << GetParam();
  OCID_ASSERT_OK(RestartAt(nullptr));
  EXPECT_EQ(PodIds(), before) << "a half-made pod is listed";
  EXPECT_EQ(Leftovers(), std::vector<std::string>{}) << "after the restart";

  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(config));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateContainer(pod, DefaultContainerConfig("userns-crash")));
  OCID_ASSERT_OK(StartContainer(id));
  std::vector<std::string> uid_map =
      absl::StrSplit(Output(id, {"cat", "/proc/self/uid_map"}), ' ', absl::SkipEmpty());
  EXPECT_EQ(uid_map, (std::vector<std::string>{"0", "1048576", "65536"}));
  EXPECT_EQ(Output(id, {"stat", "-c", "%u:%g", "/etc/hostname", "/dev/shm"}), "0:0\n0:0");
  OCID_ASSERT_OK(RemovePod(pod.id));
  EXPECT_EQ(Leftovers(), std::vector<std::string>{}) << "after RemovePodSandbox";
}

INSTANTIATE_TEST_SUITE_P(Points, CriUserNamespaceCrash,
                         ::testing::Values("run_pod.recorded", "run_pod.pinned",
                                           "run_pod.network_added", "run_pod.files_written",
                                           "run_pod.shm_mounted", "run_pod.files_given_to_userns",
                                           "run_pod.infra_started"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(info.param.find('.') + 1);
                           return name;
                         });

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
