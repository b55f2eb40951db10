#include "pkg/container/container_manager.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pkg/base/crash_point.h"
#include "pkg/base/file_set.h"
#include "pkg/base/fs.h"
#include "pkg/checkpoint/archive.h"
#include "pkg/sandbox/sandbox_host.h"
#include "pkg/security/selinux.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

// Pods need a host; these tests are about containers, so it never fails.
class QuietHost : public SandboxHost {
 public:
  absl::StatusOr<PinnedNamespaces> Pin(const PinRequest& r) override {
    return PinnedNamespaces{"/ns/net/" + r.pod_id, "/ns/ipc/" + r.pod_id, "/ns/uts/" + r.pod_id,
                            r.userns ? "/ns/user/" + r.pod_id : ""};
  }
  absl::Status Unpin(const PinnedNamespaces&) override { return absl::OkStatus(); }
  bool Pinned(const PinnedNamespaces&) override { return true; }
  absl::Status WriteFiles(const std::string&, const std::string&, const std::vector<std::string>&,
                          const std::vector<std::string>&,
                          const std::vector<std::string>&) override {
    return absl::OkStatus();
  }
  absl::Status MountShm(const std::string&, const std::string&) override { return absl::OkStatus(); }
  absl::Status UnmountShm(const std::string&) override { return absl::OkStatus(); }
  absl::Status Chown(const std::vector<std::string>&, uint32_t, uint32_t) override {
    return absl::OkStatus();
  }
  absl::StatusOr<ProcessIdentity> StartInfra(const PinnedNamespaces&, const std::string&,
                                             const std::string&) override {
    return ProcessIdentity{77, 1};
  }
  void StopInfra(const ProcessIdentity&) override {}
  absl::Status RemoveCgroups(const std::string&, const std::string&) override {
    return absl::OkStatus();
  }
  absl::Status SetPodLimits(const std::string&, const CgroupLimits&) override {
    return absl::OkStatus();
  }
  bool InfraAlive(const ProcessIdentity&) override { return infra_alive; }
  absl::Status KillHelpersOf(const std::string&) override { return absl::OkStatus(); }

  std::atomic<bool> infra_alive = true;
};

class QuietNetwork : public PodNetwork {
 public:
  absl::StatusOr<PodNetworkResult> SetUp(const PodNetworkRequest&) override {
    return PodNetworkResult{{"10.0.0.9"}, "{}"};
  }
  absl::Status TearDown(const PodNetworkRequest&) override { return absl::OkStatus(); }
};

const char kImageId[] = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

