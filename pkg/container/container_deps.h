// What ContainerManager asks of the rest of the system, behind small
// interfaces so that its tests can fake each step (and make any one fail):
// - ContainerRuntimes / ContainerRuntime: the OCI runtime under conmon, one
//   per handler, and its exit files (OciContainerRuntimes for real);
// - ContainerImages: finding a pulled image with a lease that holds it while
//   a container uses it, its config, and mounting its layers as a root file
//   system (StoreImages for real).
#ifndef OCID_PKG_CONTAINER_CONTAINER_DEPS_H_
#define OCID_PKG_CONTAINER_CONTAINER_DEPS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/image/image_lookup.h"
#include "pkg/oci/runtime.h"
#include "pkg/storage/digest.h"
#include "pkg/storage/layer_store.h"
#include "pkg/streaming/channel.h"

namespace ocid {

// One runtime handler (OciRuntime's calls).
class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;
  // The handler's configured name (also when asked for as "").
  virtual const std::string& handler_name() const = 0;
  // Returns conmon's pid; on failure nothing of it is left running.
  virtual absl::StatusOr<pid_t> Create(const ContainerLaunch& launch) = 0;
  virtual absl::Status Start(const std::string& id) = 0;
  // NotFound if the process is gone.
  virtual absl::Status Kill(const std::string& id, int signal) = 0;
  // Idempotent.
  virtual absl::Status Delete(const std::string& id, bool force) = 0;
  virtual absl::StatusOr<RuntimeState> State(const std::string& id) = 0;
  // OciRuntime::Pause / Resume: the container's processes frozen, thawed.
  virtual absl::Status Pause(const std::string& id) = 0;
  virtual absl::Status Resume(const std::string& id) = 0;
  // OciRuntime::Checkpoint: CRIU's images of the running container.
  virtual absl::Status Checkpoint(const std::string& id, const std::string& image_dir,
                                  const std::string& work_dir, bool leave_running) = 0;
  // Applies linux.resources JSON to the running container (OciRuntime::Update).
  virtual absl::Status Update(const std::string& id, const std::string& resources_json) = 0;
  virtual absl::StatusOr<ExecResult> ExecSync(const std::string& id, const std::string& bundle,
                                              const std::vector<std::string>& command,
                                              absl::Duration timeout) = 0;
  virtual absl::Status ReopenLog(const std::string& bundle, const std::string& log_path) = 0;
  // OciRuntime::StartExec and Attach: the streaming sessions' channels.
  virtual absl::StatusOr<std::unique_ptr<streaming::Channel>> StartExec(
      const std::string& id, const std::string& bundle, const std::vector<std::string>& command,
      const streaming::ExecStdio& stdio) = 0;
  virtual absl::StatusOr<std::unique_ptr<streaming::Channel>> Attach(const std::string& id,
                                                                     const std::string& bundle,
                                                                     bool stdin) = 0;
};

// Watching exit files stops when this is destroyed.
class ExitWatch {
 public:
  virtual ~ExitWatch() = default;
};

class ContainerRuntimes {
 public:
  virtual ~ContainerRuntimes() = default;
  // "" is the default handler; InvalidArgument for one not configured.
  virtual absl::StatusOr<ContainerRuntime*> For(const std::string& handler) = 0;
  // conmon's exit file for `id`; NotFound while it runs.
  virtual absl::StatusOr<ContainerExit> ReadExit(const std::string& exit_dir, const std::string& id,
                                                 const std::string& persist_dir) = 0;
  // Kills what an ocid that died may have left running for container `id`
  // (conmon, the runtime's create), found by the ID in their arguments, so
  // that none finishes, or reports an exit, after Recover undid it.
  virtual absl::Status KillHelpersOf(const std::string& id) = 0;
  // True when conmon `conmon_pid` no longer runs: gone, a zombie, or the
  // pid now another program's. A container whose monitor is gone reports no
  // exit and writes no log.
  virtual bool MonitorGone(pid_t conmon_pid) = 0;
  // True when process `pid` no longer runs: gone or a zombie. (A pid reused
  // since reads as running: callers only skip work when it is gone.)
  virtual bool ProcessGone(pid_t pid) = 0;
  // Removes the cgroup a runtime killed mid-create left, as the bundle's
  // spec at `spec_path` names it (none, or no spec: OK).
  virtual absl::Status RemoveCgroupsOf(const std::string& spec_path) = 0;
  // Calls `on_exit(id)` (from another thread) for each exit file written.
  virtual absl::StatusOr<std::unique_ptr<ExitWatch>> WatchExits(
      const std::string& exit_dir, std::function<void(const std::string& id)> on_exit) = 0;
};

class ContainerImages {
 public:
  virtual ~ContainerImages() = default;
  // As LeaseImage: nullopt when no such image is pulled; else the match
  // holds a lease, taken with the lookup, and while a lease is held the
  // image cannot be removed.
  virtual absl::StatusOr<std::optional<ImageMatch>> Lookup(const std::string& name_or_id) = 0;
  // OK when the trust policy of `pod_namespace` (signature_policy_dir, else
  // the global policy) accepts `match`'s image now: it was checked at pull,
  // but the policy may have changed since. `user_specified_image` is the
  // CRI field (the name in the pod spec; may be ""), see TrustNames. A
  // refusal is FailedPrecondition "SignatureValidationFailed: image ...".
  virtual absl::Status CheckTrust(const ImageMatch& match,
                                  const std::string& user_specified_image,
                                  const std::string& pod_namespace) = 0;
  // The image's config blob (JSON).
  virtual absl::StatusOr<std::string> ReadConfig(const Digest& image_id) = 0;
  // An overlay of `layers` (bottom first) under `upper`/`work` at `target`,
  // left mounted. With `idmap` (a pod user namespace) the layers are
  // idmapped into it and `upper` belongs to its root (LayerStore::Mount);
  // a host that cannot is FailedPrecondition. With SELinux context
  // `mount_label` unless it is "". UnmountRootfs is idempotent.
  virtual absl::Status MountRootfs(const std::vector<Digest>& layers, const std::string& upper,
                                   const std::string& work, const std::string& target,
                                   const LayerStore::Idmap* idmap,
                                   const std::string& mount_label) = 0;
  virtual absl::Status UnmountRootfs(const std::string& target) = 0;
};

}  // namespace ocid

#endif  // OCID_PKG_CONTAINER_CONTAINER_DEPS_H_
