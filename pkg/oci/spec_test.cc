#include "pkg/oci/spec.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/base/subprocess.h"

namespace ocid {
namespace {

using json = nlohmann::json;
using Strings = std::vector<std::string>;

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path) << contents;
}

std::string MakeTempDir(const std::string& base, const std::string& name) {
  std::string pattern = absl::StrCat(base, "/", name, ".XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return "";
  return pattern;
}

// Destinations of spec["mounts"], in order.
Strings Destinations(const json& spec) {
  Strings out;
  for (const json& m : spec["mounts"]) out.push_back(m["destination"]);
  return out;
}

const json* FindMount(const json& spec, const std::string& destination) {
  for (const json& m : spec["mounts"]) {
    if (m["destination"] == destination) return &m;
  }
  return nullptr;
}

// AppArmor off, ocid built with it (so Localhost errors name the host).
AppArmorHost NoAppArmor() {
  AppArmorHost host;
  host.enabled_file = "/nonexistent/enabled";
  host.profiles_file = "/nonexistent/profiles";
  host.built_in = true;
  return host;
}

class SpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(std::getenv("TEST_TMPDIR"), "spec");
    ASSERT_FALSE(dir_.empty());
    rootfs_ = dir_ + "/rootfs";
    ASSERT_TRUE(MakeDirs(rootfs_ + "/etc", 0755).ok());
    WriteFile(rootfs_ + "/etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    WriteFile(rootfs_ + "/etc/group", "root:x:0:\nalice:x:1000:\nvideo:x:44:alice\n");
    ASSERT_TRUE(MakeDirs(dir_ + "/shm", 0755).ok());
    ASSERT_TRUE(MakeDirs(dir_ + "/data", 0755).ok());
    for (const char* file : {"resolv.conf", "hosts", "hostname", "kube-hosts"}) {
      WriteFile(dir_ + "/" + file, "x\n");
    }
    sandbox_.id = "sandbox1";
    sandbox_.hostname = "pod-host";
    sandbox_.net_ns_path = "/run/ocid/netns/sandbox1";
    sandbox_.ipc_ns_path = "/proc/42/ns/ipc";
    sandbox_.uts_ns_path = "/proc/42/ns/uts";
    sandbox_.resolv_conf_path = dir_ + "/resolv.conf";
    sandbox_.hosts_path = dir_ + "/hosts";
    sandbox_.hostname_path = dir_ + "/hostname";
    sandbox_.shm_path = dir_ + "/shm";
    image_.entrypoint = {"/entry"};
    image_.cmd = {"cmd-arg"};
    image_.env = {"PATH=/img/bin", "A=1", "B=2"};
    image_.working_dir = "/work";
    config_.mutable_metadata()->set_name("c1");
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }

  SeccompProfiles seccomp_;
  bool swap_accounting_ = true;
  std::map<int, std::string> idmapped_sources_;
  std::vector<std::string> default_capabilities_ = Config().default_capabilities;
  AppArmorHost apparmor_host_ = NoAppArmor();
  SelinuxLabels selinux_;  // none: SELinux off

  absl::StatusOr<json> Build() {
    ContainerSpecInputs inputs;
    inputs.container_id = "ctr1";
    inputs.config = &config_;
    inputs.image = &image_;
    inputs.sandbox = &sandbox_;
    inputs.rootfs = rootfs_;
    inputs.min_oom_score_adj = min_oom_;
    inputs.cgroup_manager = cgroup_manager_;
    inputs.seccomp = &seccomp_;
    inputs.apparmor_host = &apparmor_host_;
    inputs.selinux = selinux_;
    inputs.swap_accounting = swap_accounting_;
    inputs.idmapped_sources = idmapped_sources_;
    inputs.default_capabilities = default_capabilities_;
    return BuildContainerSpec(inputs);
  }
  // The error message of a Build() expected to fail with InvalidArgument.
  std::string BuildError() {
    absl::StatusOr<json> spec = Build();
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << spec.status();
    return std::string(spec.status().message());
  }
  runtime::v1::LinuxContainerSecurityContext* Security() {
    return config_.mutable_linux()->mutable_security_context();
  }
  runtime::v1::Mount* AddMount(const std::string& container_path, const std::string& host_path) {
    runtime::v1::Mount* m = config_.add_mounts();
    m->set_container_path(container_path);
    m->set_host_path(host_path);
    return m;
  }

  std::string dir_;
  std::string rootfs_;
  SandboxContext sandbox_;
  ImageConfig image_;
  runtime::v1::ContainerConfig config_;
  int min_oom_ = -1000;
  std::string cgroup_manager_ = "cgroupfs";
};