class FakeImages : public ContainerImages {
 public:
  explicit FakeImages(const std::string& dir) : mounted(dir + "/mounted") {}
  absl::StatusOr<std::optional<ImageMatch>> Lookup(const std::string& name) override {
    if (fail_at == "lookup") return absl::InvalidArgumentError("ambiguous");
    if (name != "busybox" && name != kImageId) return std::optional<ImageMatch>();
    ImageMatch match;
    match.image.id = ParseDigest(kImageId).value();
    match.image.repo_tags = {"docker.io/library/busybox:latest"};
    match.name = "docker.io/library/busybox:latest";
    match.by_tag = name == "busybox";
    absl::MutexLock lock(&mu);
    ++users[kImageId];
    match.lease = Lease([this] {
      absl::MutexLock lock(&mu);
      --users[kImageId];
    });
    return std::optional<ImageMatch>(std::move(match));
  }
  absl::Status CheckTrust(const ImageMatch& match, const std::string& user_specified_image,
                          const std::string& pod_namespace) override {
    trust_checks.push_back(
        absl::StrCat(match.image.id.String(), " as ", user_specified_image, " in ", pod_namespace));
    if (fail_at == "trust") {
      return absl::FailedPreconditionError(
          "SignatureValidationFailed: image docker.io/library/busybox:latest (policy p, scope "
          "docker.io): the policy rejects it (reject)");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ReadConfig(const Digest&) override {
    if (fail_at == "config") return absl::NotFoundError("blob gone");
    return std::string(
        R"({"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"StopSignal":"SIGQUIT"},)"
        R"("rootfs":{"type":"layers","diff_ids":[]}})");
  }
  absl::Status MountRootfs(const std::vector<Digest>&, const std::string&, const std::string&,
                           const std::string& target, const LayerStore::Idmap* idmap,
                           const std::string& mount_label) override {
    if (mount_hook) mount_hook();
    absl::MutexLock lock(&mu);
    rootfs_labels[target] = mount_label;
    if (fail_at == "mount") return absl::InternalError("mount failed");
    if (idmap != nullptr) {
      idmapped_to = absl::StrCat(idmap->userns_path, " ", idmap->upper_uid, ":", idmap->upper_gid);
    }
    std::filesystem::create_directories(target + "/etc");
    std::ofstream(target + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n";
    std::ofstream(target + "/etc/group") << "root:x:0:\n";
    mounted.insert(target);
    return absl::OkStatus();
  }
  absl::Status UnmountRootfs(const std::string& target) override {
    absl::MutexLock lock(&mu);
    mounted.erase(target);
    return absl::OkStatus();
  }

  std::string fail_at;
  std::vector<std::string> trust_checks;  // "<image id> as <user image> in <namespace>"
  std::function<void()> mount_hook;
  absl::Mutex mu;
  FileSet mounted;  // rootfs paths, seen across a crash test's fork
  std::string idmapped_to;  // the last idmap: "userns_path uid:gid"
  std::map<std::string, std::string> rootfs_labels;  // rootfs path → SELinux context
  std::map<std::string, int> users;
};

// One handler, "runc"; containers "run" as entries in a map (and the IDs
// created are kept as files too, seen across a crash test's fork).
class FakeRuntime : public ContainerRuntime, public ContainerRuntimes {
 public:
  explicit FakeRuntime(const std::string& dir) : made(dir + "/runtime") {}
  const std::string& handler_name() const override { return name_; }
  absl::StatusOr<pid_t> Create(const ContainerLaunch& launch) override {
    absl::MutexLock lock(&mu);
    if (fail_create) return absl::InternalError("runc create failed");
    launches.push_back(launch);
    states[launch.id] = "created";
    made.insert(launch.id);
    std::ofstream(launch.bundle + "/pidfile") << "4242\n";
    return 4241;
  }
  absl::Status Start(const std::string& id) override {
    absl::MutexLock lock(&mu);
    states[id] = "running";
    return absl::OkStatus();
  }
  absl::Status Kill(const std::string& id, int signal) override {
    if (kill_hook) kill_hook();
    std::function<void(const std::string&)> notify;
    {
      absl::MutexLock lock(&mu);
      signals.push_back(signal);
      if (states[id] != "running" && states[id] != "created") return absl::NotFoundError("gone");
      states[id] = "stopped";
      if (gone_monitors.count(4241) > 0) return absl::OkStatus();  // no conmon, no exit file
      exits[id] = ContainerExit{128 + signal, absl::Now(), false};
      notify = on_exit;
    }
    if (notify) notify(id);  // as conmon's exit file would
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& id, bool) override {
    absl::MutexLock lock(&mu);
    states.erase(id);
    made.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<RuntimeState> State(const std::string& id) override {
    absl::MutexLock lock(&mu);
    auto it = states.find(id);
    if (it == states.end()) return absl::NotFoundError("no such container");
    return RuntimeState{it->second, 0};
  }
  absl::StatusOr<ExecResult> ExecSync(const std::string&, const std::string&,
                                      const std::vector<std::string>& command,
                                      absl::Duration) override {
    return ExecResult{command[0], "", 0, command[0] == "hang"};
  }
  absl::Status ReopenLog(const std::string&, const std::string&) override {
    return absl::OkStatus();
  }
  absl::Status Pause(const std::string& id) override {
    absl::MutexLock lock(&mu);
    checkpoints.push_back("pause " + id);
    return absl::OkStatus();
  }
  absl::Status Resume(const std::string& id) override {
    absl::MutexLock lock(&mu);
    checkpoints.push_back("resume " + id);
    return absl::OkStatus();
  }
  // As runc with CRIU: images into image_dir, a log into work_dir.
  absl::Status Checkpoint(const std::string& id, const std::string& image_dir,
                          const std::string& work_dir, bool leave_running) override {
    absl::MutexLock lock(&mu);
    if (fail_checkpoint) return absl::InternalError("runc checkpoint failed: criu dump");
    std::ofstream(image_dir + "/inventory.img") << "images of " << id;
    std::ofstream(work_dir + "/dump.log") << "dumped";
    checkpoints.push_back(absl::StrCat(id, leave_running ? " leave-running" : ""));
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<streaming::Channel>> StartExec(
      const std::string& id, const std::string&, const std::vector<std::string>& command,
      const streaming::ExecStdio& stdio) override {
    absl::MutexLock lock(&mu);
    interactive.push_back(absl::StrCat("exec ", id, " ", command[0], " tty=", stdio.tty,
                                       " stdin=", stdio.stdin, " size=", stdio.size.width, "x",
                                       stdio.size.height));
    return absl::UnavailableError("fake: no channel");
  }
  absl::StatusOr<std::unique_ptr<streaming::Channel>> Attach(const std::string& id,
                                                             const std::string&,
                                                             bool stdin) override {
    absl::MutexLock lock(&mu);
    interactive.push_back(absl::StrCat("attach ", id, " stdin=", stdin));
    return absl::UnavailableError("fake: no channel");
  }
  absl::Status Update(const std::string& id, const std::string& resources_json) override {
    absl::MutexLock lock(&mu);
    if (resources_json.find("\"cpus\":\"999\"") != std::string::npos) {
      return absl::InvalidArgumentError("write cpuset.cpus: invalid argument");
    }
    if (refuse_memory) {
      return absl::InvalidArgumentError(
          "unable to set memory limit to 4194304 (current usage: 41943040): write "
          "/sys/fs/cgroup/memory/x/memory.limit_in_bytes: device or resource busy");
    }
    updates.push_back(id + " " + resources_json);
    return absl::OkStatus();
  }

  absl::StatusOr<ContainerRuntime*> For(const std::string& handler) override {
    if (!handler.empty() && handler != name_) return absl::InvalidArgumentError("not configured");
    return this;
  }
  absl::StatusOr<ContainerExit> ReadExit(const std::string&, const std::string& id,
                                         const std::string&) override {
    absl::MutexLock lock(&mu);
    auto it = exits.find(id);
    if (it == exits.end()) return absl::NotFoundError("running");
    return it->second;
  }
  absl::Status KillHelpersOf(const std::string& id) override {
    absl::MutexLock lock(&mu);
    helpers_killed.push_back(id);
    return absl::OkStatus();
  }
  bool MonitorGone(pid_t conmon_pid) override {
    absl::MutexLock lock(&mu);
    return gone_monitors.count(conmon_pid) > 0;
  }
  bool ProcessGone(pid_t pid) override {
    absl::MutexLock lock(&mu);
    return gone_pids.count(pid) > 0;
  }
  absl::Status RemoveCgroupsOf(const std::string& spec_path) override {
    absl::MutexLock lock(&mu);
    cgroups_removed.push_back(spec_path);
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<ExitWatch>> WatchExits(
      const std::string&, std::function<void(const std::string&)> callback) override {
    absl::MutexLock lock(&mu);
    on_exit = std::move(callback);
    return std::make_unique<ExitWatch>();
  }

  bool fail_create = false;
  bool fail_checkpoint = false;
  // "pause ID", "ID [leave-running]" per checkpoint, "resume ID"
  std::vector<std::string> checkpoints;
  std::vector<ContainerLaunch> launches;  // per Create
  std::function<void()> kill_hook;  // runs first in Kill, unlocked
  absl::Mutex mu;
  std::map<std::string, std::string> states;
  FileSet made;
  std::map<std::string, ContainerExit> exits;
  std::vector<int> signals;
  std::vector<std::string> helpers_killed;   // by Recover, before an undo
  std::vector<std::string> updates;          // "id json" per Update applied
  std::vector<std::string> interactive;
  bool refuse_memory = false;  // Update fails as the kernel refuses a memory limit      // "exec ..." or "attach ..." per channel asked for
  std::vector<std::string> cgroups_removed;  // spec paths, by an undo
  std::set<pid_t> gone_monitors;             // conmon pids MonitorGone reports
  std::set<pid_t> gone_pids;                 // what ProcessGone reports (else running)
  std::function<void(const std::string&)> on_exit;
  std::string name_ = "runc";
};

cri::PodSandboxConfig PodConfig(const std::string& name = "pod") {
  cri::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("default");
  config.mutable_metadata()->set_uid("uid-1");
  config.set_hostname("pod");
  return config;
}

cri::ContainerConfig ContainerConfig(const std::string& name = "app") {
  cri::ContainerConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_image()->set_image("busybox");
  config.add_command("sleep");
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

class ContainerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Boot();
    pod_ = pods_->RunPod(PodConfig(), "").value();
  }

  void TearDown() override {
    containers_.reset();
    pods_.reset();
  }

  // A fresh pair of managers over the same dirs, as after an ocid restart.
  void Boot() {
    containers_.reset();
    pods_.reset();
    SandboxManagerOptions pod_options;
    pod_options.records_dir = dir_ + "/records/sandboxes";
    pod_options.pods_dir = dir_ + "/pods";
    pod_options.pins_dir = dir_ + "/ns";
    pod_options.resolve_handler = [this](const std::string& h) -> absl::StatusOr<std::string> {
      absl::StatusOr<ContainerRuntime*> runtime = runtime_.For(h);
      if (!runtime.ok()) return runtime.status();
      return (*runtime)->handler_name();
    };
    pod_options.events = &events_;
    pod_options.selinux = selinux_;
    pods_ = std::make_unique<SandboxManager>(pod_options, host_, network_);
    ContainerManagerOptions options;
    options.records_dir = dir_ + "/records/containers";
    options.overlay_dir = dir_ + "/containers";
    options.trash_dir = dir_ + "/trash";
    options.bundles_dir = dir_ + "/run/containers";
    options.exits_dir = dir_ + "/run/exits";
    options.default_log_dir = dir_ + "/logs";
    options.events = &events_;
    // The test dirs are under the 0700 home of root.
    options.searchable_by_others = [this](const std::string& dir) {
      return dir == closed_dir_ ? absl::FailedPreconditionError(dir + " is closed")
                                : absl::OkStatus();
    };
    options.kill_cgroup = [this](const std::string& cgroup) {
      std::function<void(const std::string&)> hook;
      {
        absl::MutexLock lock(&cgroups_mu_);
        killed_cgroups_.push_back(cgroup);
        hook = on_cgroup_kill_;
      }
      if (hook) hook(cgroup);
      return absl::OkStatus();
    };
    options.oom_killed = [this](const std::string& cgroup) -> absl::StatusOr<bool> {
      absl::MutexLock lock(&cgroups_mu_);
      return oom_cgroups_.count(cgroup) > 0;
    };
    options.watch_oom = [this](const std::string& id, const std::string& cgroup) {
      absl::MutexLock lock(&cgroups_mu_);
      oom_watched_[id] = cgroup;
      return absl::OkStatus();
    };
    options.unwatch_oom = [this](const std::string& id) {
      absl::MutexLock lock(&cgroups_mu_);
      oom_watched_.erase(id);
    };
    // Every container holds 40 MiB.
    options.memory_working_set = [](const std::string&) -> absl::StatusOr<uint64_t> {
      return uint64_t{40} << 20;
    };
    options.checkpoint_dirs = {dir_ + "/checkpoints"};
    options.check_criu = [this] { return criu_; };
    options.selinux = selinux_;
    options.join_cgroup = [this](const std::string& cgroup, pid_t pid) {
      std::function<void()> hook;
      {
        absl::MutexLock lock(&cgroups_mu_);
        hook = std::exchange(on_next_join_, nullptr);
      }
      if (hook) hook();
      absl::MutexLock lock(&cgroups_mu_);
      joined_cgroups_.emplace_back(cgroup, pid);
      return absl::OkStatus();
    };
    options.remove_cgroup = [this](const std::string& cgroup) {
      absl::MutexLock lock(&cgroups_mu_);
      removed_cgroups_.push_back(cgroup);
      return absl::OkStatus();
    };
    containers_ = std::make_unique<ContainerManager>(options, *pods_, images_, runtime_);
    pods_->SetContainers(containers_.get());
    ASSERT_TRUE(pods_->Recover().ok());
    ASSERT_TRUE(containers_->Recover().ok());
    pods_->FinishRemovals();
  }

  absl::Status criu_;  // what check_criu answers
  Selinux* selinux_ = nullptr;  // none: unlabelled
  std::unique_ptr<Selinux> selinux_owner_;  // outlives the managers

  size_t Entries(const std::string& dir) {
    if (!std::filesystem::is_directory(dir)) return 0;
    auto entries = std::filesystem::directory_iterator(dir);
    return static_cast<size_t>(std::distance(begin(entries), end(entries)));
  }

  size_t Records() {
    size_t n = 0;
    containers_->ForEach([&](const ContainerRecord&) { ++n; });
    return n;
  }

  // Nothing of any container is left anywhere.
  void ExpectNothingLeft(const std::string& why) {
    EXPECT_EQ(Records(), 0u) << why;
    EXPECT_TRUE(images_.mounted.empty()) << "rootfs still mounted: " << why;
    EXPECT_TRUE(runtime_.states.empty()) << "runtime still has a container: " << why;
    EXPECT_TRUE(runtime_.made.empty()) << "runtime still has a container: " << why;
    EXPECT_EQ(Entries(dir_ + "/records/containers"), 0u) << "record file left: " << why;
    EXPECT_EQ(images_.users[kImageId], 0) << "image still held: " << why;
    EXPECT_EQ(Entries(dir_ + "/run/containers"), 0u) << "bundle left: " << why;
    EXPECT_EQ(Entries(dir_ + "/containers"), 0u) << "overlay dirs left: " << why;
    // They went into the trash, which empties in the background.
    for (int i = 0; i < 500 && Entries(dir_ + "/trash") > 0; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(Entries(dir_ + "/trash"), 0u) << "trash not emptied: " << why;
  }

  std::string dir_ = TestDir();
  std::string closed_dir_;  // searchable_by_others refuses it
  QuietHost host_;
  QuietNetwork network_;
  FakeImages images_{dir_ + "/fake"};
  FakeRuntime runtime_{dir_ + "/fake"};
  EventBus events_;  // outlives the managers that publish to it
  std::unique_ptr<SandboxManager> pods_;
  std::unique_ptr<ContainerManager> containers_;
  std::string pod_;
  absl::Mutex cgroups_mu_;  // the exit watch's thread calls the fakes too
  std::vector<std::string> killed_cgroups_ ABSL_GUARDED_BY(cgroups_mu_);
  // Called after each kill_cgroup, without cgroups_mu_.
  std::function<void(const std::string& cgroup)> on_cgroup_kill_ ABSL_GUARDED_BY(cgroups_mu_);
  std::set<std::string> oom_cgroups_ ABSL_GUARDED_BY(cgroups_mu_);               // saw an OOM kill
  std::map<std::string, std::string> oom_watched_ ABSL_GUARDED_BY(cgroups_mu_);  // id -> cgroup
  std::vector<std::pair<std::string, pid_t>> joined_cgroups_ ABSL_GUARDED_BY(cgroups_mu_);
  std::vector<std::string> removed_cgroups_ ABSL_GUARDED_BY(cgroups_mu_);
  // Run (once) by the next join_cgroup before it joins, without cgroups_mu_.
  std::function<void()> on_next_join_ ABSL_GUARDED_BY(cgroups_mu_);

  std::vector<std::pair<std::string, pid_t>> JoinedCgroups() {
    absl::MutexLock lock(&cgroups_mu_);
    return joined_cgroups_;
  }
  std::string ConmonCgroupOf(const std::string& id) {
    return "/ocid/pod-" + pod_ + "/ocid-conmon-" + id;
  }

  std::map<std::string, std::string> OomWatched() {
    absl::MutexLock lock(&cgroups_mu_);
    return oom_watched_;
  }

  std::vector<std::string> KilledCgroups() {
    absl::MutexLock lock(&cgroups_mu_);
    return killed_cgroups_;
  }
  // The cgroup the cgroupfs driver gives container `id` of pod_.
  std::string CgroupOf(const std::string& id) { return "/ocid/pod-" + pod_ + "/ocid-" + id; }
  // The init exits on its own with `code`, as conmon's exit file says.
  void ExitByItself(const std::string& id, int code) {
    std::function<void(const std::string&)> notify;
    {
      absl::MutexLock lock(&runtime_.mu);
      runtime_.states[id] = "stopped";
      runtime_.exits[id] = ContainerExit{code, absl::Now(), false};
      notify = runtime_.on_exit;
    }
    notify(id);
  }
};

TEST_F(ContainerManagerTest, InteractiveExecAndAttachNeedARunningContainer) {
  cri::ContainerConfig config = ContainerConfig();
  config.set_stdin(false);
  absl::StatusOr<std::string> id = containers_->Create(pod_, config);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->GetRunning(*id).status()));
  const streaming::ExecStdio terminal{true, true, {80, 24}};
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->StartExec(*id, {"sh"}, terminal).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->Attach(*id, true).status()));
  ASSERT_TRUE(containers_->Start(*id).ok());
  EXPECT_TRUE(containers_->GetRunning(*id).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(containers_->StartExec(*id, {}, {}).status()));
  containers_->StartExec(*id, {"sh"}, terminal).status().IgnoreError();
  // The container reads no stdin: an attach gets none either.
  containers_->Attach(*id, true).status().IgnoreError();
  absl::MutexLock lock(&runtime_.mu);
  EXPECT_EQ(runtime_.interactive,
            (std::vector<std::string>{absl::StrCat("exec ", *id, " sh tty=1 stdin=1 size=80x24"),
                                      absl::StrCat("attach ", *id, " stdin=0")}));
}

