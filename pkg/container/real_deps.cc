#include "pkg/container/real_deps.h"

#include <errno.h>
#include <sys/mount.h>

#include "absl/strings/str_cat.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/image/reference.h"
#include "pkg/trust/image_trust.h"

namespace ocid {
namespace {

constexpr size_t kMaxConfigBytes = 8 << 20;

class OciContainerRuntime final : public ContainerRuntime {
 public:
  OciContainerRuntime(std::string name, RuntimeHandler handler, std::string conmon,
                      std::string runroot)
      : runtime_(std::move(name), std::move(handler), std::move(conmon), std::move(runroot)) {}

  const std::string& handler_name() const override { return runtime_.handler_name(); }
  absl::StatusOr<pid_t> Create(const ContainerLaunch& launch) override {
    return runtime_.Create(launch);
  }
  absl::Status Start(const std::string& id) override { return runtime_.Start(id); }
  absl::Status Kill(const std::string& id, int signal) override {
    return runtime_.Kill(id, signal);
  }
  absl::Status Delete(const std::string& id, bool force) override {
    return runtime_.Delete(id, force);
  }
  absl::StatusOr<RuntimeState> State(const std::string& id) override { return runtime_.State(id); }
  absl::Status Update(const std::string& id, const std::string& resources_json) override {
    return runtime_.Update(id, resources_json);
  }
  absl::Status Pause(const std::string& id) override { return runtime_.Pause(id); }
  absl::Status Resume(const std::string& id) override { return runtime_.Resume(id); }
  absl::Status Checkpoint(const std::string& id, const std::string& image_dir,
                          const std::string& work_dir, bool leave_running) override {
    return runtime_.Checkpoint(id, image_dir, work_dir, leave_running);
  }
  absl::StatusOr<ExecResult> ExecSync(const std::string& id, const std::string& bundle,
                                      const std::vector<std::string>& command,
                                      absl::Duration timeout) override {
    return runtime_.ExecSync(id, bundle, command, timeout);
  }
  absl::Status ReopenLog(const std::string& bundle, const std::string& log_path) override {
    return runtime_.ReopenLog(bundle, log_path);
  }
  absl::StatusOr<std::unique_ptr<streaming::Channel>> StartExec(
      const std::string& id, const std::string& bundle, const std::vector<std::string>& command,
      const streaming::ExecStdio& stdio) override {
    return runtime_.StartExec(id, bundle, command, stdio);
  }
  absl::StatusOr<std::unique_ptr<streaming::Channel>> Attach(const std::string& id,
                                                             const std::string& bundle,
                                                             bool stdin) override {
    return runtime_.Attach(id, bundle, stdin);
  }

 private:
  OciRuntime runtime_;
};

class OciExitWatch final : public ExitWatch {
 public:
  explicit OciExitWatch(std::unique_ptr<ExitWatcher> watcher) : watcher_(std::move(watcher)) {}

 private:
  std::unique_ptr<ExitWatcher> watcher_;
};

}  // namespace

OciContainerRuntimes::OciContainerRuntimes(const Config& config) {
  for (const auto& [name, handler] : config.runtimes) {
    runtimes_[name] =
        std::make_unique<OciContainerRuntime>(name, handler, config.conmon, config.runroot);
  }
  // Config validation makes default_runtime one of the runtimes.
  SetDefault(config.default_runtime).IgnoreError();
}

absl::Status OciContainerRuntimes::SetDefault(const std::string& handler) {
  auto it = runtimes_.find(handler);
  if (it == runtimes_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("default_runtime \"", handler, "\" is not a configured runtime"));
  }
  default_.store(it->second.get());
  return absl::OkStatus();
}

OciContainerRuntimes::~OciContainerRuntimes() = default;