TEST_F(SpecTest, TopLevelFields) {
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["ociVersion"], "1.0.2");
  EXPECT_EQ((*spec)["root"]["path"], rootfs_);
  EXPECT_EQ((*spec)["root"]["readonly"], false);
  EXPECT_EQ((*spec)["hostname"], "pod-host");
  EXPECT_EQ((*spec)["process"]["terminal"], false);
  EXPECT_EQ((*spec)["process"]["cwd"], "/work");
  EXPECT_EQ((*spec)["process"]["noNewPrivileges"], false);
  EXPECT_EQ((*spec)["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
  EXPECT_EQ((*spec)["process"]["rlimits"][0]["hard"], 4096);
  EXPECT_EQ((*spec)["annotations"]["io.kubernetes.cri.sandbox-id"], "sandbox1");
  EXPECT_EQ((*spec)["annotations"]["io.kubernetes.cri.container-name"], "c1");
}

TEST_F(SpecTest, ArgsFollowKubeletRules) {
  struct Case {
    const char* name;
    Strings command, args, want;
  };
  const Case cases[] = {
      {"command and args", {"/bin/cmd", "x"}, {"y"}, {"/bin/cmd", "x", "y"}},
      {"command only", {"/bin/cmd"}, {}, {"/bin/cmd"}},
      {"args only", {}, {"a", "b"}, {"/entry", "a", "b"}},
      {"neither", {}, {}, {"/entry", "cmd-arg"}},
  };
  for (const Case& c : cases) {
    config_.clear_command();
    config_.clear_args();
    for (const std::string& s : c.command) config_.add_command(s);
    for (const std::string& s : c.args) config_.add_args(s);
    absl::StatusOr<json> spec = Build();
    ASSERT_TRUE(spec.ok()) << c.name << ": " << spec.status();
    EXPECT_EQ((*spec)["process"]["args"].get<Strings>(), c.want) << c.name;
  }
}

TEST_F(SpecTest, NoCommandAnywhereIsAnError) {
  image_.entrypoint.clear();
  image_.cmd.clear();
  EXPECT_EQ(BuildError(), "no command: the image has no entrypoint or cmd and the request none");
}

TEST_F(SpecTest, EnvRequestOverridesImageByKey) {
  auto* kv = config_.add_envs();
  kv->set_key("A");
  kv->set_value("from-request");
  kv = config_.add_envs();
  kv->set_key("C");
  kv->set_value("3");
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["process"]["env"].get<Strings>(),
            (Strings{"PATH=/img/bin", "A=from-request", "B=2", "C=3", "HOSTNAME=pod-host",
                     "HOME=/root"}));
}

TEST_F(SpecTest, EnvDefaultsPathAndKeepsExplicitHostnameAndHome) {
  image_.env = {"HOSTNAME=mine", "HOME=/h"};
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  Strings env = (*spec)["process"]["env"];
  EXPECT_EQ(env, (Strings{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "HOSTNAME=mine", "HOME=/h"}));
}

TEST_F(SpecTest, BadEnvKeyNamesTheField) {
  config_.add_envs()->set_key("OK");
  config_.add_envs()->set_key("A=B");
  EXPECT_TRUE(absl::StartsWith(BuildError(), "config.envs[1].key: "));
}

// Found by container_spec_fuzzer: KeyValue.value is bytes on the wire, and
// an env value that is not UTF-8 made the spec's dump() (config.json) throw,
// which took ocid down in CreateContainer.
TEST_F(SpecTest, EnvValueMustBeUtf8) {
  config_.add_envs()->set_key("OK");
  config_.mutable_envs(0)->set_value("gr\xc3\xbc\xc3\x9f \xe6\x97\xa5 \xf0\x9f\x99\x82");
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_NO_THROW(spec->dump());
  for (const char* bad : {"x=\xde", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe6\x97"}) {
    config_.mutable_envs(0)->set_value(bad);
    EXPECT_EQ(BuildError(), "config.envs[0].value: is not valid UTF-8") << bad;
  }
}

// The same for the HOME taken from the image's /etc/passwd.
TEST_F(SpecTest, HomeFromPasswdMustBeUtf8) {
  WriteFile(rootfs_ + "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nbob:x:7:7::/home/\xff:/bin/sh\n");
  Security()->set_run_as_username("bob");
  absl::StatusOr<json> spec = Build();
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kFailedPrecondition) << spec.status();
  runtime::v1::KeyValue* home = config_.add_envs();
  home->set_key("HOME");
  home->set_value("/home/bob");
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_NO_THROW(spec->dump());
}

TEST_F(SpecTest, WorkingDirectory) {
  config_.set_working_dir("/req/../dir");
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["process"]["cwd"], "/dir");
  config_.clear_working_dir();
  image_.working_dir.clear();
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["process"]["cwd"], "/");
  config_.set_working_dir("relative");
  EXPECT_TRUE(absl::StartsWith(BuildError(), "config.working_dir: "));
}

TEST_F(SpecTest, UserResolution) {
  struct Case {
    const char* name;
    std::string image_user, username;
    int64_t uid = -1, gid = -1;
    uint32_t want_uid, want_gid;
    std::vector<uint32_t> want_gids;
  };
  const Case cases[] = {
      {"default root", "", "", -1, -1, 0, 0, {7}},
      {"image user by name", "alice", "", -1, -1, 1000, 1000, {44, 7}},
      {"run_as_username", "root", "alice", -1, -1, 1000, 1000, {44, 7}},
      {"run_as_user wins", "alice", "alice", 0, -1, 0, 0, {7}},
      {"unknown uid", "", "", 4000, -1, 4000, 0, {7}},
      {"run_as_group with run_as_username", "", "alice", -1, 55, 1000, 55, {44, 7}},
      {"run_as_group with run_as_user", "alice", "", 1000, 55, 1000, 55, {44, 7}},
  };
  for (const Case& c : cases) {
    image_.user = c.image_user;
    Security()->Clear();
    Security()->add_supplemental_groups(7);
    Security()->set_run_as_username(c.username);
    if (c.uid >= 0) Security()->mutable_run_as_user()->set_value(c.uid);
    if (c.gid >= 0) Security()->mutable_run_as_group()->set_value(c.gid);
    absl::StatusOr<json> spec = Build();
    ASSERT_TRUE(spec.ok()) << c.name << ": " << spec.status();
    const json& user = (*spec)["process"]["user"];
    EXPECT_EQ(user["uid"], c.want_uid) << c.name;
    EXPECT_EQ(user["gid"], c.want_gid) << c.name;
    EXPECT_EQ(user["additionalGids"].get<std::vector<uint32_t>>(), c.want_gids) << c.name;
  }
}