// SELinux on; the labels it sets (path → label).
class LabellingSelinuxHost : public SelinuxHost {
 public:
  explicit LabellingSelinuxHost(std::map<std::string, std::string>* set) : set_(set) {}
  bool Enabled() override { return true; }
  absl::StatusOr<std::string> LxcContexts() override { return absl::NotFoundError("none"); }
  absl::Status SetFileLabel(const std::string& path, const std::string& label) override {
    (*set_)[path] = label;
    return absl::OkStatus();
  }

 private:
  std::map<std::string, std::string>* set_;
};

TEST_F(ContainerManagerTest, SelinuxLabelsTheProcessRootfsAndRelabelledVolumes) {
  static std::map<std::string, std::string> set;  // outlives selinux_owner_
  set.clear();
  selinux_owner_ = std::make_unique<Selinux>(std::make_unique<LabellingSelinuxHost>(&set));
  selinux_ = selinux_owner_.get();
  Boot();
  ASSERT_TRUE(pods_->RemovePod(pod_).ok());  // made before: unlabelled
  cri::PodSandboxConfig pod_config = PodConfig("labelled");
  pod_config.mutable_linux()->mutable_security_context()->mutable_selinux_options()->set_level(
      "s0:c3,c7");
  std::string pod = pods_->RunPod(pod_config, "").value();

  std::string volume = dir_ + "/volume";
  ASSERT_TRUE(MakeDirs(volume + "/sub", 0755).ok());
  symlink(volume.c_str(), (dir_ + "/volume-link").c_str());
  cri::ContainerConfig config = ContainerConfig();
  cri::Mount* relabelled = config.add_mounts();
  relabelled->set_container_path("/data");
  relabelled->set_host_path(dir_ + "/volume-link");
  relabelled->set_selinux_relabel(true);
  cri::Mount* plain = config.add_mounts();
  plain->set_container_path("/plain");
  plain->set_host_path(dir_);
  absl::StatusOr<std::string> id = containers_->Create(pod, config);
  ASSERT_TRUE(id.ok()) << id.status();
  ContainerRecord c = containers_->Get(*id).value();
  const std::string file_label = "system_u:object_r:container_file_t:s0:c3,c7";
  nlohmann::json spec =
      nlohmann::json::parse(ReadFileToString(c.bundle + "/config.json", 1 << 20).value());
  EXPECT_EQ(spec["process"]["selinuxLabel"], "system_u:system_r:container_t:s0:c3,c7");
  EXPECT_EQ(spec["linux"]["mountLabel"], file_label);
  EXPECT_EQ(images_.rootfs_labels[c.rootfs], file_label);
  EXPECT_EQ(set, (std::map<std::string, std::string>{{volume, file_label},
                                                     {volume + "/sub", file_label}}))
      << "the link's target, below it, and no mount without selinux_relabel";

  // Privileged: spc_t, at the pod's level.
  cri::ContainerConfig privileged = ContainerConfig("privileged");
  privileged.mutable_linux()->mutable_security_context()->set_privileged(true);
  id = containers_->Create(pod, privileged);
  ASSERT_TRUE(id.ok()) << id.status();
  c = containers_->Get(*id).value();
  spec = nlohmann::json::parse(ReadFileToString(c.bundle + "/config.json", 1 << 20).value());
  EXPECT_EQ(spec["process"]["selinuxLabel"], "system_u:system_r:spc_t:s0:c3,c7");

  // A system path is never relabelled: refused, nothing made.
  cri::ContainerConfig system = ContainerConfig("system");
  cri::Mount* usr = system.add_mounts();
  usr->set_container_path("/host-usr");
  usr->set_host_path("/usr");
  usr->set_selinux_relabel(true);
  size_t before = Records();
  absl::Status refused = containers_->Create(pod, system).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("config.mounts[0].host_path"), std::string::npos) << refused;
  EXPECT_EQ(Records(), before);
  EXPECT_EQ(set.count("/usr"), 0u);
}

TEST_F(ContainerManagerTest, CreateStartStopRemove) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(id.ok()) << id.status();
  ContainerRecord c = containers_->Get(*id).value();
  EXPECT_EQ(c.state, ContainerState::kCreated);
  EXPECT_EQ(c.image_name, "docker.io/library/busybox:latest");
  EXPECT_EQ(c.stop_signal, "SIGQUIT") << "the image's stop signal";
  EXPECT_EQ(c.conmon_pid, 4241);
  EXPECT_EQ(images_.mounted.count(c.rootfs), 1u);
  EXPECT_EQ(images_.users[kImageId], 1);
  EXPECT_TRUE(std::filesystem::exists(c.bundle + "/config.json"));

  ASSERT_TRUE(containers_->Start(*id).ok());
  c = containers_->Get(*id).value();
  EXPECT_EQ(c.state, ContainerState::kRunning);
  EXPECT_EQ(c.pid, 4242);
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->Start(*id)));

  absl::StatusOr<ExecResult> exec = containers_->ExecSync(*id, {"echo"}, 5);
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->stdout_data, "echo");
  EXPECT_TRUE(absl::IsDeadlineExceeded(containers_->ExecSync(*id, {"hang"}, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(containers_->ExecSync(*id, {}, 1).status()));

  ASSERT_TRUE(containers_->Stop(*id, 10).ok());
  EXPECT_EQ(runtime_.signals, std::vector<int>{SIGQUIT});
  absl::StatusOr<ContainerView> view = containers_->Status(*id);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->record.state, ContainerState::kExited);
  EXPECT_EQ(view->record.exit_code, 128 + SIGQUIT);
  EXPECT_EQ(view->record.reason, "Error");
  EXPECT_EQ(view->config.metadata().name(), "app");
  EXPECT_TRUE(containers_->Stop(*id, 10).ok()) << "stop is idempotent";
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->ExecSync(*id, {"echo"}, 1).status()));

  ASSERT_TRUE(containers_->Remove(*id).ok());
  ExpectNothingLeft("after Remove");
  EXPECT_TRUE(containers_->Remove(*id).ok()) << "removing a removed container is fine";
  EXPECT_TRUE(absl::IsNotFound(containers_->Stop(*id, 0)));
  absl::StatusOr<std::string> again = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(again.ok()) << "the name was not released: " << again.status();
  EXPECT_NE(*again, *id);
}

