#include "pkg/sandbox/sandbox_manager.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "pkg/base/crash_point.h"
#include "pkg/base/file_set.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

// The pod ID a fake's pins name (any non-empty one of them).
std::string PinnedPodId(const PinnedNamespaces& pins) {
  for (const std::string* path : {&pins.uts, &pins.ipc, &pins.net}) {
    if (!path->empty()) return path->substr(path->rfind('/') + 1);
  }
  return "";
}

// Remembers what is "made" on the host (as files under `dir`, so that what a
// crash test's child made is seen here); `fail_at` names the step that fails.
class FakeHost : public SandboxHost {
 public:
  explicit FakeHost(const std::string& dir)
      : pinned(dir + "/pinned"), shm(dir + "/shm"), infra(dir + "/infra") {}

  absl::StatusOr<PinnedNamespaces> Pin(const PinRequest& request) override {
    absl::MutexLock lock(&mu_);
    if (fail_at == "pin") return absl::InternalError("pin failed");
    pinned.insert(request.pod_id);
    pinned_userns = request.userns;
    return PinPaths(request);
  }
  absl::Status Unpin(const PinnedNamespaces& pins) override {
    std::string id = PinnedPodId(pins);
    {
      absl::MutexLock lock(&mu_);
      ++in_unpin[id];
      max_in_unpin = std::max(max_in_unpin, in_unpin[id]);
      ++unpin_callers;
    }
    if (unpin_hook) unpin_hook();
    absl::MutexLock lock(&mu_);
    --in_unpin[id];
    if (!id.empty()) pinned.erase(id);
    return absl::OkStatus();
  }
  bool Pinned(const PinnedNamespaces& pins) override {
    absl::MutexLock lock(&mu_);
    return pinned.count(PinnedPodId(pins)) > 0;
  }
  absl::Status WriteFiles(const std::string& dir, const std::string&,
                          const std::vector<std::string>&, const std::vector<std::string>&,
                          const std::vector<std::string>&) override {
    if (fail_at == "files") return absl::InternalError("files failed");
    std::ofstream(dir + "/hosts") << "127.0.0.1 localhost\n";
    return absl::OkStatus();
  }
  absl::Status MountShm(const std::string& path, const std::string& mount_label) override {
    absl::MutexLock lock(&mu_);
    if (fail_at == "shm") return absl::InternalError("shm failed");
    shm.insert(path);
    shm_labels[path] = mount_label;
    return absl::OkStatus();
  }
  absl::Status UnmountShm(const std::string& path) override {
    absl::MutexLock lock(&mu_);
    shm.erase(path);
    return absl::OkStatus();
  }
  absl::Status Chown(const std::vector<std::string>& paths, uint32_t uid, uint32_t gid) override {
    absl::MutexLock lock(&mu_);
    if (fail_at == "chown") return absl::InternalError("chown failed");
    for (const std::string& path : paths) chowned.push_back(absl::StrCat(path, " ", uid, ":", gid));
    return absl::OkStatus();
  }
  absl::StatusOr<ProcessIdentity> StartInfra(const PinnedNamespaces&, const std::string&,
                                             const std::string& process_label) override {
    absl::MutexLock lock(&mu_);
    infra_labels.push_back(process_label);
    if (fail_at == "infra") return absl::InternalError("infra failed");
    infra.insert(std::to_string(++next_pid_));
    return ProcessIdentity{next_pid_, 1000u + next_pid_};
  }
  bool InfraAlive(const ProcessIdentity& identity) override {
    absl::MutexLock lock(&mu_);
    return identity.start_time == 1000u + identity.pid &&
           infra.count(std::to_string(identity.pid)) > 0;
  }
  absl::Status KillHelpersOf(const std::string& pod_id) override {
    absl::MutexLock lock(&mu_);
    helpers_killed.push_back(pod_id);
    return absl::OkStatus();
  }
  absl::Status RemoveCgroups(const std::string& infra_cgroup,
                             const std::string& own_pod_cgroup) override {
    absl::MutexLock lock(&mu_);
    cgroups_removed.push_back(infra_cgroup + " " + own_pod_cgroup);
    return absl::OkStatus();
  }
  absl::Status SetPodLimits(const std::string& pod_cgroup, const CgroupLimits& limits) override {
    absl::MutexLock lock(&mu_);
    if (fail_at == "limits") return absl::InvalidArgumentError("the kernel refused it");
    auto part = [](const char* name, const auto& value) {
      return value ? absl::StrCat(" ", name, "=", *value) : std::string();
    };
    limits_set.push_back(pod_cgroup + part("shares", limits.cpu_shares) +
                         part("quota", limits.cpu_quota) + part("period", limits.cpu_period) +
                         part("memory", limits.memory_limit));
    return absl::OkStatus();
  }
  void StopInfra(const ProcessIdentity& identity) override {
    absl::MutexLock lock(&mu_);
    // Only the identity StartInfra gave stops it.
    if (identity.start_time == 1000u + identity.pid) infra.erase(std::to_string(identity.pid));
  }

  bool Empty() {
    absl::MutexLock lock(&mu_);
    return pinned.empty() && shm.empty() && infra.empty();
  }