TEST_F(SpecTest, RunAsGroupWithoutAUserIsRefused) {
  image_.user = "alice";  // the image's user does not count
  Security()->mutable_run_as_group()->set_value(55);
  EXPECT_EQ(BuildError(),
            "config.linux.security_context.run_as_group: set without run_as_user or "
            "run_as_username");
  EXPECT_FALSE(ValidateUserFields(*Security()).ok());
  Security()->mutable_run_as_user()->set_value(0);
  EXPECT_TRUE(ValidateUserFields(*Security()).ok());
  Security()->mutable_run_as_group()->set_value(-1);
  EXPECT_EQ(ValidateUserFields(*Security()).message(),
            "config.linux.security_context.run_as_group: negative");
}

TEST_F(SpecTest, UnknownUserNamesTheFieldAndUser) {
  Security()->set_run_as_username("mallory");
  std::string error = BuildError();
  EXPECT_TRUE(absl::StartsWith(error, "config.linux.security_context.run_as_username: ")) << error;
  EXPECT_TRUE(absl::StrContains(error, "mallory")) << error;
}

TEST_F(SpecTest, DefaultMountsInOrder) {
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(Destinations(*spec),
            (Strings{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                     "/sys/fs/cgroup", "/etc/resolv.conf", "/etc/hosts", "/etc/hostname"}));
  const json* shm = FindMount(*spec, "/dev/shm");
  EXPECT_EQ((*shm)["source"], dir_ + "/shm");
  EXPECT_EQ((*shm)["type"], "bind");
  EXPECT_TRUE(absl::c_linear_search((*FindMount(*spec, "/sys"))["options"], "ro"));
  EXPECT_EQ((*FindMount(*spec, "/etc/hosts"))["source"], dir_ + "/hosts");
}

TEST_F(SpecTest, CriMountsOverrideSortAndMapOptions) {
  AddMount("/data/sub", dir_ + "/data")->set_propagation(runtime::v1::PROPAGATION_BIDIRECTIONAL);
  runtime::v1::Mount* data = AddMount("/data/", dir_ + "/data");
  data->set_readonly(true);
  data->set_propagation(runtime::v1::PROPAGATION_HOST_TO_CONTAINER);
  AddMount("/etc/hosts", dir_ + "/kube-hosts");
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(Destinations(*spec), (Strings{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                          "/sys", "/sys/fs/cgroup", "/etc/resolv.conf",
                                          "/etc/hostname", "/data", "/data/sub", "/etc/hosts"}));
  EXPECT_EQ((*FindMount(*spec, "/data"))["options"].get<Strings>(),
            (Strings{"rbind", "rslave", "ro"}));
  EXPECT_EQ((*FindMount(*spec, "/data/sub"))["options"].get<Strings>(),
            (Strings{"rbind", "rshared", "rw"}));
  EXPECT_EQ((*FindMount(*spec, "/etc/hosts"))["source"], dir_ + "/kube-hosts");
  EXPECT_EQ((*spec)["linux"]["rootfsPropagation"], "rshared");
}

TEST_F(SpecTest, MountOverDevReplacesItsChildren) {
  AddMount("/dev", dir_ + "/data");
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(Destinations(*spec), (Strings{"/proc", "/sys", "/sys/fs/cgroup", "/etc/resolv.conf",
                                          "/etc/hosts", "/etc/hostname", "/dev"}));
  EXPECT_FALSE((*spec)["linux"].contains("rootfsPropagation"));
}

TEST_F(SpecTest, BadMountsNameTheField) {
  AddMount("/ok", dir_ + "/data");
  AddMount("/missing", "/nope/not/here");
  EXPECT_EQ(BuildError(), "config.mounts[1].host_path: /nope/not/here does not exist");
  config_.mutable_mounts(1)->set_host_path(dir_ + "/data");
  config_.mutable_mounts(1)->set_container_path("relative");
  EXPECT_EQ(BuildError(), "config.mounts[1].container_path: \"relative\" is not absolute");
}

TEST_F(SpecTest, AnIdmappedMountBindsTheTreeMadeForIt) {
  AddMount("/plain", dir_ + "/data");
  runtime::v1::Mount* mapped = AddMount("/mapped", dir_ + "/data");
  for (auto* m : {mapped->add_uidmappings(), mapped->add_gidmappings()}) {
    m->set_host_id(1 << 20);
    m->set_length(65536);
  }
  absl::StatusOr<json> unmade = Build();
  EXPECT_TRUE(absl::IsInternal(unmade.status())) << unmade.status();
  idmapped_sources_[1] = "/run/ocid/containers/ctr1/idmap/1";
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  // A plain bind of the attached tree, which keeps its idmap: runc 1.1 is
  // given no per-mount mappings.
  const json& bind = *FindMount(*spec, "/mapped");
  EXPECT_EQ(bind["source"], "/run/ocid/containers/ctr1/idmap/1");
  EXPECT_EQ(bind["type"], "bind");
  EXPECT_FALSE(bind.contains("uidMappings"));
  EXPECT_EQ((*FindMount(*spec, "/plain"))["source"], dir_ + "/data");
}