// conmon's move into its cgroup (a grace period of the kernel's on cgroup
// v1) runs after the create, off the call: neither Create nor a Start right
// after waits for it, and a container removed before its turn came is not
// moved (its cgroup, removed, is not made again).
TEST_F(ContainerManagerTest, ConmonJoinsItsCgroupAfterTheCreateAndNotOnceRemoved) {
  absl::Notification first_held, release;
  {
    absl::MutexLock lock(&cgroups_mu_);
    on_next_join_ = [&] {
      first_held.Notify();
      release.WaitForNotification();
    };
  }
  absl::StatusOr<std::string> kept = containers_->Create(pod_, ContainerConfig("kept"));
  ASSERT_TRUE(kept.ok()) << kept.status();
  first_held.WaitForNotification();
  absl::StatusOr<std::string> removed = containers_->Create(pod_, ContainerConfig("removed"));
  ASSERT_TRUE(removed.ok()) << "a create waited for an earlier move: " << removed.status();
  ASSERT_TRUE(containers_->Start(*kept).ok()) << "a start waited for its conmon's move";
  EXPECT_TRUE(JoinedCgroups().empty());
  ASSERT_TRUE(containers_->Remove(*removed).ok());
  release.Notify();

  for (int i = 0; i < 500 && JoinedCgroups().empty(); ++i) absl::SleepFor(absl::Milliseconds(10));
  containers_.reset();  // runs what is still queued
  EXPECT_EQ(JoinedCgroups(),
            (std::vector<std::pair<std::string, pid_t>>{{ConmonCgroupOf(*kept), 4241}}));
  absl::MutexLock lock(&cgroups_mu_);
  EXPECT_EQ(removed_cgroups_, std::vector<std::string>{ConmonCgroupOf(*removed)});
}

TEST_F(ContainerManagerTest, CheckpointArchivesARunningContainerThatRunsOn) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string location = dir_ + "/checkpoints/c.tar";
  absl::Status created = containers_->Checkpoint(*id, location);
  EXPECT_TRUE(absl::IsFailedPrecondition(created)) << created;
  EXPECT_NE(created.message().find("is not running"), std::string::npos) << created;
  ASSERT_TRUE(containers_->Start(*id).ok());

  // Bad locations, before anything is asked of the runtime.
  for (const std::string& bad : {std::string(""), dir_ + "/elsewhere.tar",
                                 dir_ + "/checkpoints/../x.tar", std::string("c.tar")}) {
    absl::Status refused = containers_->Checkpoint(*id, bad);
    EXPECT_TRUE(absl::IsInvalidArgument(refused)) << bad << ": " << refused;
  }
  EXPECT_TRUE(absl::IsNotFound(containers_->Checkpoint("nosuchcontainer", location)));

  criu_ = absl::FailedPreconditionError("CRIU cannot checkpoint on this host (criu check: vdso)");
  absl::Status no_criu = containers_->Checkpoint(*id, location);
  EXPECT_TRUE(absl::IsFailedPrecondition(no_criu)) << no_criu;
  EXPECT_NE(no_criu.message().find("vdso"), std::string::npos) << no_criu;
  EXPECT_NE(::access(location.c_str(), F_OK), 0) << "no file left";
  criu_ = absl::OkStatus();

  EXPECT_TRUE(runtime_.checkpoints.empty());
  runtime_.fail_checkpoint = true;
  EXPECT_FALSE(containers_->Checkpoint(*id, location).ok());
  EXPECT_NE(::access(location.c_str(), F_OK), 0) << "no file left";
  runtime_.fail_checkpoint = false;
  EXPECT_EQ(runtime_.checkpoints, (std::vector<std::string>{"pause " + *id, "resume " + *id}))
      << "a failed dump still thaws the container";
  runtime_.checkpoints.clear();

  std::ofstream(dir_ + "/containers/" + *id + "/upper/changed") << "42";
  ASSERT_TRUE(containers_->Checkpoint(*id, location).ok());
  // Frozen from before the dump until its changed files are read.
  EXPECT_EQ(runtime_.checkpoints, (std::vector<std::string>{"pause " + *id, *id + " leave-running",
                                                            "resume " + *id}));
  EXPECT_EQ(containers_->Get(*id)->state, ContainerState::kRunning);
  // The archive reads back: the container's name and image, its spec.
  const std::string unpacked = dir_ + "/unpacked";
  ASSERT_TRUE(MakeDirs(unpacked, 0700).ok());
  absl::StatusOr<CheckpointContents> contents = ReadCheckpointArchive(location, unpacked);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->config.id, *id);
  EXPECT_EQ(contents->config.name, ContainerConfig().metadata().name());
  EXPECT_EQ(contents->config.runtime, "runc");
  EXPECT_FALSE(contents->config.rootfs_image_name.empty());
  EXPECT_TRUE(contents->spec.contains("process"));
  EXPECT_TRUE(contents->has_rootfs_diff);
  EXPECT_EQ(ReadFileToString(unpacked + "/dump.log", 100).value_or(""), "dumped");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/containers/" + *id + "/checkpoint-work"));

  // The same location again: it exists now.
  absl::Status again = containers_->Checkpoint(*id, location);
  EXPECT_TRUE(absl::IsInvalidArgument(again)) << again;
  EXPECT_EQ(runtime_.checkpoints.size(), 3u);
  ASSERT_TRUE(containers_->Stop(*id, 10).ok());
}

TEST_F(ContainerManagerTest, CreateFromACheckpointArchiveRestoresAtStart) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(containers_->Start(*id).ok());
  std::ofstream(dir_ + "/containers/" + *id + "/upper/count") << "41";
  const std::string archive = dir_ + "/checkpoints/counter.tar";
  ASSERT_TRUE(containers_->Checkpoint(*id, archive).ok());
  const size_t records = Records();
  const size_t launches = runtime_.launches.size();

  runtime::v1::ContainerConfig config = ContainerConfig();
  config.mutable_metadata()->set_name("restored");
  config.mutable_image()->set_image(archive);

  // A malformed archive, or CRIU unable to work: refused, nothing made.
  const std::string garbage = dir_ + "/checkpoints/garbage.tar";
  std::ofstream(garbage) << "not a checkpoint archive at all";
  runtime::v1::ContainerConfig bad = config;
  bad.mutable_image()->set_image(garbage);
  absl::StatusOr<std::string> refused = containers_->Create(pod_, bad);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "config.image.image: "))
      << refused.status();
  criu_ = absl::FailedPreconditionError("CRIU cannot checkpoint on this host (criu check: vdso)");
  refused = containers_->Create(pod_, config);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  criu_ = absl::OkStatus();
  EXPECT_EQ(Records(), records);
  EXPECT_EQ(Entries(dir_ + "/containers"), 1u) << "only the first container's dir";

  absl::StatusOr<std::string> restored = containers_->Create(pod_, config);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(runtime_.launches.size(), launches) << "no runtime create before the start";
  ContainerRecord made = containers_->Get(*restored).value();
  EXPECT_EQ(made.state, ContainerState::kCreated);
  EXPECT_EQ(made.image_id, containers_->Get(*id)->image_id) << "the checkpointed image";
  const std::string overlay = dir_ + "/containers/" + *restored;
  EXPECT_EQ(ReadFileToString(overlay + "/upper/count", 10).value_or(""), "41")
      << "the changed files are back";
  EXPECT_EQ(made.restore_from, overlay + "/restore/checkpoint");
  EXPECT_TRUE(std::filesystem::exists(made.restore_from + "/inventory.img"));

  // A restart in between: the record stays created, nothing asked of the runtime.
  Boot();
  EXPECT_EQ(containers_->Get(*restored)->state, ContainerState::kCreated);

  criu_ = absl::FailedPreconditionError("criu check: no");
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->Start(*restored)));
  criu_ = absl::OkStatus();
  ASSERT_TRUE(containers_->Start(*restored).ok());
  ASSERT_EQ(runtime_.launches.size(), launches + 1);
  EXPECT_EQ(runtime_.launches.back().restore_from, overlay + "/restore/checkpoint");
  EXPECT_EQ(runtime_.launches.back().id, *restored);
  made = containers_->Get(*restored).value();
  EXPECT_EQ(made.state, ContainerState::kRunning);
  EXPECT_EQ(made.restore_from, "");
  EXPECT_EQ(made.conmon_pid, 4241);
  EXPECT_EQ(made.pid, 4242);

  ASSERT_TRUE(containers_->Remove(*restored).ok());
  EXPECT_FALSE(std::filesystem::exists(overlay));
  ASSERT_TRUE(containers_->Remove(*id).ok());
}