  std::string fail_at;
  std::vector<std::string> cgroups_removed;
  std::vector<std::string> infra_labels;  // StartInfra's process_label, per call
  std::vector<std::string> limits_set;    // "<cgroup> shares=N quota=N period=N memory=N"
  std::function<void()> unpin_hook;       // runs inside Unpin, unlocked
  absl::Mutex mu_;
  FileSet pinned, shm, infra;                     // pod IDs, shm paths, infra pids
  std::map<std::string, std::string> shm_labels;  // shm path → its SELinux label
  std::vector<std::string> helpers_killed;        // by Recover, before an undo
  std::optional<UserNamespaceMappings> pinned_userns;  // the last Pin's
  std::vector<std::string> chowned;                    // "path uid:gid"
  std::map<std::string, int> in_unpin;
  int max_in_unpin = 0, unpin_callers = 0;
  pid_t next_pid_ = 1000;
};

class FakeNetwork : public PodNetwork {
 public:
  explicit FakeNetwork(const std::string& dir) : up(dir + "/network") {}

  absl::StatusOr<PodNetworkResult> SetUp(const PodNetworkRequest& request) override {
    if (setup_hook) setup_hook(request);
    absl::MutexLock lock(&mu_);
    if (fail) return absl::UnavailableError("plugin bridge failed");
    up.insert(request.pod_id);
    return PodNetworkResult{{"10.0.0.2"}, "{}"};
  }
  absl::Status TearDown(const PodNetworkRequest& request) override {
    absl::MutexLock lock(&mu_);
    ++teardowns;
    last_teardown = request;
    up.erase(request.pod_id);
    return absl::OkStatus();
  }
  bool fail = false;
  std::function<void(const PodNetworkRequest&)> setup_hook;  // runs first in SetUp, unlocked
  absl::Mutex mu_;
  FileSet up;  // pod IDs
  int teardowns = 0;
  PodNetworkRequest last_teardown;
};

class FakeContainers : public PodContainers {
 public:
  absl::Status StopAllOf(const std::string& pod_id) override {
    absl::MutexLock lock(&mu_);
    stopped.push_back(pod_id);
    return absl::OkStatus();
  }
  absl::Status RemoveAllOf(const std::string& pod_id) override {
    absl::MutexLock lock(&mu_);
    removed.push_back(pod_id);
    return absl::OkStatus();
  }
  absl::Mutex mu_;  // parallel pod calls reach it at once
  std::vector<std::string> stopped, removed;
};

cri::PodSandboxConfig PodConfig(const std::string& name) {
  cri::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("default");
  config.mutable_metadata()->set_uid("uid-" + name);
  config.set_hostname(name);
  cri::PortMapping* port = config.add_port_mappings();
  port->set_container_port(80);
  port->set_host_port(8080);
  // Network, IPC and (here) PID are the pod's own: every step runs.
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      cri::NamespaceMode::POD);
  return config;
}

// A fresh dir for the running test.
std::string TestDir() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
  std::filesystem::remove_all(dir);
  return dir;
}

class SandboxManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { manager_ = NewManager(); }

  std::unique_ptr<SandboxManager> NewManager() {
    SandboxManagerOptions options;
    options.records_dir = dir_ + "/records";
    options.pods_dir = dir_ + "/pods";
    options.pins_dir = dir_ + "/ns";
    options.pinns_binary = "/bin/false";
    options.resolve_handler = [this](const std::string& handler) -> absl::StatusOr<std::string> {
      if (handler.empty()) return default_runtime_;
      if (handler == "runc" || handler == "crun") return handler;
      return absl::InvalidArgumentError("runtime_handler \"" + handler + "\" is not configured");
    };
    options.selinux = selinux_;
    auto manager = std::make_unique<SandboxManager>(options, host_, network_);
    manager->SetContainers(&containers_);
    EXPECT_TRUE(manager->Recover().ok());
    return manager;
  }

  size_t PodDirs() {
    auto entries = std::filesystem::directory_iterator(dir_ + "/pods");
    return static_cast<size_t>(std::distance(begin(entries), end(entries)));
  }

  size_t Records() {
    size_t n = 0;
    manager_->ForEach([&](const SandboxRecord&) { ++n; });
    return n;
  }

  // Files of the records: what a crashed child left on disk.
  size_t RecordFiles() {
    auto entries = std::filesystem::directory_iterator(dir_ + "/records");
    return static_cast<size_t>(std::distance(begin(entries), end(entries)));
  }

  std::string dir_ = TestDir();
  std::string default_runtime_ = "runc";  // what "" names; a test may reload it
  FakeHost host_{dir_ + "/fake"};
  FakeNetwork network_{dir_ + "/fake"};
  FakeContainers containers_;
  Selinux* selinux_ = nullptr;
  std::unique_ptr<SandboxManager> manager_;
};

// SELinux on, with the policy's defaults.
class EnabledSelinuxHost : public SelinuxHost {
 public:
  bool Enabled() override { return true; }
  absl::StatusOr<std::string> LxcContexts() override { return absl::NotFoundError("none"); }
  absl::Status SetFileLabel(const std::string&, const std::string&) override {
    return absl::OkStatus();
  }
};