TEST_F(SpecTest, NamespacesForSandboxAndHostModes) {
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["namespaces"], json::parse(R"([{"type":"pid"},
                            {"type":"network","path":"/run/ocid/netns/sandbox1"},
                            {"type":"ipc","path":"/proc/42/ns/ipc"},
                            {"type":"uts","path":"/proc/42/ns/uts"},
                            {"type":"mount"}])"));

  sandbox_.pid_ns_path = "/proc/42/ns/pid";
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["namespaces"][0], json::parse(R"({"type":"pid",
                                                                "path":"/proc/42/ns/pid"})"));

  sandbox_.pid_ns_path.clear();
  sandbox_.host_pid = true;
  sandbox_.net_ns_path.clear();
  sandbox_.ipc_ns_path.clear();
  sandbox_.uts_ns_path.clear();
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["namespaces"], json::parse(R"([{"type":"mount"}])"));
  EXPECT_FALSE(spec->contains("hostname"));
}

TEST_F(SpecTest, APodUserNamespaceIsJoinedWithItsMappings) {
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE((*spec)["linux"].contains("uidMappings")) << "the host's user namespace";

  sandbox_.user_ns_path = "/run/ocid/ns/user/sandbox1";
  sandbox_.userns = UserNamespaceMappings{{{0, 65536, 65536}}, {{0, 131072, 1000}, {1000, 5, 1}}};
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["namespaces"][0],
            json::parse(R"({"type":"user","path":"/run/ocid/ns/user/sandbox1"})"));
  EXPECT_EQ((*spec)["linux"]["uidMappings"],
            json::parse(R"([{"containerID":0,"hostID":65536,"size":65536}])"));
  EXPECT_EQ((*spec)["linux"]["gidMappings"],
            json::parse(R"([{"containerID":0,"hostID":131072,"size":1000},
                            {"containerID":1000,"hostID":5,"size":1}])"));

  sandbox_.user_ns_path.clear();
  EXPECT_TRUE(absl::IsInternal(Build().status())) << "mappings without the pin";
}

TEST_F(SpecTest, UserOutsideThePodsUserNamespaceIsRefusedNamingTheField) {
  sandbox_.user_ns_path = "/run/ocid/ns/user/sandbox1";
  sandbox_.userns = UserNamespaceMappings{{{0, 65536, 2000}}, {{0, 131072, 1000}, {1000, 5, 1}}};
  Security()->mutable_run_as_user()->set_value(1999);  // the last mapped uid
  Security()->mutable_run_as_group()->set_value(1000);
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();

  Security()->mutable_run_as_user()->set_value(2000);
  EXPECT_EQ(BuildError(),
            "config.linux.security_context.run_as_user: uid 2000 is not mapped in the pod's user "
            "namespace");
  Security()->mutable_run_as_user()->set_value(0);
  Security()->mutable_run_as_group()->set_value(1001);
  EXPECT_EQ(BuildError(),
            "config.linux.security_context.run_as_group: gid 1001 is not mapped in the pod's user "
            "namespace");
  Security()->mutable_run_as_group()->set_value(0);
  Security()->add_supplemental_groups(4000);
  EXPECT_EQ(BuildError(),
            "config.linux.security_context.supplemental_groups[0]: gid 4000 is not mapped in the "
            "pod's user namespace");
  Security()->Clear();
  image_.user = "5000";
  EXPECT_EQ(BuildError(), "the image's user: uid 5000 is not mapped in the pod's user namespace");

  // A name's ids come from the rootfs: the name is the field at fault.
  image_.user.clear();
  Security()->set_run_as_username("alice");  // 1000:1000, and video (44) in /etc/group
  sandbox_.userns->gids = {{0, 131072, 1000}};
  EXPECT_EQ(BuildError(),
            "config.linux.security_context.run_as_username: its group, gid 1000 is not mapped in "
            "the pod's user namespace");
  sandbox_.userns->gids = {{0, 131072, 44}, {1000, 5, 1}};
  EXPECT_EQ(BuildError(),
            "config.linux.security_context.run_as_username: gid 44 (a group of the user in the "
            "image's /etc/group) is not mapped in the pod's user namespace");
  Security()->set_supplemental_groups_policy(runtime::v1::Strict);  // /etc/group's not added
  spec = Build();
  EXPECT_TRUE(spec.ok()) << spec.status();
}