TEST_F(ContainerManagerTest, UpdateResourcesAppliesAndKeepsThemOrKeepsTheOld) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(containers_->Start(*id).ok());
  runtime::v1::LinuxContainerResources resources;
  resources.set_memory_limit_in_bytes(64 << 20);
  resources.set_cpu_shares(512);
  ASSERT_TRUE(containers_->UpdateResources(*id, resources).ok());
  ASSERT_EQ(runtime_.updates.size(), 1u);
  EXPECT_NE(runtime_.updates[0].find("\"limit\":67108864"), std::string::npos)
      << runtime_.updates[0];
  EXPECT_EQ(containers_->Status(*id)->config.linux().resources().memory_limit_in_bytes(), 64 << 20);

  runtime::v1::LinuxContainerResources refused = resources;
  refused.set_cpuset_cpus("999");
  EXPECT_TRUE(absl::IsInvalidArgument(containers_->UpdateResources(*id, refused)));
  EXPECT_EQ(containers_->Status(*id)->config.linux().resources().cpuset_cpus(), "")
      << "a refused update keeps the old resources";
  // Below what the container holds: refused before the runtime is asked.
  runtime::v1::LinuxContainerResources too_small;
  too_small.set_memory_limit_in_bytes(8 << 20);
  absl::Status below = containers_->UpdateResources(*id, too_small);
  EXPECT_TRUE(absl::IsInvalidArgument(below)) << below;
  EXPECT_TRUE(absl::StartsWith(below.message(), "linux.memory_limit_in_bytes: 8388608 is below"))
      << below;
  // The kernel's refusal names the request's field.
  runtime::v1::LinuxContainerResources refused_by_kernel;
  refused_by_kernel.set_memory_limit_in_bytes(uint64_t{64} << 20);
  runtime_.refuse_memory = true;
  absl::Status busy = containers_->UpdateResources(*id, refused_by_kernel);
  runtime_.refuse_memory = false;
  EXPECT_TRUE(absl::IsInvalidArgument(busy)) << busy;
  EXPECT_TRUE(absl::StartsWith(busy.message(), "linux.memory_limit_in_bytes: ")) << busy;
  runtime::v1::LinuxContainerResources negative;
  negative.set_memory_limit_in_bytes(-1);
  absl::Status bad = containers_->UpdateResources(*id, negative);
  EXPECT_TRUE(absl::IsInvalidArgument(bad));
  EXPECT_NE(bad.message().find("linux.memory_limit_in_bytes"), std::string::npos) << bad;
  EXPECT_EQ(runtime_.updates.size(), 1u) << "nothing applied";

  ASSERT_TRUE(containers_->Stop(*id, 10).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->UpdateResources(*id, resources)));
}

TEST_F(ContainerManagerTest, ExitAndStopKillWhatIsLeftInTheContainersCgroup) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(containers_->Start(*id).ok());
  EXPECT_TRUE(KilledCgroups().empty()) << "nothing killed while it runs";

  // The init exits by itself (the exit watch): its cgroup's rest is killed.
  ExitByItself(*id, 0);
  ASSERT_EQ(containers_->Get(*id)->state, ContainerState::kExited);
  EXPECT_EQ(KilledCgroups(), std::vector<std::string>{CgroupOf(*id)});

  // Stop kills it again before it returns, exited or not.
  absl::StatusOr<std::string> other = containers_->Create(pod_, ContainerConfig("other"));
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(containers_->Start(*other).ok());
  ASSERT_TRUE(containers_->Stop(*other, 10).ok());
  std::vector<std::string> killed = KilledCgroups();
  EXPECT_GE(std::count(killed.begin(), killed.end(), CgroupOf(*other)), 1) << killed.size();
  EXPECT_EQ(containers_->Get(*other)->exit_code, 128 + SIGQUIT) << "the init got its signal";
  size_t before = killed.size();
  ASSERT_TRUE(containers_->Stop(*id, 0).ok());
  ASSERT_EQ(KilledCgroups().size(), before + 1);
  EXPECT_EQ(KilledCgroups().back(), CgroupOf(*id));
}

// Stop's SIGKILL of a running container is its cgroup's kill, with no
// runtime process, when that killed the init; the runtime's kill follows
// when the init still runs after it.
TEST_F(ContainerManagerTest, StopKillsARunningContainerThroughItsCgroup) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ASSERT_TRUE(containers_->Start(id).ok());
  ASSERT_EQ(containers_->Get(id)->pid, 4242) << "the runtime's pidfile";
  {
    absl::MutexLock lock(&cgroups_mu_);
    on_cgroup_kill_ = [this, id](const std::string& cgroup) {
      {
        absl::MutexLock lock(&runtime_.mu);
        if (cgroup != CgroupOf(id) || runtime_.states[id] != "running") return;
        runtime_.gone_pids.insert(4242);
      }
      ExitByItself(id, 128 + SIGKILL);  // its init died of the SIGKILL
    };
  }
  ASSERT_TRUE(containers_->Stop(id, 0).ok());
  EXPECT_EQ(containers_->Get(id)->state, ContainerState::kExited);
  EXPECT_EQ(containers_->Get(id)->exit_code, 128 + SIGKILL);
  {
    absl::MutexLock lock(&runtime_.mu);
    EXPECT_TRUE(runtime_.signals.empty()) << "no runtime kill";
    runtime_.gone_pids.clear();
  }
  std::vector<std::string> killed = KilledCgroups();
  EXPECT_GE(std::count(killed.begin(), killed.end(), CgroupOf(id)), 1);

  // The cgroup's kill did not reach this init (it still runs): the runtime's.
  std::string other = containers_->Create(pod_, ContainerConfig("other")).value();
  ASSERT_TRUE(containers_->Start(other).ok());
  ASSERT_TRUE(containers_->Stop(other, 0).ok());
  EXPECT_EQ(containers_->Get(other)->exit_code, 128 + SIGKILL);
  absl::MutexLock lock(&runtime_.mu);
  EXPECT_EQ(runtime_.signals, std::vector<int>{SIGKILL});
}

// conmon killed (no exit file, ever): Status and the List check find the
// container EXITED, its processes killed; one whose conmon wrote the exit
// file before it went keeps that exit.
TEST_F(ContainerManagerTest, AContainerWhoseConmonIsGoneBecomesExitedAndIsKilled) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(containers_->Start(*id).ok());
  absl::StatusOr<ContainerView> running = containers_->Status(*id);
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->record.state, ContainerState::kRunning) << "its conmon runs";

  {
    absl::MutexLock lock(&runtime_.mu);
    runtime_.gone_monitors.insert(4241);
  }
  absl::StatusOr<ContainerView> status = containers_->Status(*id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->record.state, ContainerState::kExited);
  EXPECT_EQ(status->record.exit_code, 128 + SIGKILL);
  EXPECT_EQ(status->record.reason, "Error");
  EXPECT_TRUE(absl::StrContains(status->record.message, "conmon")) << status->record.message;
  EXPECT_GT(status->record.finished_at, 0);
  {
    absl::MutexLock lock(&runtime_.mu);
    EXPECT_EQ(std::count(runtime_.signals.begin(), runtime_.signals.end(), SIGKILL), 1);
  }
  EXPECT_EQ(KilledCgroups(), std::vector<std::string>{CgroupOf(*id)});

  // Through CheckMonitors (ListContainers), with an exit file there: it wins.
  absl::StatusOr<std::string> other = containers_->Create(pod_, ContainerConfig("other"));
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(containers_->Start(*other).ok());
  {
    absl::MutexLock lock(&runtime_.mu);
    runtime_.exits[*other] = ContainerExit{3, absl::Now(), false};
  }
  containers_->CheckMonitors();
  EXPECT_EQ(containers_->Get(*other)->state, ContainerState::kExited);
  EXPECT_EQ(containers_->Get(*other)->exit_code, 3);
  EXPECT_TRUE(containers_->Remove(*id).ok());
  EXPECT_TRUE(containers_->Remove(*other).ok());
}

TEST_F(ContainerManagerTest, AnOomKillCountedByTheCgroupMakesTheReasonOOMKilled) {
  absl::StatusOr<std::string> oom = containers_->Create(pod_, ContainerConfig("oom"));
  absl::StatusOr<std::string> plain = containers_->Create(pod_, ContainerConfig("plain"));
  ASSERT_TRUE(oom.ok()) << oom.status();
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(containers_->Start(*oom).ok());
  ASSERT_TRUE(containers_->Start(*plain).ok());
  {
    absl::MutexLock lock(&cgroups_mu_);
    oom_cgroups_.insert(CgroupOf(*oom));  // conmon wrote no oom file
  }
  ExitByItself(*oom, 137);
  ExitByItself(*plain, 137);
  EXPECT_EQ(containers_->Get(*oom)->reason, "OOMKilled");
  EXPECT_EQ(containers_->Get(*plain)->reason, "Error");

  // conmon's file alone still says so.
  absl::StatusOr<std::string> by_file = containers_->Create(pod_, ContainerConfig("by-file"));
  ASSERT_TRUE(by_file.ok()) << by_file.status();
  ASSERT_TRUE(containers_->Start(*by_file).ok());
  std::function<void(const std::string&)> notify;
  {
    absl::MutexLock lock(&runtime_.mu);
    runtime_.exits[*by_file] = ContainerExit{137, absl::Now(), /*oom_killed=*/true};
    notify = runtime_.on_exit;
  }
  notify(*by_file);
  EXPECT_EQ(containers_->Get(*by_file)->reason, "OOMKilled");
}