TEST_F(SandboxManagerTest, SelinuxLevelPerPodHeldByItsRecord) {
  // 3 categories: 3 levels in all.
  auto selinux = std::make_unique<Selinux>(std::make_unique<EnabledSelinuxHost>(), 3);
  selinux_ = selinux.get();
  manager_ = NewManager();
  absl::StatusOr<std::string> a = manager_->RunPod(PodConfig("a"), "");
  absl::StatusOr<std::string> b = manager_->RunPod(PodConfig("b"), "");
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  SandboxRecord pod_a = manager_->Get(*a).value();
  SandboxRecord pod_b = manager_->Get(*b).value();
  EXPECT_TRUE(absl::StartsWith(pod_a.selinux_process_label, "system_u:system_r:container_t:s0:c"))
      << pod_a.selinux_process_label;
  EXPECT_NE(LevelOf(pod_a.selinux_mount_label), LevelOf(pod_b.selinux_mount_label));
  EXPECT_EQ(host_.shm_labels[pod_a.shm_path], pod_a.selinux_mount_label);
  // The infra runs with the pod's process label, as cri-o's infra container.
  EXPECT_EQ(host_.infra_labels,
            (std::vector<std::string>{pod_a.selinux_process_label, pod_b.selinux_process_label}));
  EXPECT_EQ(selinux->levels().held(), 2);

  // A named level is the pod's (one outside the allocator's categories).
  cri::PodSandboxConfig named = PodConfig("named");
  named.mutable_linux()->mutable_security_context()->mutable_selinux_options()->set_level(
      "s0:c2,c9");
  absl::StatusOr<std::string> c = manager_->RunPod(named, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(LevelOf(manager_->Get(*c)->selinux_mount_label), "s0:c2,c9");

  // A restarted ocid holds the records' levels again: one is left.
  auto restarted = std::make_unique<Selinux>(std::make_unique<EnabledSelinuxHost>(), 3);
  selinux_ = restarted.get();
  manager_ = NewManager();
  EXPECT_EQ(restarted->levels().held(), 2);
  absl::StatusOr<std::string> d = manager_->RunPod(PodConfig("d"), "");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(manager_->RunPod(PodConfig("e"), "").status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(restarted->levels().held(), 3) << "the failed RunPod took nothing";
  ASSERT_TRUE(manager_->RemovePod(*b).ok());
  EXPECT_EQ(restarted->levels().held(), 2);
  absl::StatusOr<std::string> e = manager_->RunPod(PodConfig("e"), "");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(manager_->Get(*e)->selinux_mount_label, pod_b.selinux_mount_label);
}

TEST_F(SandboxManagerTest, RunPodMakesEachPartAndStopPodUndoesThem) {
  absl::StatusOr<std::string> id = manager_->RunPod(PodConfig("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(host_.pinned.size(), 1u);
  EXPECT_EQ(host_.shm.size(), 1u);
  EXPECT_EQ(host_.infra.size(), 1u);
  EXPECT_EQ(host_.infra_labels, std::vector<std::string>{""}) << "SELinux off: no label";
  EXPECT_EQ(network_.up.count(*id), 1u);
  absl::StatusOr<PodView> pod = manager_->Status(*id);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_TRUE(pod->record.ready);
  EXPECT_EQ(pod->record.ips, std::vector<std::string>{"10.0.0.2"});
  EXPECT_EQ(pod->config.metadata().name(), "web");

  ASSERT_TRUE(manager_->StopPod(*id).ok());
  EXPECT_TRUE(host_.Empty());
  EXPECT_TRUE(network_.up.empty());
  ASSERT_EQ(network_.last_teardown.port_mappings.size(), 1u);  // DEL had the ports
  EXPECT_EQ(network_.last_teardown.port_mappings[0].host_port, 8080);
  EXPECT_EQ(containers_.stopped, std::vector<std::string>{*id});
  EXPECT_FALSE(manager_->Get(*id)->ready);
  EXPECT_TRUE(manager_->StopPod(*id).ok()) << "stop is idempotent";
  EXPECT_EQ(network_.teardowns, 1) << "a stopped pod has no network to DEL";
}

TEST_F(SandboxManagerTest, RemovePodRemovesContainersFilesAndRecord) {
  std::string id = manager_->RunPod(PodConfig("web"), "").value();
  ASSERT_TRUE(manager_->RemovePod(id.substr(0, 12)).ok());  // a prefix names it
  EXPECT_TRUE(host_.Empty());
  EXPECT_TRUE(network_.up.empty());
  EXPECT_EQ(containers_.removed, std::vector<std::string>{id});
  EXPECT_EQ(host_.cgroups_removed, std::vector<std::string>{absl::StrCat(
                                       "/ocid/pod-", id, "/ocid-infra-", id, " /ocid/pod-", id)});
  EXPECT_EQ(PodDirs(), 0u);
  EXPECT_TRUE(absl::IsNotFound(manager_->Get(id).status()));
  EXPECT_TRUE(manager_->RemovePod(id).ok()) << "removing a removed pod is fine";

  // A kubelet parent's cgroup is kubelet's: only ocid's below it go.
  runtime::v1::PodSandboxConfig config = PodConfig("kube");
  config.mutable_linux()->set_cgroup_parent("kubepods-besteffort-pod9.slice");
  std::string kube = manager_->RunPod(config, "").value();
  ASSERT_TRUE(manager_->RemovePod(kube).ok());
  EXPECT_EQ(host_.cgroups_removed.back(),
            absl::StrCat("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9.slice",
                         "/ocid-infra-", kube, " "))
      << "a kubelet parent is not ocid's to remove";
  // The name is free again.
  EXPECT_TRUE(manager_->RunPod(PodConfig("web"), "").ok());
}

TEST_F(SandboxManagerTest, UpdateResourcesWritesResourcesPlusOverheadIntoThePodCgroup) {
  std::string id = manager_->RunPod(PodConfig("web"), "").value();
  cri::LinuxContainerResources resources, overhead;
  resources.set_cpu_shares(512);
  resources.set_cpu_quota(50000);
  resources.set_cpu_period(100000);
  resources.set_memory_limit_in_bytes(64 << 20);
  overhead.set_cpu_shares(10);
  overhead.set_cpu_quota(5000);
  overhead.set_memory_limit_in_bytes(1 << 20);
  absl::Status updated = manager_->UpdateResources(id.substr(0, 12), overhead, resources);
  ASSERT_TRUE(updated.ok()) << updated;
  ASSERT_EQ(host_.limits_set.size(), 1u);
  EXPECT_EQ(host_.limits_set[0],
            absl::StrCat("/ocid/pod-", id,
                         " shares=522 quota=55000 period=100000 memory=", (64 << 20) + (1 << 20)));

  // Unset fields stay as they are; an overhead alone does not limit.
  cri::LinuxContainerResources shares_only;
  shares_only.set_cpu_shares(256);
  ASSERT_TRUE(manager_->UpdateResources(id, overhead, shares_only).ok());
  EXPECT_EQ(host_.limits_set.back(), absl::StrCat("/ocid/pod-", id, " shares=266"));
  ASSERT_TRUE(manager_->UpdateResources(id, {}, {}).ok());
  EXPECT_EQ(host_.limits_set.size(), 2u) << "nothing to write";

  // Bad input names its field and writes nothing.
  cri::LinuxContainerResources negative;
  negative.set_memory_limit_in_bytes(-1);
  absl::Status bad = manager_->UpdateResources(id, {}, negative);
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
  EXPECT_EQ(bad.message(), "resources.memory_limit_in_bytes: negative");
  negative.Clear();
  negative.set_cpu_quota(-5);
  bad = manager_->UpdateResources(id, negative, resources);
  EXPECT_EQ(bad.message(), "overhead.cpu_quota: negative");
  EXPECT_EQ(host_.limits_set.size(), 2u);

  // The kernel's refusal is returned as it is.
  host_.fail_at = "limits";
  bad = manager_->UpdateResources(id, {}, resources);
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
  EXPECT_EQ(bad.message(), "the kernel refused it");
  host_.fail_at = "";

  // A kubelet parent is the pod's cgroup.
  cri::PodSandboxConfig config = PodConfig("kube");
  config.mutable_linux()->set_cgroup_parent("/kubepods/burstable/pod9");
  std::string kube = manager_->RunPod(config, "").value();
  ASSERT_TRUE(manager_->UpdateResources(kube, {}, shares_only).ok());
  EXPECT_EQ(host_.limits_set.back(), "/kubepods/burstable/pod9 shares=256");

  EXPECT_TRUE(absl::IsNotFound(manager_->UpdateResources("nope", {}, resources)));
  ASSERT_TRUE(manager_->StopPod(id).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(manager_->UpdateResources(id, {}, resources)));
}

TEST_F(SandboxManagerTest, SameRequestAgainReturnsThePodOtherConfigIsRefused) {
  std::string id = manager_->RunPod(PodConfig("web"), "").value();
  EXPECT_EQ(manager_->RunPod(PodConfig("web"), "").value(), id);
  cri::PodSandboxConfig other = PodConfig("web");
  other.set_hostname("other");
  EXPECT_TRUE(absl::IsAlreadyExists(manager_->RunPod(other, "").status()));
  EXPECT_EQ(host_.pinned.size(), 1u);
}

TEST_F(SandboxManagerTest, UnknownHandlerMakesNothing) {
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->RunPod(PodConfig("web"), "kata").status()));
  EXPECT_TRUE(host_.Empty());
  EXPECT_EQ(Records(), 0u);
}

TEST_F(SandboxManagerTest, AHostLevelSysctlMakesNothing) {
  cri::PodSandboxConfig config = PodConfig("web");
  (*config.mutable_linux()->mutable_sysctls())["kernel.panic"] = "1";
  absl::Status refused = manager_->RunPod(config, "").status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_NE(refused.message().find("config.linux.sysctls[\"kernel.panic\"]"), std::string::npos)
      << refused;
  EXPECT_TRUE(host_.Empty());
  EXPECT_EQ(Records(), 0u);
  (*config.mutable_linux()->mutable_sysctls()).clear();
  (*config.mutable_linux()->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "0";
  EXPECT_TRUE(manager_->RunPod(config, "").ok()) << "the name was not kept, and net.* is the pod's";
}

cri::UserNamespace* UserNamespaceOf(cri::PodSandboxConfig& config) {
  return config.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options();
}

void MapPod(cri::PodSandboxConfig& config, uint32_t host_id, uint32_t length) {
  cri::UserNamespace* userns = UserNamespaceOf(config);
  userns->set_mode(cri::NamespaceMode::POD);
  for (cri::IDMapping* m : {userns->add_uids(), userns->add_gids()}) {
    m->set_container_id(0);
    m->set_host_id(host_id);
    m->set_length(length);
  }
}

TEST_F(SandboxManagerTest, APodUserNamespaceIsPinnedRecordedAndOwnsThePodsFiles) {
  cri::PodSandboxConfig config = PodConfig("web");
  MapPod(config, 65536, 65536);
  absl::StatusOr<std::string> id = manager_->RunPod(config, "");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(host_.pinned_userns.has_value()) << "pinns was asked for a user namespace";
  EXPECT_EQ(host_.pinned_userns->uids, (std::vector<IdMapping>{{0, 65536, 65536}}));
  absl::StatusOr<SandboxRecord> pod = manager_->Get(*id);
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->namespaces.user, absl::StrCat(dir_, "/ns/user/", *id));
  ASSERT_TRUE(pod->userns.has_value());
  EXPECT_EQ(*pod->userns, *host_.pinned_userns);
  auto chowned = [&](const std::string& path) {
    return std::count(host_.chowned.begin(), host_.chowned.end(), path + " 65536:65536") == 1;
  };
  EXPECT_TRUE(chowned(pod->files_dir + "/resolv.conf"));
  EXPECT_TRUE(chowned(pod->files_dir + "/hosts"));
  EXPECT_TRUE(chowned(pod->shm_path));
  ASSERT_TRUE(manager_->RemovePod(*id).ok());
  EXPECT_TRUE(host_.Empty());

  cri::PodSandboxConfig node = PodConfig("node");
  UserNamespaceOf(node)->set_mode(cri::NamespaceMode::NODE);
  id = manager_->RunPod(node, "");
  ASSERT_TRUE(id.ok()) << "NODE is the host's user namespace";
  EXPECT_FALSE(host_.pinned_userns.has_value());
  EXPECT_EQ(manager_->Get(*id)->namespaces.user, "");
}

TEST_F(SandboxManagerTest, BadUserNamespaceMappingsAreRefusedAndMakeNothing) {
  cri::PodSandboxConfig config = PodConfig("web");
  MapPod(config, 65536, 0);
  absl::Status refused = manager_->RunPod(config, "").status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_TRUE(absl::StartsWith(
      refused.message(),
      "config.linux.security_context.namespace_options.userns_options.uids[0].length"))
      << refused;
  EXPECT_TRUE(host_.Empty());
  EXPECT_EQ(Records(), 0u);

  cri::PodSandboxConfig host_network = PodConfig("web");
  MapPod(host_network, 65536, 65536);
  host_network.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->set_network(cri::NamespaceMode::NODE);
  refused = manager_->RunPod(host_network, "").status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_TRUE(host_.Empty());

  host_.fail_at = "chown";
  cri::PodSandboxConfig good = PodConfig("web");
  MapPod(good, 65536, 65536);
  EXPECT_FALSE(manager_->RunPod(good, "").ok());
  EXPECT_TRUE(host_.Empty()) << "a failed chown undoes the pod";
  EXPECT_EQ(Records(), 0u);
  host_.fail_at = "";
  EXPECT_TRUE(manager_->RunPod(good, "").ok()) << "the name was released";
}

TEST_F(SandboxManagerTest, StopAndStatusOfUnknownPodAreNotFound) {
  EXPECT_TRUE(absl::IsNotFound(manager_->StopPod("nope")));
  EXPECT_TRUE(absl::IsNotFound(manager_->Status("nope").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->Get("").status()));
}

// Each step of RunPod fails in turn: whatever was made before it is undone,
// no record is left, and the name can be used again.
class SandboxRollbackTest : public SandboxManagerTest,
                            public ::testing::WithParamInterface<std::string> {};

TEST_P(SandboxRollbackTest, FailureAtStepLeavesNothing) {
  const std::string step = GetParam();
  if (step == "network") {
    network_.fail = true;
  } else if (step == "record") {
    // The record cannot be written: its dir is now a file.
    std::filesystem::remove_all(dir_ + "/records");
    std::ofstream(dir_ + "/records") << "";
  } else {
    host_.fail_at = step;
  }
  absl::StatusOr<std::string> id = manager_->RunPod(PodConfig("web"), "");
  ASSERT_FALSE(id.ok());
  EXPECT_TRUE(host_.Empty()) << "pins, shm or infra left after a failure at " << step;
  EXPECT_TRUE(network_.up.empty()) << "network left after a failure at " << step;
  EXPECT_EQ(PodDirs(), 0u) << "pod files left after a failure at " << step;
  EXPECT_EQ(Records(), 0u);

  host_.fail_at = "";
  network_.fail = false;
  if (step == "record") {
    std::filesystem::remove(dir_ + "/records");
    std::filesystem::create_directories(dir_ + "/records");
  }
  EXPECT_TRUE(manager_->RunPod(PodConfig("web"), "").ok()) << "the name stayed reserved";
}

INSTANTIATE_TEST_SUITE_P(Steps, SandboxRollbackTest,
                         ::testing::Values("pin", "network", "files", "shm", "infra", "record"));

TEST_F(SandboxManagerTest, RecoverFindsPodsAndTheirNames) {
  std::string id = manager_->RunPod(PodConfig("web"), "").value();
  manager_.reset();
  manager_ = NewManager();
  ASSERT_TRUE(manager_->Get(id).ok());
  EXPECT_EQ(manager_->RunPod(PodConfig("web"), "").value(), id) << "the name came back";
  ASSERT_TRUE(manager_->RemovePod(id).ok());
  EXPECT_TRUE(host_.Empty());
}

TEST_F(SandboxManagerTest, APodKeepsTheRuntimeItsHandlerNamedWhenItWasMade) {
  std::string before = manager_->RunPod(PodConfig("web"), "").value();
  default_runtime_ = "crun";  // a reloaded default_runtime
  std::string after = manager_->RunPod(PodConfig("db"), "").value();
  std::string named = manager_->RunPod(PodConfig("named"), "runc").value();
  EXPECT_EQ(manager_->Get(before)->runtime, "runc");
  EXPECT_EQ(manager_->Get(before)->runtime_handler, "") << "reported as kubelet asked";
  EXPECT_EQ(manager_->Get(after)->runtime, "crun");
  EXPECT_EQ(manager_->Get(named)->runtime, "runc");
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->RunPod(PodConfig("kata"), "kata").status()));

  // A record from before the runtime was kept gets it from its handler at
  // the next start, and keeps it.
  SandboxRecord old = manager_->Get(before).value();
  old.runtime.clear();
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/records/" + before + ".json", old.Serialize(), 0600).ok());
  manager_.reset();
  manager_ = NewManager();
  EXPECT_EQ(manager_->Get(before)->runtime, "crun");
  default_runtime_ = "runc";
  manager_.reset();
  manager_ = NewManager();
  EXPECT_EQ(manager_->Get(before)->runtime, "crun");
  EXPECT_EQ(manager_->Get(after)->runtime, "crun");
}