// What CreateContainer checks before it makes anything: the request's own
// ids, each named by its field.
TEST(ValidateUserFieldsMappedTest, TheRequestsIdsMustBeMappedNamingTheField) {
  const UserNamespaceMappings userns{{{0, 65536, 65536}}, {{0, 65536, 1000}, {2000, 5, 1}}};
  runtime::v1::LinuxContainerSecurityContext sc;
  EXPECT_TRUE(ValidateUserFieldsMapped(sc, userns).ok()) << "nothing asked: the image decides";
  sc.mutable_run_as_user()->set_value(65535);
  sc.mutable_run_as_group()->set_value(2000);
  sc.add_supplemental_groups(0);
  sc.add_supplemental_groups(999);
  EXPECT_TRUE(ValidateUserFieldsMapped(sc, userns).ok());
  sc.set_run_as_username("not-checked-here");
  EXPECT_TRUE(ValidateUserFieldsMapped(sc, userns).ok()) << "a name needs the rootfs";

  sc.mutable_run_as_user()->set_value(65536);
  absl::Status status = ValidateUserFieldsMapped(sc, userns);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_EQ(status.message(),
            "config.linux.security_context.run_as_user: uid 65536 is not mapped in the pod's user "
            "namespace");
  sc.mutable_run_as_user()->set_value(int64_t{1} << 32);  // no uint32 wrap to 0
  EXPECT_TRUE(absl::StartsWith(ValidateUserFieldsMapped(sc, userns).message(),
                               "config.linux.security_context.run_as_user: uid 4294967296 "));
  sc.mutable_run_as_user()->set_value(0);
  sc.mutable_run_as_group()->set_value(1000);
  EXPECT_EQ(ValidateUserFieldsMapped(sc, userns).message(),
            "config.linux.security_context.run_as_group: gid 1000 is not mapped in the pod's user "
            "namespace");
  sc.mutable_run_as_group()->set_value(0);
  sc.add_supplemental_groups(1999);
  EXPECT_EQ(ValidateUserFieldsMapped(sc, userns).message(),
            "config.linux.security_context.supplemental_groups[2]: gid 1999 is not mapped in the "
            "pod's user namespace");
  sc.set_supplemental_groups(2, -3);
  EXPECT_TRUE(absl::StartsWith(ValidateUserFieldsMapped(sc, userns).message(),
                               "config.linux.security_context.supplemental_groups[2]: gid -3 "));
  sc.mutable_run_as_group()->set_value(-1);
  EXPECT_EQ(ValidateUserFieldsMapped(sc, userns).message(),
            "config.linux.security_context.run_as_group: negative")
      << "ValidateUserFields' checks come first";
}

TEST_F(SpecTest, OomScoreAdjIsClamped) {
  struct Case {
    int64_t requested;
    int min;
    int64_t want;
  };
  for (const Case& c : {Case{-997, 0, 0}, Case{-997, -1000, -997}, Case{500, 0, 500},
                        Case{5000, 0, 1000}, Case{-5000, -2000, -1000}}) {
    config_.mutable_linux()->mutable_resources()->set_oom_score_adj(c.requested);
    min_oom_ = c.min;
    absl::StatusOr<json> spec = Build();
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ((*spec)["process"]["oomScoreAdj"], c.want) << c.requested << " min " << c.min;
  }
}

TEST_F(SpecTest, UnprivilegedCapabilitiesAndPaths) {
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  const json& caps = (*spec)["process"]["capabilities"];
  EXPECT_EQ(caps["bounding"].size(), 14u);
  EXPECT_EQ(caps["effective"], caps["bounding"]);
  EXPECT_EQ(caps["permitted"], caps["bounding"]);
  EXPECT_TRUE(caps["inheritable"].empty());
  EXPECT_TRUE(absl::c_linear_search(caps["bounding"], "CAP_NET_RAW"));
  EXPECT_FALSE(absl::c_linear_search(caps["bounding"], "CAP_SYS_ADMIN"));
  EXPECT_TRUE(absl::c_linear_search((*spec)["linux"]["maskedPaths"], "/proc/kcore"));
  EXPECT_TRUE(absl::c_linear_search((*spec)["linux"]["readonlyPaths"], "/proc/sys"));
  EXPECT_EQ((*spec)["linux"]["resources"]["devices"],
            json::parse(R"([{"allow":false,"access":"rwm"}])"));

  Security()->add_masked_paths("/only/this");
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["maskedPaths"].get<Strings>(), Strings{"/only/this"});
}

TEST_F(SpecTest, DefaultCapabilitiesComeFromTheConfig) {
  default_capabilities_ = {"net_admin", "CAP_CHOWN", "chown"};
  Security()->mutable_capabilities()->add_add_capabilities("KILL");
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["process"]["capabilities"]["bounding"].get<Strings>(),
            (Strings{"CAP_NET_ADMIN", "CAP_CHOWN", "CAP_KILL"}));
  default_capabilities_ = {"CAP_CHOWN", "CAP_TELEPORT"};
  EXPECT_EQ(BuildError(),
            "ocid.runtime.default_capabilities[1]: unknown capability \"CAP_TELEPORT\"");
  EXPECT_FALSE(NormalizeCapabilities({"ALL"}, "f").ok());
}

TEST_F(SpecTest, CapabilityAddAndDrop) {
  auto* caps = Security()->mutable_capabilities();
  caps->add_add_capabilities("sys_admin");
  caps->add_drop_capabilities("CAP_NET_RAW");
  caps->add_drop_capabilities("kill");
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  const json& bounding = (*spec)["process"]["capabilities"]["bounding"];
  EXPECT_EQ(bounding.size(), 13u);
  EXPECT_TRUE(absl::c_linear_search(bounding, "CAP_SYS_ADMIN"));
  EXPECT_FALSE(absl::c_linear_search(bounding, "CAP_NET_RAW"));
  EXPECT_FALSE(absl::c_linear_search(bounding, "CAP_KILL"));

  caps->Clear();
  caps->add_drop_capabilities("ALL");
  caps->add_add_capabilities("NET_BIND_SERVICE");
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["process"]["capabilities"]["bounding"].get<Strings>(),
            Strings{"CAP_NET_BIND_SERVICE"});

  caps->Clear();
  caps->add_add_capabilities("ALL");
  caps->add_drop_capabilities("MKNOD");
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_GT((*spec)["process"]["capabilities"]["bounding"].size(), 30u);
  EXPECT_FALSE(absl::c_linear_search((*spec)["process"]["capabilities"]["bounding"], "CAP_MKNOD"));

  caps->Clear();
  caps->add_add_capabilities("CAP_NET_ADMIN");
  caps->add_add_capabilities("CAP_FLY");
  EXPECT_EQ(BuildError(),
            "config.linux.security_context.capabilities.add_capabilities[1]: unknown capability "
            "\"CAP_FLY\"");
}