TEST_F(ContainerManagerTest, AnOomEventMarksARunningContainerAtOnceAndItsExitKeepsIt) {
  absl::StatusOr<std::string> hog = containers_->Create(pod_, ContainerConfig("hog"));
  absl::StatusOr<std::string> calm = containers_->Create(pod_, ContainerConfig("calm"));
  ASSERT_TRUE(hog.ok()) << hog.status();
  ASSERT_TRUE(calm.ok()) << calm.status();
  EXPECT_TRUE(OomWatched().empty()) << "watched from the start on";
  containers_->OnOom(*hog);  // not started yet: created counts too
  EXPECT_EQ(containers_->Get(*hog)->reason, "OOMKilled");
  ASSERT_TRUE(containers_->Start(*hog).ok());
  ASSERT_TRUE(containers_->Start(*calm).ok());
  EXPECT_EQ(OomWatched(),
            (std::map<std::string, std::string>{{*hog, CgroupOf(*hog)}, {*calm, CgroupOf(*calm)}}));

  // A child of the init killed: the container runs on, marked.
  containers_->OnOom(*calm);
  absl::StatusOr<ContainerView> running = containers_->Status(*calm);
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->record.state, ContainerState::kRunning);
  EXPECT_EQ(running->record.reason, "OOMKilled");

  // Neither conmon's file nor the cgroup's counter says so at the exit
  // (the cgroup gone first): the mark does, even with exit code 0.
  ExitByItself(*hog, 137);
  ExitByItself(*calm, 0);
  EXPECT_EQ(containers_->Get(*hog)->reason, "OOMKilled");
  EXPECT_EQ(containers_->Get(*calm)->reason, "OOMKilled");
  EXPECT_TRUE(OomWatched().empty()) << "unwatched once exited";

  // An exited container is left as its exit said.
  absl::StatusOr<std::string> done = containers_->Create(pod_, ContainerConfig("done"));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(containers_->Start(*done).ok());
  ExitByItself(*done, 0);
  containers_->OnOom(*done);
  containers_->OnOom("no-such-container");
  EXPECT_EQ(containers_->Get(*done)->reason, "Completed");
}

TEST_F(ContainerManagerTest, RunningContainersAreWatchedForOomAgainAfterARestart) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig("hog"));
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(containers_->Start(*id).ok());
  {
    absl::MutexLock lock(&cgroups_mu_);
    oom_watched_.clear();
  }
  Boot();
  EXPECT_EQ(OomWatched(), (std::map<std::string, std::string>{{*id, CgroupOf(*id)}}));
  ASSERT_TRUE(containers_->Remove(*id).ok());
  EXPECT_TRUE(OomWatched().empty()) << "unwatched when removed";
}

// The events a subscriber reads, as "<type> <container id>", until none
// comes for a moment.
std::vector<std::string> Drain(EventBus::Subscription& subscription) {
  std::vector<std::string> seen;
  while (std::optional<LifecycleEvent> event = subscription.Next(absl::Milliseconds(200))) {
    static const char* kNames[] = {"created", "started", "stopped", "deleted"};
    seen.push_back(absl::StrCat(kNames[static_cast<int>(event->type)], " ", event->container_id));
    EXPECT_GT(event->created_at, 0);
  }
  return seen;
}

TEST_F(ContainerManagerTest, EachLifecycleStepIsOneEventInOrder) {
  auto subscription = events_.Subscribe();
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ASSERT_TRUE(containers_->Start(id).ok());
  ASSERT_TRUE(containers_->Stop(id, 10).ok());
  ASSERT_TRUE(containers_->Stop(id, 10).ok());  // nothing changes: no event
  ASSERT_TRUE(containers_->Status(id).ok());
  ASSERT_TRUE(containers_->Remove(id).ok());
  EXPECT_EQ(Drain(*subscription), (std::vector<std::string>{"created " + id, "started " + id,
                                                            "stopped " + id, "deleted " + id}));

  // The pod is its own container in the stream, as containerd sends it.
  std::string other = pods_->RunPod(PodConfig("other"), "").value();
  ASSERT_TRUE(pods_->StopPod(other).ok());
  ASSERT_TRUE(pods_->StopPod(other).ok());
  ASSERT_TRUE(pods_->RemovePod(other).ok());
  EXPECT_EQ(Drain(*subscription),
            (std::vector<std::string>{"created " + other, "started " + other, "stopped " + other,
                                      "deleted " + other}));
}

TEST_F(ContainerManagerTest, CreateChecksTheTrustPolicyOfThePodsNamespaceFirst) {
  cri::ContainerConfig config = ContainerConfig();
  config.mutable_image()->set_image(kImageId);
  config.mutable_image()->set_user_specified_image("busybox");
  images_.fail_at = "trust";
  absl::Status refused = containers_->Create(pod_, config).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(absl::StrContains(
      refused.message(), "SignatureValidationFailed: image docker.io/library/busybox:latest"))
      << refused;
  EXPECT_EQ(images_.trust_checks,
            std::vector<std::string>{absl::StrCat(kImageId, " as busybox in default")});
  EXPECT_TRUE(images_.mounted.empty());
  ExpectNothingLeft("refused by the policy");
  // Not held by a reserved name: the same create succeeds once the policy allows it.
  images_.fail_at = "";
  EXPECT_TRUE(containers_->Create(pod_, config).ok());
}

TEST_F(ContainerManagerTest, AFailedCreateSendsNoEvent) {
  auto subscription = events_.Subscribe();
  images_.fail_at = "mount";
  EXPECT_FALSE(containers_->Create(pod_, ContainerConfig()).ok());
  EXPECT_TRUE(Drain(*subscription).empty());
}

TEST_F(ContainerManagerTest, TargetPidModeJoinsARunningContainerOfThePod) {
  std::string target = containers_->Create(pod_, ContainerConfig("target")).value();
  cri::ContainerConfig debug = ContainerConfig("debugger");
  auto& ns = *debug.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns.set_pid(cri::NamespaceMode::TARGET);
  ns.set_target_id(target);
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->Create(pod_, debug).status()))
      << "the target is created, not running";
  ASSERT_TRUE(containers_->Start(target).ok());
  absl::StatusOr<std::string> id = containers_->Create(pod_, debug);
  ASSERT_TRUE(id.ok()) << id.status();
  nlohmann::json spec = nlohmann::json::parse(
      ReadFileToString(containers_->Get(*id)->bundle + "/config.json", 1 << 20).value());
  bool joined = false;
  for (const auto& n : spec["linux"]["namespaces"]) {
    if (n["type"] == "pid") joined = n.value("path", "") == "/proc/4242/ns/pid";
  }
  EXPECT_TRUE(joined) << spec["linux"]["namespaces"].dump();

  ns.set_target_id("");
  debug.mutable_metadata()->set_name("debugger2");
  absl::Status empty = containers_->Create(pod_, debug).status();
  EXPECT_TRUE(absl::IsInvalidArgument(empty));
  EXPECT_NE(empty.message().find("namespace_options.target_id"), std::string::npos) << empty;
  ns.set_target_id("no-such-container");
  EXPECT_TRUE(absl::IsNotFound(containers_->Create(pod_, debug).status()));
}

void MapUsers(cri::NamespaceOption& options, uint32_t host_id) {
  cri::UserNamespace& userns = *options.mutable_userns_options();
  userns.set_mode(cri::NamespaceMode::POD);
  for (cri::IDMapping* m : {userns.add_uids(), userns.add_gids()}) {
    m->set_container_id(0);
    m->set_host_id(host_id);
    m->set_length(65536);
  }
}

TEST_F(ContainerManagerTest, AContainerJoinsItsPodsUserNamespaceWithAnIdmappedRootfs) {
  cri::PodSandboxConfig config = PodConfig("mapped");
  MapUsers(*config.mutable_linux()->mutable_security_context()->mutable_namespace_options(),
           131072);
  std::string pod = pods_->RunPod(config, "").value();
  std::string user_ns = pods_->Get(pod)->namespaces.user;
  ASSERT_FALSE(user_ns.empty());

  // None asked: the pod's.
  absl::StatusOr<std::string> id = containers_->Create(pod, ContainerConfig("inherits"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(images_.idmapped_to, user_ns + " 131072:131072");
  nlohmann::json spec = nlohmann::json::parse(
      ReadFileToString(containers_->Get(*id)->bundle + "/config.json", 1 << 20).value());
  EXPECT_EQ(spec["linux"]["namespaces"][0], (nlohmann::json{{"type", "user"}, {"path", user_ns}}));
  EXPECT_EQ(spec["linux"]["uidMappings"][0]["hostID"], 131072);
  EXPECT_EQ(spec["linux"]["gidMappings"][0]["size"], 65536);

  // The same asked again: fine.
  cri::ContainerConfig same = ContainerConfig("same");
  MapUsers(*same.mutable_linux()->mutable_security_context()->mutable_namespace_options(), 131072);
  EXPECT_TRUE(containers_->Create(pod, same).ok());

  // Another mapping, or the host's: refused naming the field, nothing made.
  ASSERT_TRUE(containers_->RemoveAllOf(pod).ok());
  ExpectNothingLeft("the pod's containers removed");
  cri::ContainerConfig other = ContainerConfig("other");
  MapUsers(*other.mutable_linux()->mutable_security_context()->mutable_namespace_options(), 196608);
  absl::Status refused = containers_->Create(pod, other).status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_NE(refused.message().find("namespace_options.userns_options"), std::string::npos);
  cri::ContainerConfig host = ContainerConfig("host");
  host.mutable_linux()
      ->mutable_security_context()
      ->mutable_namespace_options()
      ->mutable_userns_options()
      ->set_mode(cri::NamespaceMode::NODE);
  EXPECT_TRUE(absl::IsInvalidArgument(containers_->Create(pod, host).status()));
  // And a host-namespace pod's container cannot ask for one of its own.
  EXPECT_TRUE(absl::IsInvalidArgument(containers_->Create(pod_, other).status()));
  // A uid outside the pod's mappings: refused before even the rootfs is made.
  int mounts = 0;
  images_.mount_hook = [&] { ++mounts; };
  cri::ContainerConfig unmapped = ContainerConfig("unmapped");
  unmapped.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(65536);
  refused = containers_->Create(pod, unmapped).status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_EQ(refused.message(),
            "config.linux.security_context.run_as_user: uid 65536 is not mapped in the pod's user "
            "namespace");
  EXPECT_EQ(mounts, 0);
  images_.mount_hook = nullptr;
  ExpectNothingLeft("refused creates");

  images_.idmapped_to.clear();
  ASSERT_TRUE(containers_->Create(pod_, ContainerConfig("plain")).ok());
  EXPECT_EQ(images_.idmapped_to, "") << "no idmap in the host's user namespace";

  // ocid's own dirs on the way to the rootfs let others search them; a
  // host dir above the runroot that does not is FailedPrecondition.
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0011, 0011u) << "the runroot";
  ASSERT_EQ(stat((dir_ + "/run/containers").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0011, 0011u) << "the containers dir";
  ASSERT_TRUE(containers_->RemoveAllOf(pod).ok());
  ASSERT_TRUE(containers_->RemoveAllOf(pod_).ok());
  closed_dir_ = dir_;
  absl::Status closed = containers_->Create(pod, ContainerConfig("closed")).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(closed)) << closed;
  EXPECT_NE(closed.message().find(dir_ + " is closed"), std::string::npos) << closed;
  ExpectNothingLeft("a closed host dir");
}

TEST_F(ContainerManagerTest, SameConfigAgainReturnsTheContainer) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  EXPECT_EQ(containers_->Create(pod_, ContainerConfig()).value(), id);
  EXPECT_EQ(Records(), 1u);
}