TEST_F(SandboxManagerTest, UnparsableStoredConfigFailsStopWithoutDel) {
  std::string id = manager_->RunPod(PodConfig("web"), "").value();
  SandboxRecord broken = manager_->Get(id).value();
  broken.config_json = "{not json";
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/records/" + id + ".json", broken.Serialize(), 0600).ok());
  manager_.reset();
  manager_ = NewManager();

  absl::Status stopped = manager_->StopPod(id);
  EXPECT_TRUE(absl::IsDataLoss(stopped)) << stopped;
  EXPECT_EQ(network_.teardowns, 0) << "CNI DEL ran with an empty config";
  EXPECT_EQ(network_.up.count(id), 1u);
  EXPECT_TRUE(absl::IsDataLoss(manager_->Status(id).status()));
}

TEST_F(SandboxManagerTest, CallsOnOnePodAreSerialised) {
  std::string id = manager_->RunPod(PodConfig("web"), "").value();
  absl::Notification in_first, release_first;
  std::atomic<int> entered{0};
  host_.unpin_hook = [&] {
    if (entered++ == 0) {
      in_first.Notify();
      release_first.WaitForNotification();
    }
  };
  std::thread stop([&] { EXPECT_TRUE(manager_->StopPod(id).ok()); });
  in_first.WaitForNotification();
  absl::Notification removed;
  std::thread remove([&] {
    EXPECT_TRUE(manager_->RemovePod(id).ok());
    removed.Notify();
  });
  // RemovePod must wait for the pod's lock.
  EXPECT_FALSE(removed.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  EXPECT_EQ(entered.load(), 1);
  release_first.Notify();
  stop.join();
  remove.join();
  EXPECT_EQ(host_.max_in_unpin, 1);
  EXPECT_TRUE(absl::IsNotFound(manager_->Get(id).status()));
}

TEST_F(SandboxManagerTest, CallsOnDifferentPodsRunTogether) {
  std::string a = manager_->RunPod(PodConfig("a"), "").value();
  std::string b = manager_->RunPod(PodConfig("b"), "").value();
  absl::Mutex mu;
  int inside = 0;
  bool both = true;
  host_.unpin_hook = [&] {
    absl::MutexLock lock(&mu);
    ++inside;
    // Each stop waits for the other to be inside Unpin too: serialised, the
    // first one times out.
    bool met = mu.AwaitWithTimeout(absl::Condition(
                                       +[](int* n) { return *n >= 2; }, &inside),
                                   absl::Seconds(5));
    both = both && met;
  };
  std::thread stop_a([&] { EXPECT_TRUE(manager_->StopPod(a).ok()); });
  std::thread stop_b([&] { EXPECT_TRUE(manager_->StopPod(b).ok()); });
  stop_a.join();
  stop_b.join();
  EXPECT_TRUE(both);
}

// 50 RunPods at once, with one name and with distinct names: each succeeds
// or fails cleanly, and what is left is exactly the pods that were made.
TEST_F(SandboxManagerTest, ParallelRunPodsWithOneNameMakeOnePod) {
  std::vector<std::thread> threads;
  absl::Mutex mu;
  std::set<std::string> ids;
  int refused = 0;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<std::string> id = manager_->RunPod(PodConfig("same"), "");
      absl::MutexLock lock(&mu);
      if (id.ok()) {
        ids.insert(*id);
      } else {
        EXPECT_TRUE(absl::IsAlreadyExists(id.status())) << id.status();
        ++refused;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(Records(), 1u);
  EXPECT_EQ(host_.pinned.size(), 1u) << "a refused RunPod left its pins";
  EXPECT_EQ(network_.up.size(), 1u);
  ASSERT_TRUE(manager_->RemovePod(*ids.begin()).ok());
  EXPECT_TRUE(host_.Empty());
}

TEST_F(SandboxManagerTest, ParallelRunPodsWithDistinctNames) {
  std::vector<std::thread> threads;
  absl::Mutex mu;
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::string> id = manager_->RunPod(PodConfig(absl::StrCat("pod", i)), "");
      ASSERT_TRUE(id.ok()) << id.status();
      absl::MutexLock lock(&mu);
      ids.push_back(*id);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(Records(), 50u);
  EXPECT_EQ(host_.pinned.size(), 50u);
  threads.clear();
  for (const std::string& id : ids) {
    threads.emplace_back([&, id] { EXPECT_TRUE(manager_->RemovePod(id).ok()); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(host_.Empty());
  EXPECT_TRUE(network_.up.empty());
  EXPECT_EQ(Records(), 0u);
  EXPECT_EQ(PodDirs(), 0u);
}

// ---- intent before side effects, and Recover -------------------------------

// What a RunPod cut short at a crash point has made by then.
struct Made {
  size_t pins, network, files, shm, infra;
};

class SandboxCrashTest : public SandboxManagerTest,
                         public ::testing::WithParamInterface<std::pair<std::string, Made>> {};

// ocid dies at each crash point of RunPod in turn (a forked child runs the
// call and _exits there: no undo runs). A fresh manager over the same dirs
// then undoes exactly what was made, and the name is free for a new pod.
TEST_P(SandboxCrashTest, RecoverUndoesWhatARunPodCutShortMade) {
#ifdef NDEBUG
  GTEST_SKIP() << "crash points are compiled out of release builds";
#endif
  const auto& [point, made] = GetParam();
  EXPECT_EXIT(
      {
        ::setenv(kCrashPointEnv, point.c_str(), 1);
        manager_->RunPod(PodConfig("web"), "").IgnoreError();
      },
      ::testing::ExitedWithCode(137), "test crash point " + point);
  ASSERT_EQ(RecordFiles(), 1u) << "no record was stored before the first side effect";
  EXPECT_EQ(host_.pinned.size(), made.pins);
  EXPECT_EQ(network_.up.size(), made.network);
  EXPECT_EQ(PodDirs(), made.files);
  EXPECT_EQ(host_.shm.size(), made.shm);
  EXPECT_EQ(host_.infra.size(), made.infra);

  manager_ = NewManager();  // as after a restart
  EXPECT_EQ(host_.helpers_killed.size(), 1u) << "the cut call's helpers were left running";
  EXPECT_TRUE(host_.Empty()) << "pins, shm or infra left after a crash at " << point;
  EXPECT_TRUE(network_.up.empty()) << "network left after a crash at " << point;
  EXPECT_EQ(PodDirs(), 0u);
  EXPECT_EQ(RecordFiles(), 0u);
  EXPECT_EQ(Records(), 0u);
  absl::StatusOr<std::string> again = manager_->RunPod(PodConfig("web"), "");
  ASSERT_TRUE(again.ok()) << "the name stayed reserved: " << again.status();
  EXPECT_TRUE(manager_->Get(*again)->ready);
  ASSERT_TRUE(manager_->RemovePod(*again).ok());
  EXPECT_TRUE(host_.Empty());
}

INSTANTIATE_TEST_SUITE_P(Points, SandboxCrashTest,
                         ::testing::Values(std::pair("run_pod.recorded", Made{0, 0, 0, 0, 0}),
                                           std::pair("run_pod.pinned", Made{1, 0, 0, 0, 0}),
                                           std::pair("run_pod.network_added", Made{1, 1, 0, 0, 0}),
                                           std::pair("run_pod.files_written", Made{1, 1, 1, 0, 0}),
                                           std::pair("run_pod.shm_mounted", Made{1, 1, 1, 1, 0}),
                                           std::pair("run_pod.infra_started", Made{1, 1, 1, 1, 1})),
                         [](const auto& info) {
                           std::string name =
                               info.param.first.substr(info.param.first.find('.') + 1);
                           return name;
                         });

// The point only a pod user namespace has: its files and /dev/shm given to
// the mapped root.
TEST_F(SandboxManagerTest, RecoverUndoesAUserNamespacedRunPodCutShortAfterItsChown) {
#ifdef NDEBUG
  GTEST_SKIP() << "crash points are compiled out of release builds";
#endif
  cri::PodSandboxConfig config = PodConfig("web");
  MapPod(config, 65536, 65536);
  EXPECT_EXIT(
      {
        ::setenv(kCrashPointEnv, "run_pod.files_given_to_userns", 1);
        manager_->RunPod(config, "").IgnoreError();
      },
      ::testing::ExitedWithCode(137), "test crash point run_pod.files_given_to_userns");
  EXPECT_EQ(host_.pinned.size(), 1u);
  EXPECT_EQ(host_.shm.size(), 1u);
  EXPECT_EQ(host_.infra.size(), 0u);

  manager_ = NewManager();
  EXPECT_TRUE(host_.Empty()) << "pins or shm left";
  EXPECT_TRUE(network_.up.empty());
  EXPECT_EQ(PodDirs(), 0u);
  EXPECT_EQ(RecordFiles(), 0u);
  absl::StatusOr<std::string> again = manager_->RunPod(config, "");
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(manager_->RemovePod(*again).ok());
  EXPECT_TRUE(host_.Empty());
}

// ocid dies at each crash point of StopPod and RemovePod in turn (a forked
// child runs the call). After a restart the pod is still there, READY only
// while its infra runs; the client's retry of the call succeeds, and once
// the pod is removed nothing of it is left and its name is free.
class SandboxStopCrashTest : public SandboxManagerTest,
                             public ::testing::WithParamInterface<std::string> {};

TEST_P(SandboxStopCrashTest, TheRetriedCallFinishesWhatTheCutShortOneLeft) {
#ifdef NDEBUG
  GTEST_SKIP() << "crash points are compiled out of release builds";
#endif
  const std::string point = GetParam();
  const bool in_remove = absl::StartsWith(point, "remove_pod.");
  absl::StatusOr<std::string> id = manager_->RunPod(PodConfig("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EXIT(
      {
        ::setenv(kCrashPointEnv, point.c_str(), 1);
        (in_remove ? manager_->RemovePod(*id) : manager_->StopPod(*id)).IgnoreError();
      },
      ::testing::ExitedWithCode(137), "test crash point " + point);

  manager_ = NewManager();  // as after a restart
  absl::StatusOr<SandboxRecord> pod = manager_->Get(*id);
  ASSERT_TRUE(pod.ok()) << "gone before its removal finished: " << pod.status();
  EXPECT_EQ(pod->ready, point == "stop_pod.containers_stopped") << "READY without its infra";
  if (in_remove) {
    ASSERT_TRUE(manager_->RemovePod(*id).ok());
  } else {
    ASSERT_TRUE(manager_->StopPod(*id).ok());
    EXPECT_FALSE(manager_->Get(*id)->ready);
    EXPECT_TRUE(network_.up.empty()) << "the network outlived the retried stop";
    ASSERT_TRUE(manager_->RemovePod(*id).ok());
  }
  EXPECT_TRUE(absl::IsNotFound(manager_->Get(*id).status()));
  EXPECT_TRUE(host_.Empty()) << "pins, shm or infra left after a crash at " << point;
  EXPECT_TRUE(network_.up.empty()) << "network left after a crash at " << point;
  EXPECT_EQ(PodDirs(), 0u);
  EXPECT_EQ(RecordFiles(), 0u);
  absl::StatusOr<std::string> again = manager_->RunPod(PodConfig("web"), "");
  ASSERT_TRUE(again.ok()) << "the name stayed reserved: " << again.status();
  EXPECT_NE(*again, *id);
  ASSERT_TRUE(manager_->RemovePod(*again).ok());
}

INSTANTIATE_TEST_SUITE_P(Points, SandboxStopCrashTest,
                         ::testing::Values("stop_pod.containers_stopped", "stop_pod.infra_stopped",
                                           "stop_pod.shm_unmounted", "stop_pod.network_removed",
                                           "stop_pod.unpinned", "stop_pod.recorded",
                                           "remove_pod.stopped", "remove_pod.containers_removed",
                                           "remove_pod.cgroups_removed",
                                           "remove_pod.files_removed"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

// While RunPod runs, its record is stored but the pod is not there yet:
// not listed, not found, and the same request again is refused rather than
// handed a half-made pod.
TEST_F(SandboxManagerTest, APodBeingMadeIsHiddenAndItsNameHeld) {
  bool checked = false;
  network_.setup_hook = [&](const PodNetworkRequest& request) {
    EXPECT_EQ(RecordFiles(), 1u);
    EXPECT_EQ(Records(), 0u) << "listed while being made";
    EXPECT_TRUE(absl::IsNotFound(manager_->Get(request.pod_id).status()));
    EXPECT_TRUE(absl::IsNotFound(manager_->Status(request.pod_id).status()));
    EXPECT_TRUE(absl::IsAlreadyExists(manager_->RunPod(PodConfig("web"), "").status()));
    EXPECT_TRUE(manager_->RemovePod(request.pod_id).ok());  // nothing there to remove
    checked = true;
  };
  absl::StatusOr<std::string> id = manager_->RunPod(PodConfig("web"), "");
  network_.setup_hook = nullptr;
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(checked);
  EXPECT_EQ(Records(), 1u);
  EXPECT_EQ(manager_->RunPod(PodConfig("web"), "").value(), *id);
}

// After a restart, a pod whose infra died (its PID namespace with it) or
// whose pins are gone (a reboot wiped the runroot) is NOTREADY; stopping
// and removing it still tears down everything, CNI DEL included.
TEST_F(SandboxManagerTest, RecoverReportsAPodWithoutItsInfraOrPinsNotReady) {
  std::string infra_dead = manager_->RunPod(PodConfig("infra-dead"), "").value();
  std::string pins_gone = manager_->RunPod(PodConfig("pins-gone"), "").value();
  std::string fine = manager_->RunPod(PodConfig("fine"), "").value();
  host_.infra.erase(std::to_string(manager_->Get(infra_dead)->infra_pid));
  host_.pinned.erase(pins_gone);
  manager_ = NewManager();

  EXPECT_FALSE(manager_->Get(infra_dead)->ready);
  EXPECT_FALSE(manager_->Get(pins_gone)->ready);
  EXPECT_TRUE(manager_->Get(fine)->ready);
  manager_ = NewManager();  // and so it stays
  EXPECT_FALSE(manager_->Get(infra_dead)->ready);

  ASSERT_TRUE(manager_->StopPod(infra_dead).ok());
  EXPECT_EQ(network_.up.count(infra_dead), 0u) << "no CNI DEL for a pod not ready";
  EXPECT_EQ(host_.pinned.count(infra_dead), 0u);
  EXPECT_TRUE(manager_->Get(infra_dead)->stopped);
  ASSERT_TRUE(manager_->RemovePod(pins_gone).ok());
  EXPECT_EQ(network_.up.count(pins_gone), 0u);
  ASSERT_TRUE(manager_->RemovePod(infra_dead).ok());
  ASSERT_TRUE(manager_->RemovePod(fine).ok());
  EXPECT_TRUE(host_.Empty());
  EXPECT_TRUE(network_.up.empty());
  EXPECT_EQ(PodDirs(), 0u);
}

}  // namespace
}  // namespace ocid