TEST_F(SpecTest, PrivilegedGetsAllCapsHostDevicesAndNoMasks) {
  Security()->set_privileged(true);
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  const json& bounding = (*spec)["process"]["capabilities"]["bounding"];
  EXPECT_TRUE(absl::c_linear_search(bounding, "CAP_SYS_ADMIN"));
  EXPECT_GT(bounding.size(), 30u);
  EXPECT_FALSE((*spec)["linux"].contains("maskedPaths"));
  EXPECT_FALSE((*spec)["linux"].contains("readonlyPaths"));
  EXPECT_EQ((*spec)["linux"]["resources"]["devices"],
            json::parse(R"([{"allow":true,"access":"rwm"}])"));
  bool has_null = false;
  for (const json& d : (*spec)["linux"]["devices"]) has_null |= d["path"] == "/dev/null";
  EXPECT_TRUE(has_null);
  EXPECT_TRUE(absl::c_linear_search((*FindMount(*spec, "/sys"))["options"], "rw"));
}

TEST_F(SpecTest, ResourcesMapping) {
  auto* r = config_.mutable_linux()->mutable_resources();
  r->set_cpu_shares(512);
  r->set_cpu_quota(50000);
  r->set_cpu_period(100000);
  r->set_cpuset_cpus("0-1");
  r->set_cpuset_mems("0");
  r->set_memory_limit_in_bytes(64 << 20);
  r->set_memory_swap_limit_in_bytes(128 << 20);
  auto* huge = r->add_hugepage_limits();
  huge->set_page_size("2MB");
  huge->set_limit(4 << 20);
  (*r->mutable_unified())["memory.high"] = "1000000";
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  json want = json::parse(R"({
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
    "memory": {"limit": 67108864, "swap": 134217728},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
    "unified": {"memory.high": "1000000"},
    "devices": [{"allow": false, "access": "rwm"}]})");
  EXPECT_EQ((*spec)["linux"]["resources"], want) << (*spec)["linux"]["resources"].dump();

  r->set_cpu_shares(-1);
  EXPECT_EQ(BuildError(), "config.linux.resources.cpu_shares: negative");
}

TEST_F(SpecTest, MemoryLimitWithoutSwapRequestAllowsNoSwapBeyondIt) {
  auto* r = config_.mutable_linux()->mutable_resources();
  r->set_memory_limit_in_bytes(64 << 20);
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["resources"]["memory"],
            json::parse(R"({"limit": 67108864, "swap": 67108864})"))
      << "swap is memory+swap: equal to the limit means no swap";

  // The same rule for an update (runtime update --resources).
  absl::StatusOr<json> update = BuildResources(*r, "linux.", /*swap_accounting=*/true);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ((*update)["memory"]["swap"], 64 << 20);

  // Without swap accounting on the host runc could not write memsw.
  swap_accounting_ = false;
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["resources"]["memory"], json::parse(R"({"limit": 67108864})"));
  swap_accounting_ = true;

  // An explicit request is used as given: more swap, or unlimited.
  r->set_memory_swap_limit_in_bytes(96 << 20);
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["resources"]["memory"]["swap"], 96 << 20);
  r->set_memory_swap_limit_in_bytes(-1);
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["linux"]["resources"]["memory"]["swap"], -1);

  // No memory limit: no swap limit either.
  r->Clear();
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE((*spec)["linux"]["resources"].contains("memory"));

  r->set_memory_limit_in_bytes(64 << 20);
  r->set_memory_swap_limit_in_bytes(32 << 20);
  EXPECT_EQ(BuildError(),
            "config.linux.resources.memory_swap_limit_in_bytes: below memory_limit_in_bytes (it "
            "is memory plus swap)");
  r->set_memory_swap_limit_in_bytes(-2);
  EXPECT_EQ(BuildError(),
            "config.linux.resources.memory_swap_limit_in_bytes: below -1 (unlimited)");
}

TEST_F(SpecTest, Devices) {
  auto* d = config_.add_devices();
  d->set_container_path("/dev/mynull");
  d->set_host_path("/dev/null");
  d->set_permissions("rw");
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  const json& device = (*spec)["linux"]["devices"][0];
  EXPECT_EQ(device["path"], "/dev/mynull");
  EXPECT_EQ(device["type"], "c");
  EXPECT_EQ(device["major"], 1);
  EXPECT_EQ(device["minor"], 3);
  EXPECT_EQ((*spec)["linux"]["resources"]["devices"][1],
            json::parse(R"({"allow":true,"type":"c","major":1,"minor":3,"access":"rw"})"));

  d->set_permissions("rwx");
  EXPECT_TRUE(absl::StartsWith(BuildError(), "config.devices[0].permissions: "));
  d->set_permissions("");
  d->set_host_path("/dev/nope");
  EXPECT_EQ(BuildError(), "config.devices[0].host_path: /dev/nope does not exist");
}