TEST_F(ContainerManagerTest, CreateNeedsAReadyPodAndAPulledImage) {
  EXPECT_TRUE(absl::IsNotFound(containers_->Create("nope", ContainerConfig()).status()));
  cri::ContainerConfig other = ContainerConfig();
  other.mutable_image()->set_image("nginx");
  absl::Status missing = containers_->Create(pod_, other).status();
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  ASSERT_TRUE(pods_->StopPod(pod_).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->Create(pod_, ContainerConfig()).status()));
  ExpectNothingLeft("refused creates");
}

// The pod's PID namespace is joined through /proc/<infra pid>: once the
// infra is gone that pid may be another process's, so Create refuses.
TEST_F(ContainerManagerTest, CreateRefusesAPodWhoseInfraIsGone) {
  host_.infra_alive = false;
  absl::Status refused = containers_->Create(pod_, ContainerConfig()).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  ExpectNothingLeft("infra gone");
  host_.infra_alive = true;
  EXPECT_TRUE(containers_->Create(pod_, ContainerConfig()).ok());
}

class ContainerRollbackTest : public ContainerManagerTest,
                              public ::testing::WithParamInterface<std::string> {};

// Each step of Create fails in turn: whatever was made before it is undone,
// no record is left, the image is not held and the name is free again.
TEST_P(ContainerRollbackTest, FailureAtStepLeavesNothing) {
  const std::string step = GetParam();
  cri::ContainerConfig config = ContainerConfig();
  if (step == "spec") {
    config.add_mounts()->set_container_path("relative/path");  // refused by the spec builder
  } else if (step == "create") {
    runtime_.fail_create = true;
  } else if (step == "record") {
    std::filesystem::remove_all(dir_ + "/records/containers");
    std::ofstream(dir_ + "/records/containers") << "";
  } else {
    images_.fail_at = step;
  }
  ASSERT_FALSE(containers_->Create(pod_, config).ok());
  ExpectNothingLeft("failure at " + step);

  images_.fail_at = "";
  runtime_.fail_create = false;
  if (step == "record") {
    std::filesystem::remove(dir_ + "/records/containers");
    std::filesystem::create_directories(dir_ + "/records/containers");
  }
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig());
  EXPECT_TRUE(id.ok()) << id.status();
}

INSTANTIATE_TEST_SUITE_P(Steps, ContainerRollbackTest,
                         ::testing::Values("lookup", "trust", "config", "mount", "spec",
                                           "create", "record"));

TEST_F(ContainerManagerTest, RecoverReconcilesWhatRuns) {
  std::string exited = containers_->Create(pod_, ContainerConfig("exited")).value();
  std::string vanished = containers_->Create(pod_, ContainerConfig("vanished")).value();
  std::string running = containers_->Create(pod_, ContainerConfig("running")).value();
  for (const std::string& id : {exited, vanished, running}) {
    ASSERT_TRUE(containers_->Start(id).ok());
  }
  // While "ocid is down": one exits (its exit file is there), one vanishes
  // without a trace (a reboot), one keeps running.
  runtime_.on_exit = nullptr;
  {
    absl::MutexLock lock(&runtime_.mu);
    runtime_.states[exited] = "stopped";
    runtime_.exits[exited] = ContainerExit{0, absl::Now(), false};
    runtime_.states.erase(vanished);
  }
  Boot();
  EXPECT_EQ(containers_->Get(exited)->state, ContainerState::kExited);
  EXPECT_EQ(containers_->Get(exited)->reason, "Completed");
  EXPECT_EQ(containers_->Get(vanished)->state, ContainerState::kUnknown);
  EXPECT_EQ(containers_->Get(running)->state, ContainerState::kRunning);
  EXPECT_EQ(images_.users[kImageId], 3) << "held once per container; the old manager's went";
  // The names came back with the records.
  EXPECT_EQ(containers_->Create(pod_, ContainerConfig("running")).value(), running);
  // And the watch was started again: a stop is seen.
  ASSERT_TRUE(containers_->Stop(running, 0).ok());
  EXPECT_EQ(containers_->Get(running)->state, ContainerState::kExited);
}

// ocid died in Start after the runtime started the init and before the
// record said so: the restarted ocid finds it running and lists it RUNNING
// (not CREATED, which a retried Start could never leave).
TEST_F(ContainerManagerTest, RecoverMarksRunningAContainerWhoseStartWasCutShort) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  {
    absl::MutexLock lock(&runtime_.mu);
    runtime_.states[id] = "running";  // the runtime's start, and nothing after
  }
  ASSERT_EQ(containers_->Get(id)->state, ContainerState::kCreated);
  Boot();
  absl::StatusOr<ContainerRecord> after = containers_->Get(id);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->state, ContainerState::kRunning);
  EXPECT_EQ(after->pid, 4242) << "the pid the runtime wrote at create";
  EXPECT_GT(after->started_at, 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->Start(id))) << "started twice";
  ASSERT_TRUE(containers_->Stop(id, 0).ok());
  EXPECT_EQ(containers_->Get(id)->state, ContainerState::kExited);
}

// A container keeps its runtime by name: records made when "" named the
// default say which one, and one from before that gets it at the next start.
TEST_F(ContainerManagerTest, TheRecordNamesItsRuntimeAndAnOldOneGetsItAtRecover) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  EXPECT_EQ(containers_->Get(id)->runtime_handler, "runc");
  ContainerRecord old = containers_->Get(id).value();
  old.runtime_handler.clear();
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/records/containers/" + id + ".json", old.Serialize(), 0600)
          .ok());
  Boot();
  EXPECT_EQ(containers_->Get(id)->runtime_handler, "runc");
  absl::StatusOr<std::string> on_disk =
      ReadFileToString(dir_ + "/records/containers/" + id + ".json", 1 << 20);
  ASSERT_TRUE(on_disk.ok());
  EXPECT_NE(on_disk->find("\"runtime_handler\":\"runc\""), std::string::npos) << *on_disk;
}

// ocid died inside RemoveContainer (its record says removing): the next
// start finishes the removal, and the name is free again.
TEST_F(ContainerManagerTest, RecoverFinishesARemoveContainerCutShort) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ASSERT_TRUE(containers_->Start(id).ok());
  ContainerRecord cut = containers_->Get(id).value();
  cut.removing = true;
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/records/containers/" + id + ".json", cut.Serialize(), 0600)
          .ok());
  Boot();
  EXPECT_TRUE(absl::IsNotFound(containers_->Get(id).status()));
  ExpectNothingLeft("after a RemoveContainer finished by Recover");
  absl::StatusOr<std::string> again = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(*again, id);
}

// The same with the removal marked as RemoveContainer marks it now (an
// empty <id>.removing beside the record; the JSON form above is an older
// ocid's).
TEST_F(ContainerManagerTest, RecoverFinishesARemoveContainerCutShortAfterItsMark) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ASSERT_TRUE(containers_->Start(id).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/records/containers/" + id + ".removing", "").ok());
  Boot();
  EXPECT_TRUE(absl::IsNotFound(containers_->Get(id).status()));
  ExpectNothingLeft("after a RemoveContainer finished by Recover");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/records/containers/" + id + ".removing"));
}