absl::StatusOr<ContainerRuntime*> OciContainerRuntimes::For(const std::string& handler) {
  if (handler.empty()) {
    if (ContainerRuntime* runtime = default_.load(); runtime != nullptr) return runtime;
  }
  auto it = runtimes_.find(handler);
  if (it == runtimes_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("runtime_handler \"", handler, "\" is not configured"));
  }
  return it->second.get();
}

absl::StatusOr<ContainerExit> OciContainerRuntimes::ReadExit(const std::string& exit_dir,
                                                             const std::string& id,
                                                             const std::string& persist_dir) {
  return ReadExitFile(exit_dir, id, persist_dir);
}

absl::StatusOr<std::unique_ptr<ExitWatch>> OciContainerRuntimes::WatchExits(
    const std::string& exit_dir, std::function<void(const std::string& id)> on_exit) {
  ASSIGN_OR_RETURN(std::unique_ptr<ExitWatcher> watcher,
                   ExitWatcher::Start(exit_dir, std::move(on_exit)));
  return std::unique_ptr<ExitWatch>(std::make_unique<OciExitWatch>(std::move(watcher)));
}

absl::Status OciContainerRuntimes::KillHelpersOf(const std::string& id) {
  return KillProcessesNaming(id, absl::Seconds(10)).status();
}

bool OciContainerRuntimes::MonitorGone(pid_t conmon_pid) {
  absl::StatusOr<ProcStat> stat = ReadProcStat(conmon_pid);
  return !stat.ok() || stat->comm != "conmon" || stat->state == 'Z';
}

bool OciContainerRuntimes::ProcessGone(pid_t pid) {
  absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
  return !stat.ok() || stat->state == 'Z';
}

absl::Status OciContainerRuntimes::RemoveCgroupsOf(const std::string& spec_path) {
  return ocid::RemoveCgroupsOf(spec_path);
}

absl::StatusOr<std::optional<ImageMatch>> StoreImages::Lookup(const std::string& name_or_id) {
  return LeaseImage(images_, short_names_(), name_or_id);
}

// The signatures are read again as a pull reads them (ocid stores none at
// pull), for the image manifest the pull checked.
absl::Status StoreImages::CheckTrust(const ImageMatch& match,
                                     const std::string& user_specified_image,
                                     const std::string& pod_namespace) {
  std::shared_ptr<const TrustPolicies> policies = trust_();
  if (policies == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::shared_ptr<const ImageTrust> trust, policies->For(pod_namespace));
  std::vector<std::string> names = TrustNames(match, user_specified_image, short_names_());
  if (names.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kSignatureValidationFailed, "image ", match.image.id.String(),
                     " has no name to check the policy (", trust->policy_file(), ") for"));
  }
  absl::Status first_refusal;
  for (const std::string& name : names) {
    absl::StatusOr<ImageReference> reference = ParseImageReference(name);
    if (!reference.ok()) continue;  // a stored name always parses; skip rather than fail
    absl::Status checked = check_(*trust, *reference, match.image.manifest_digest.String());
    if (checked.ok()) return checked;
    if (first_refusal.ok()) first_refusal = checked;
  }
  if (first_refusal.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(kSignatureValidationFailed, "image ",
                                                      match.image.id.String(), ": no name parses"));
  }
  return first_refusal;
}

absl::StatusOr<std::string> StoreImages::ReadConfig(const Digest& image_id) {
  return blobs_.ReadBlob(image_id, kMaxConfigBytes);
}

absl::Status StoreImages::MountRootfs(const std::vector<Digest>& layers, const std::string& upper,
                                      const std::string& work, const std::string& target,
                                      const LayerStore::Idmap* idmap,
                                      const std::string& mount_label) {
  ASSIGN_OR_RETURN(ScopedMount mount,
                   layers_.Mount(layers, upper, work, target, idmap, mount_label));
  mount.Release();  // the container keeps its root file system mounted
  return absl::OkStatus();
}

absl::Status StoreImages::UnmountRootfs(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "unmount " + target);
  }
  return absl::OkStatus();
}

}  // namespace ocid