TEST_F(SpecTest, SeccompAndAppArmorFollowTheSecurityContext) {
  auto& sc = *config_.mutable_linux()->mutable_security_context();
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE((*spec)["linux"].contains("seccomp")) << "nothing asked: unconfined";
  sc.mutable_seccomp()->set_profile_type(runtime::v1::SecurityProfile::RuntimeDefault);
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  if (SeccompBuiltIn()) {
    EXPECT_EQ((*spec)["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
  }
  sc.set_privileged(true);
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE((*spec)["linux"].contains("seccomp")) << "privileged: no filter";
  sc.set_privileged(false);
  sc.clear_seccomp();

  // This host has no AppArmor: RuntimeDefault is none, Localhost an error.
  sc.mutable_apparmor()->set_profile_type(runtime::v1::SecurityProfile::RuntimeDefault);
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE((*spec)["process"].contains("apparmorProfile"));
  sc.mutable_apparmor()->set_profile_type(runtime::v1::SecurityProfile::Localhost);
  sc.mutable_apparmor()->set_localhost_ref("my-app");
  EXPECT_NE(BuildError().find("AppArmor is not enabled on this host"), std::string::npos);
  WriteFile(dir_ + "/aa-enabled", "Y\n");
  WriteFile(dir_ + "/aa-profiles", "my-app (enforce)\n");
  apparmor_host_.enabled_file = dir_ + "/aa-enabled";
  apparmor_host_.profiles_file = dir_ + "/aa-profiles";
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["process"]["apparmorProfile"], "my-app");
  // RuntimeDefault there: ocid's own profile, already loaded.
  WriteFile(dir_ + "/aa-profiles", "my-app (enforce)\nocid-default (enforce)\n");
  sc.mutable_apparmor()->set_profile_type(runtime::v1::SecurityProfile::RuntimeDefault);
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["process"]["apparmorProfile"], "ocid-default");
  // Built without AppArmor: RuntimeDefault unconfined, Localhost refused.
  apparmor_host_.built_in = false;
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE((*spec)["process"].contains("apparmorProfile"));
  sc.mutable_apparmor()->set_profile_type(runtime::v1::SecurityProfile::Localhost);
  EXPECT_NE(BuildError().find("built without apparmor"), std::string::npos);
}

TEST_F(SpecTest, SelinuxLabelsWhenGiven) {
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE((*spec)["process"].contains("selinuxLabel")) << "SELinux off: no labels";
  EXPECT_FALSE((*spec)["linux"].contains("mountLabel"));
  selinux_ = {"system_u:system_r:container_t:s0:c1,c2",
              "system_u:object_r:container_file_t:s0:c1,c2"};
  spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["process"]["selinuxLabel"], "system_u:system_r:container_t:s0:c1,c2");
  EXPECT_EQ((*spec)["linux"]["mountLabel"], "system_u:object_r:container_file_t:s0:c1,c2");
}

TEST_F(SpecTest, CgroupsPathForBothManagers) {
  struct Case {
    const char* manager;
    const char* parent;
    const char* want;  // "" for an InvalidArgument
  };
  const Case cases[] = {
      {"cgroupfs", "", "/ocid/pod-sandbox1/ocid-ctr1"},
      {"cgroupfs", "/kubepods/besteffort/pod1", "/kubepods/besteffort/pod1/ocid-ctr1"},
      {"cgroupfs", "kubepods-besteffort-pod1.slice",
       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/ocid-ctr1"},
      {"cgroupfs", "kubepods", ""},
      {"systemd", "kubepods-besteffort-pod1.slice", "kubepods-besteffort-pod1.slice:ocid:ctr1"},
      {"systemd", "", "system.slice:ocid:ctr1"},
      {"systemd", "/kubepods", ""},
      {"lxcfs", "", ""},
  };
  for (const Case& c : cases) {
    cgroup_manager_ = c.manager;
    sandbox_.cgroup_parent = c.parent;
    absl::StatusOr<json> spec = Build();
    if (std::string(c.want).empty()) {
      EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
          << c.manager << " " << c.parent;
      continue;
    }
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ((*spec)["linux"]["cgroupsPath"], c.want);
  }
}

TEST_F(SpecTest, ReadonlyRootfsTtyAndNoNewPrivs) {
  Security()->set_readonly_rootfs(true);
  Security()->set_no_new_privs(true);
  config_.set_tty(true);
  absl::StatusOr<json> spec = Build();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)["root"]["readonly"], true);
  EXPECT_EQ((*spec)["process"]["terminal"], true);
  EXPECT_EQ((*spec)["process"]["noNewPrivileges"], true);
  EXPECT_TRUE(absl::c_linear_search((*FindMount(*spec, "/etc/resolv.conf"))["options"], "ro"));
}

TEST_F(SpecTest, MissingInputsAreInvalid) {
  ContainerSpecInputs inputs;
  inputs.container_id = "c";
  inputs.rootfs = rootfs_;
  EXPECT_EQ(BuildContainerSpec(inputs).status().message(), "config: missing");
}

// ---- runc accepts what we build ----

// Removes what runc leaves behind: the container, its state and the cgroup
// dirs below `cgroup_parent`.
void CleanUpRunc(const std::string& runc_root, const std::string& id,
                 const std::string& cgroup_parent) {
  RunCommand({"/usr/sbin/runc", "--root", runc_root, "delete", "-f", id}, absl::Seconds(60))
      .status()
      .IgnoreError();
  std::error_code ec;
  for (const auto& hierarchy : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    std::string parent = hierarchy.path().string() + cgroup_parent;
    rmdir((parent + "/ocid-" + id).c_str());
    rmdir(parent.c_str());
  }
}