// The same for RemovePodSandbox: the pod and its containers are gone.
TEST_F(ContainerManagerTest, ANextStartFinishesARemovePodCutShort) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ASSERT_TRUE(containers_->Start(id).ok());
  SandboxRecord cut = pods_->Get(pod_).value();
  cut.removing = true;
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/records/sandboxes/" + pod_ + ".json", cut.Serialize(), 0600)
          .ok());
  Boot();
  EXPECT_TRUE(absl::IsNotFound(pods_->Get(pod_).status()));
  ExpectNothingLeft("after a RemovePodSandbox finished at start");
  EXPECT_FALSE(std::filesystem::exists(cut.files_dir)) << "the pod's files are left";
}

TEST_F(ContainerManagerTest, UnparsableStoredConfigIsDataLoss) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ContainerRecord broken = containers_->Get(id).value();
  broken.config_json = "[";
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/records/containers/" + id + ".json", broken.Serialize(), 0600)
          .ok());
  Boot();
  EXPECT_TRUE(absl::IsDataLoss(containers_->Status(id).status()));
}

// RemovePodSandbox racing CreateContainer on one pod: RemovePod waits for
// the create, then removes the new container with the pod.
TEST_F(ContainerManagerTest, RemovePodWaitsForCreateInIt) {
  absl::Notification in_mount, release_mount;
  images_.mount_hook = [&] {
    in_mount.Notify();
    release_mount.WaitForNotification();
  };
  absl::StatusOr<std::string> created;
  std::thread create([&] { created = containers_->Create(pod_, ContainerConfig()); });
  in_mount.WaitForNotification();
  absl::Notification removed;
  std::thread remove([&] {
    EXPECT_TRUE(pods_->RemovePod(pod_).ok());
    removed.Notify();
  });
  EXPECT_FALSE(removed.WaitForNotificationWithTimeout(absl::Milliseconds(300)))
      << "RemovePod ran while CreateContainer was making a container in the pod";
  images_.mount_hook = nullptr;
  release_mount.Notify();
  create.join();
  remove.join();
  EXPECT_TRUE(created.ok()) << created.status();
  ExpectNothingLeft("after RemovePod");
  EXPECT_TRUE(absl::IsNotFound(containers_->Create(pod_, ContainerConfig()).status()));
}

TEST_F(ContainerManagerTest, StopPodStopsItsContainers) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ASSERT_TRUE(containers_->Start(id).ok());
  ASSERT_TRUE(pods_->StopPod(pod_).ok());
  EXPECT_EQ(containers_->Get(id)->state, ContainerState::kExited);
  EXPECT_EQ(runtime_.signals, std::vector<int>{SIGKILL}) << "a pod's stop kills at once";
}

TEST_F(ContainerManagerTest, CallsOnOneContainerAreSerialised) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ASSERT_TRUE(containers_->Start(id).ok());
  absl::Notification in_kill, release_kill;
  std::atomic<int> kills{0};
  runtime_.kill_hook = [&] {
    if (kills++ == 0) {
      in_kill.Notify();
      release_kill.WaitForNotification();
    }
  };
  std::thread stop([&] { EXPECT_TRUE(containers_->Stop(id, 30).ok()); });
  in_kill.WaitForNotification();
  absl::Notification removed;
  std::thread remove([&] {
    EXPECT_TRUE(containers_->Remove(id).ok());
    removed.Notify();
  });
  EXPECT_FALSE(removed.WaitForNotificationWithTimeout(absl::Milliseconds(300)))
      << "RemoveContainer ran while StopContainer was stopping it";
  EXPECT_EQ(kills.load(), 1);
  // Another container is not held up meanwhile.
  std::string other = containers_->Create(pod_, ContainerConfig("other")).value();
  EXPECT_TRUE(containers_->Start(other).ok());
  release_kill.Notify();
  stop.join();
  remove.join();
  EXPECT_TRUE(absl::IsNotFound(containers_->Get(id).status()));
}

TEST_F(ContainerManagerTest, CreateHoldsTheImageFromItsLookupOn) {
  int users_while_mounting = -1;
  images_.mount_hook = [&] {
    absl::MutexLock lock(&images_.mu);
    users_while_mounting = images_.users[kImageId];
  };
  ASSERT_TRUE(containers_->Create(pod_, ContainerConfig()).ok());
  EXPECT_EQ(users_while_mounting, 1) << "RemoveImage could take the image mid-create";
  EXPECT_EQ(images_.users[kImageId], 1);
}

TEST_F(ContainerManagerTest, CreatesInOnePodRunTogether) {
  absl::Mutex mu;
  int mounting = 0;
  bool together = true;
  images_.mount_hook = [&] {
    absl::MutexLock lock(&mu);
    ++mounting;
    // Each create waits for the other to be mounting too: serialised, the
    // first one times out.
    bool met = mu.AwaitWithTimeout(absl::Condition(
                                       +[](int* n) { return *n >= 2; }, &mounting),
                                   absl::Seconds(5));
    together = together && met;
  };
  std::thread a([&] { EXPECT_TRUE(containers_->Create(pod_, ContainerConfig("a")).ok()); });
  std::thread b([&] { EXPECT_TRUE(containers_->Create(pod_, ContainerConfig("b")).ok()); });
  a.join();
  b.join();
  EXPECT_TRUE(together);
  EXPECT_EQ(Records(), 2u);
}

// ---- intent before side effects, and Recover -------------------------------

// What a Create cut short at a crash point has made by then.
struct Made {
  size_t overlay_dirs, mounts, runtime;
};

class ContainerCrashTest : public ContainerManagerTest,
                           public ::testing::WithParamInterface<std::pair<std::string, Made>> {};

// ocid dies at each crash point of Create in turn (a forked child runs the
// call and _exits there: no undo runs). Managers booted afresh over the same
// dirs undo exactly what was made, and the name is free for a new container.
TEST_P(ContainerCrashTest, RecoverUndoesWhatACreateCutShortMade) {
#ifdef NDEBUG
  GTEST_SKIP() << "crash points are compiled out of release builds";
#endif
  const auto& [point, made] = GetParam();
  EXPECT_EXIT(
      {
        ::setenv(kCrashPointEnv, point.c_str(), 1);
        containers_->Create(pod_, ContainerConfig()).IgnoreError();
      },
      ::testing::ExitedWithCode(137), "test crash point " + point);
  ASSERT_EQ(Entries(dir_ + "/records/containers"), 1u)
      << "no record was stored before the first side effect";
  EXPECT_EQ(Entries(dir_ + "/containers"), made.overlay_dirs);
  EXPECT_EQ(images_.mounted.size(), made.mounts);
  EXPECT_EQ(runtime_.made.size(), made.runtime);

  runtime_.states.clear();  // the child's; what it made is in runtime_.made
  Boot();                   // as after a restart
  EXPECT_EQ(runtime_.helpers_killed.size(), 1u) << "the cut call's helpers were left running";
  ASSERT_EQ(runtime_.cgroups_removed.size(), 1u) << "a killed runtime's cgroup was left";
  EXPECT_TRUE(absl::EndsWith(runtime_.cgroups_removed[0], "/config.json"));
  ExpectNothingLeft("after a crash at " + point);
  absl::StatusOr<std::string> again = containers_->Create(pod_, ContainerConfig());
  ASSERT_TRUE(again.ok()) << "the name stayed reserved: " << again.status();
  ASSERT_TRUE(containers_->Remove(*again).ok());
  ExpectNothingLeft("after the new container's Remove");
}

INSTANTIATE_TEST_SUITE_P(
    Points, ContainerCrashTest,
    ::testing::Values(std::pair("create_container.recorded", Made{0, 0, 0}),
                      std::pair("create_container.dirs_made", Made{1, 0, 0}),
                      std::pair("create_container.rootfs_mounted", Made{1, 1, 0}),
                      std::pair("create_container.spec_written", Made{1, 1, 0}),
                      std::pair("create_container.runtime_created", Made{1, 1, 1})),
    [](const auto& info) { return info.param.first.substr(info.param.first.find('.') + 1); });

// While Create runs, its record is stored but the container is not there
// yet: not listed, and so not removed with a RemoveContainer by prefix.
TEST_F(ContainerManagerTest, AContainerBeingMadeIsHidden) {
  bool checked = false;
  images_.mount_hook = [&] {
    EXPECT_EQ(Entries(dir_ + "/records/containers"), 1u);
    EXPECT_EQ(Records(), 0u) << "listed while being made";
    checked = true;
  };
  absl::StatusOr<std::string> id = containers_->Create(pod_, ContainerConfig());
  images_.mount_hook = nullptr;
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(checked);
  EXPECT_EQ(Records(), 1u);
  EXPECT_FALSE(containers_->Get(*id)->creating);
}

// A pod that Recover undoes (its RunPod was cut short) takes its containers
// with it; here a container is put in such a pod by rewriting the pod's
// record as still creating.
TEST_F(ContainerManagerTest, RecoverUndoesTheContainersOfAnUndonePod) {
  std::string id = containers_->Create(pod_, ContainerConfig()).value();
  ASSERT_TRUE(containers_->Start(id).ok());
  SandboxRecord pod = pods_->Get(pod_).value();
  pod.creating = true;
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/records/sandboxes/" + pod_ + ".json", pod.Serialize(), 0600)
          .ok());
  Boot();  // the old managers' leases end with them, as with a restart
  EXPECT_TRUE(absl::IsNotFound(pods_->Get(pod_).status()));
  ExpectNothingLeft("the container of an undone pod");
}

}  // namespace
}  // namespace ocid