absl::Status MakeBusyboxRootfs(const std::string& rootfs) {
  if (absl::Status s = MakeDirs(rootfs + "/bin", 0755); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::copy_file("/bin/busybox", rootfs + "/bin/busybox", ec);
  if (ec) return absl::InternalError("copy busybox: " + ec.message());
  if (chmod((rootfs + "/bin/busybox").c_str(), 0755) != 0 ||
      symlink("busybox", (rootfs + "/bin/sh").c_str()) != 0) {
    return absl::ErrnoToStatus(errno, "set up busybox");
  }
  return absl::OkStatus();
}

// A container that checks what the spec set up (a resolv.conf bind, a
// read-only CRI mount, its uid, a device, its hostname), then exits 7.
runtime::v1::ContainerConfig RuncTestConfig(const std::string& dir) {
  const char* script =
      "bb=/bin/busybox; $bb grep -q ocid /etc/resolv.conf && $bb test -r /data/f && "
      "! $bb touch /data/g 2>/dev/null && [ \"$($bb id -u)\" = 1000 ] && "
      "echo hi > /dev/mynull && [ \"$($bb hostname)\" = spec-test ] && exit 7";
  runtime::v1::ContainerConfig config;
  config.mutable_metadata()->set_name("spec-test");
  for (const char* arg : {"/bin/sh", "-c", script}) config.add_command(arg);
  runtime::v1::Mount* mount = config.add_mounts();
  mount->set_container_path("/data");
  mount->set_host_path(dir + "/data");
  mount->set_readonly(true);
  runtime::v1::Device* device = config.add_devices();
  device->set_container_path("/dev/mynull");
  device->set_host_path("/dev/null");
  device->set_permissions("rw");
  auto* linux_config = config.mutable_linux();
  linux_config->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  linux_config->mutable_security_context()->add_supplemental_groups(2000);
  linux_config->mutable_resources()->set_memory_limit_in_bytes(64 << 20);
  linux_config->mutable_resources()->set_cpu_shares(512);
  // Clamped to 0 below: this host refuses negative values.
  linux_config->mutable_resources()->set_oom_score_adj(-997);
  return config;
}

// Runs `argv` to its end, killing it after a minute; its wait status.
absl::StatusOr<int> RunWithDeadline(const std::vector<std::string>& argv, const std::string& log) {
  absl::StatusOr<Subprocess> child = Subprocess::SpawnLogged(argv, log);
  if (!child.ok()) return child.status();
  absl::StatusOr<int> status = child->Wait(absl::Seconds(60));
  if (absl::IsDeadlineExceeded(status.status())) child->Signal(SIGKILL).IgnoreError();
  return child->Wait();
}

TEST(RuncTest, RunsTheBuiltSpec) {
  if (geteuid() != 0 || access("/usr/sbin/runc", X_OK) != 0 || access("/bin/busybox", R_OK) != 0) {
    GTEST_SKIP() << "needs root, /usr/sbin/runc and /bin/busybox";
  }
  // /tmp, not TEST_TMPDIR: runc's state paths must stay short.
  std::string dir = MakeTempDir("/tmp", "ocid-spec-test");
  ASSERT_FALSE(dir.empty());
  std::string id = absl::StrCat("ocid-spec-test-", getpid());
  std::string cgroup_parent = absl::StrCat("/ocid-spec-test-", getpid());
  std::string runc_root = dir + "/runc";
  std::string bundle = dir + "/bundle";
  absl::Cleanup cleanup = [&] {
    CleanUpRunc(runc_root, id, cgroup_parent);
    RemoveAll(dir).IgnoreError();
  };
  ASSERT_TRUE(MakeBusyboxRootfs(bundle + "/rootfs").ok());
  ASSERT_TRUE(MakeDirs(dir + "/data", 0755).ok());
  WriteFile(dir + "/data/f", "data\n");
  WriteFile(dir + "/resolv.conf", "nameserver 127.0.0.1 # ocid\n");

  runtime::v1::ContainerConfig config = RuncTestConfig(dir);
  ImageConfig image;
  SandboxContext sandbox;
  sandbox.id = "spec-test-sandbox";
  sandbox.cgroup_parent = cgroup_parent;
  sandbox.resolv_conf_path = dir + "/resolv.conf";
  ContainerSpecInputs inputs{id, &config, &image, &sandbox, bundle + "/rootfs", 0, "cgroupfs"};
  absl::StatusOr<json> spec = BuildContainerSpec(inputs);
  ASSERT_TRUE(spec.ok()) << spec.status();
  // Host network; its own pid, mount, ipc and uts namespaces.
  (*spec)["linux"]["namespaces"] =
      json::parse(R"([{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}])");
  (*spec)["hostname"] = "spec-test";
  ASSERT_TRUE(WriteFileAtomically(bundle + "/config.json", spec->dump(2)).ok());

  std::string log = dir + "/runc.log";
  absl::StatusOr<int> status =
      RunWithDeadline({"/usr/sbin/runc", "--root", runc_root, "run", "--bundle", bundle, id}, log);
  ASSERT_TRUE(status.ok()) << status.status();
  std::ifstream log_stream(log);
  std::string output((std::istreambuf_iterator<char>(log_stream)), {});
  ASSERT_TRUE(WIFEXITED(*status)) << "runc was killed; output:\n" << output;
  EXPECT_EQ(WEXITSTATUS(*status), 7) << "runc output:\n" << output;
}

}  // namespace
}  // namespace ocid
