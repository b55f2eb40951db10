// Containers' lifecycle: Create, Start, Stop, Remove, ExecSync, ReopenLog,
// their records, exits reported by conmon, and Recover after a restart.
// Owns the container records and one lock per container: Start, Stop and
// Remove of one container are serialised, calls on different containers are
// not. Create holds its pod's lock shared (SandboxManager::SharePod) from
// the pod lookup to the record, so RemovePod cannot run in between. ExecSync and
// ReopenLog take no lock: a probe running for its timeout must not hold up
// StopContainer. Lock order: pod, container, its conmon cgroup, the record store's mutex.
#ifndef OCID_PKG_CONTAINER_CONTAINER_MANAGER_H_
#define OCID_PKG_CONTAINER_CONTAINER_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/runtime/v1/api.pb.h"
#include "pkg/base/background_queue.h"
#include "pkg/base/keyed_mutex.h"
#include "pkg/base/name_registry.h"
#include "pkg/base/record_store.h"
#include "pkg/base/trash.h"
#include "pkg/base/unique_fd.h"
#include "pkg/checkpoint/archive.h"
#include "pkg/container/container_deps.h"
#include "pkg/container/container_record.h"
#include "pkg/events/event_bus.h"
#include "pkg/image/manifest.h"
#include "pkg/sandbox/sandbox_manager.h"
#include "pkg/security/apparmor.h"
#include "pkg/security/seccomp.h"
#include "pkg/security/selinux.h"
#include "pkg/security/userns.h"
#include "pkg/storage/lease.h"

namespace ocid {

struct ContainerManagerOptions {
  std::string records_dir;      // <root>/records/containers
  std::string overlay_dir;      // <root>/containers: upper/work per container
  std::string trash_dir;        // <root>/trash: removed overlay dirs, emptied in the background
  std::string bundles_dir;      // <runroot>/containers: bundle + rootfs
  std::string exits_dir;        // <runroot>/exits
  std::string default_log_dir;  // logs of pods that name no log_directory
  // The lowest oom_score_adj this host lets containers have.
  int min_oom_score_adj = -1000;
  std::string cgroup_manager = "cgroupfs";
  // Whether the host's memory cgroups account swap: a memory limit without
  // a swap request then limits swap too (BuildResources).
  bool swap_accounting = true;
  // ocid.runtime.default_capabilities.
  std::vector<std::string> default_capabilities = Config().default_capabilities;
  // The host's AppArmor state and ocid.runtime.apparmor_profile.
  AppArmorHost apparmor;
  // The daemon's SELinux (shared with the sandbox manager, which gives each
  // pod its level); must outlive the manager. Null: no labels.
  Selinux* selinux = nullptr;
  // Moves a container's conmon into its cgroup below the pod's
  // (ConmonCgroupPath, cri-o's conmon_cgroup = "pod"); unset: conmon stays
  // in ocid's. Called on a background thread once the create is recorded
  // (see JoinConmonCgroup). The pod's removal removes that cgroup.
  std::function<absl::Status(const std::string& cgroup, pid_t pid)> join_cgroup;
  // Removes that cgroup when the container is removed (waiting a moment
  // for the conmon to leave it).
  std::function<absl::Status(const std::string& cgroup)> remove_cgroup;
  // Kills every process left in a container's cgroup (Cgroups::Kill), once
  // its exit is recorded and again before Stop returns: a host-PID
  // container's background processes (or a pod-wide PID namespace's)
  // outlive its init otherwise. Unset: only the init is signalled.
  std::function<absl::Status(const std::string& cgroup)> kill_cgroup;
  // Whether a container's cgroup saw an OOM kill (Cgroups::OomKilled),
  // read when its exit is recorded, as a second source beside conmon's oom
  // file. Unset: conmon's file alone.
  std::function<absl::StatusOr<bool>(const std::string& cgroup)> oom_killed;
  // Watches a started container's memory cgroup for OOM kills as they
  // happen (OomWatcher::Watch, which then calls OnOom with the ID), and
  // stops once its exit is recorded or it is removed. Unset: OOM kills
  // are learned at the exit alone.
  std::function<absl::Status(const std::string& id, const std::string& cgroup)> watch_oom;
  // A container cgroup's memory working set (usage minus inactive file
  // pages), for UpdateResources: a limit below it is refused, as the kernel
  // would OOM-kill rather than refuse. Unset: no such check.
  std::function<absl::StatusOr<uint64_t>(const std::string& cgroup)> memory_working_set;
  std::function<void(const std::string& id)> unwatch_oom;
  // Builds containers' seccomp filters (null: only Unconfined is possible);
  // must outlive the manager.
  SeccompProfiles* seccomp = nullptr;
  // Where containers' lifecycle events go (none when null); must outlive
  // the manager.
  EventBus* events = nullptr;
  // Where CheckpointContainer may write archives (each made when first
  // used); empty: every location is refused.
  std::vector<std::string> checkpoint_dirs;
  // Whether CRIU can work on this host (CheckCriu); unset: checkpoints are
  // refused as not set up.
  std::function<absl::Status()> check_criu;
  // For a pod user namespace's container: OK when others may search the
  // host dir `dir` (one above the runroot), else FailedPrecondition naming
  // it. Unset: its mode is read (SearchableByOthers); tests give a fake.
  std::function<absl::Status(const std::string& dir)> searchable_by_others;
  // For an idmapped mount (CRI uid/gid mappings) whose mappings are not its
  // pod user namespace's: ocid-pinns makes a user namespace with them,
  // pinned a moment under <pins_dir>/user/<container id>-mount<index>.
  // Unset: such mounts are refused (FailedPrecondition).
  std::string pinns_binary;
  std::string pins_dir;
};

// A container with its config as sent to CreateContainer.
struct ContainerView {
  ContainerRecord record;
  runtime::v1::ContainerConfig config;
};

// OK when others may search `dir` (S_IXOTH), else FailedPrecondition naming
// it and its mode.
absl::Status SearchableByOthers(const std::string& dir);

class ContainerManager final : public PodContainers {
 public:
  ContainerManager(ContainerManagerOptions options, SandboxManager& pods, ContainerImages& images,
                   ContainerRuntimes& runtimes);
  ~ContainerManager() override;

  // Loads the records, starts watching exits, then reconciles each running
  // container with what really runs (exits while ocid was down; gone
  // without an exit: UNKNOWN). A container Create did not finish (ocid
  // died), or whose pod is gone, is undone and forgotten. Call after the
  // pods' Recover.
  absl::Status Recover();

  // Makes the container (request fields validated by the caller) in pod
  // `pod_id` and returns its ID; the same config again returns the one made
  // for it. NotFound if the image is not pulled or the pod is gone,
  // FailedPrecondition if the pod is stopped or the trust policy of the
  // pod's namespace refuses the image now ("SignatureValidationFailed: ...").
  // On failure everything made so far is undone and no record is left.
  // An image that is the absolute path of a file is a checkpoint archive
  // (CheckpointContainer's, or cri-o's and Podman's): the container is made
  // from the image config.dump names, with what it had changed in its
  // upper dir, and StartContainer restores its processes from the archive's
  // CRIU images. A malformed archive is InvalidArgument, a host where CRIU
  // cannot work FailedPrecondition (its reason); neither makes anything.
  absl::StatusOr<std::string> Create(const std::string& pod_id,
                                     const runtime::v1::ContainerConfig& config);
  // FailedPrecondition unless CREATED.
  absl::Status Start(const std::string& id);
  // The stop signal, then SIGKILL after `timeout_seconds`. Idempotent.
  absl::Status Stop(const std::string& id, int64_t timeout_seconds);
  // Stops and removes everything of the container. One already gone is fine.
  absl::Status Remove(const std::string& id);

  // By ID or unique prefix: NotFound, InvalidArgument for "".
  absl::StatusOr<ContainerRecord> Get(const std::string& id) const;
  // Running containers whose conmon died (killed, say) without an exit
  // file: their processes are killed and they become EXITED (137, "Error",
  // the message says why), as nothing would report their exit or keep their
  // log. Called by Status and ListContainers: a /proc read per running
  // container, a runtime call only for one found dead (once).
  void CheckMonitors();
  // Get with an exit not yet delivered taken in, and the stored config
  // parsed (DataLoss if it does not parse).
  absl::StatusOr<ContainerView> Status(const std::string& id);
  // Visits each record under the store's read lock; `visit` must not call
  // back into the manager.
  void ForEach(const std::function<void(const ContainerRecord&)>& visit) const;
  // The configured name of a record's handler ("" resolved to the default).
  std::string HandlerName(const ContainerRecord& container);
  // The runtime "" names now (default_runtime, as last reloaded).
  std::string DefaultHandlerName();

  // DeadlineExceeded when the command outlives `timeout_seconds` (0: none).
  absl::StatusOr<ExecResult> ExecSync(const std::string& id,
                                      const std::vector<std::string>& command,
                                      int64_t timeout_seconds);
  absl::Status ReopenLog(const std::string& id);
  // Get, FailedPrecondition unless the container runs: what Exec and Attach
  // ask before they hand out a URL.
  absl::StatusOr<ContainerRecord> GetRunning(const std::string& id) const;
  // An interactive exec (the streaming server's): the command in the
  // running container, with a terminal when stdio.tty.
  absl::StatusOr<std::unique_ptr<streaming::Channel>> StartExec(
      const std::string& id, const std::vector<std::string>& command,
      const streaming::ExecStdio& stdio);
  // The running container's stdio; input only if it was created with stdin.
  absl::StatusOr<std::unique_ptr<streaming::Channel>> Attach(const std::string& id, bool stdin);
  // Applies `resources` to the created or running container's cgroup
  // (runtime update) and keeps them in its stored config, which
  // ContainerStatus reports. A value the kernel refuses is its error
  // (InvalidArgument) and the old resources stay; FailedPrecondition once
  // the container exited.
  absl::Status UpdateResources(const std::string& id,
                               const runtime::v1::LinuxContainerResources& resources);

  // CheckpointContainer: CRIU's images of the running container (runtime
  // checkpoint --leave-running: it runs on), its spec, its config and the
  // files it changed, as a checkpoint archive (pkg/checkpoint/archive.h) at
  // `location`, a new file below options.checkpoint_dirs. NotFound for an
  // unknown container, FailedPrecondition unless it runs, InvalidArgument
  // for the location (outside those dirs, not normalised, existing),
  // FailedPrecondition with CRIU's reason when it cannot work here. On
  // failure nothing is left at `location`.
  absl::Status Checkpoint(const std::string& id, const std::string& location);

  // An OOM kill seen in the container's memory cgroup (the OOM watcher's
  // thread calls it): a created or running container's reason becomes
  // OOMKilled at once, and stays so at its exit. An exited or unknown one
  // is left alone (its exit read the cgroup's counter itself).
  void OnOom(const std::string& id);

  // PodContainers, called by SandboxManager with the pod's lock held.
  absl::Status StopAllOf(const std::string& pod_id) override;
  absl::Status RemoveAllOf(const std::string& pod_id) override;

 private:
  struct RestoreSource {
    std::string dir;  // the unpacked archive
    CheckpointContents contents;
    std::string image;  // the image config.dump names
  };
  // What Create has looked up and checked before it makes anything.
  struct Plan {
    const SandboxRecord* pod;
    const runtime::v1::PodSandboxConfig* pod_config;
    const runtime::v1::ContainerConfig* config;
    const ImageRecord* image;
    const ImageConfig* image_config;
    ContainerRuntime* runtime;
    std::string target_pid_ns;     // PID mode TARGET: the target's namespace
    const RestoreSource* restore;  // made from a checkpoint archive, or null
    SelinuxLabels selinux = {};    // the container's; empty: unlabelled
  };
  // /proc/<pid>/ns/pid of `target_id`, a running container of `pod_id`.
  absl::StatusOr<std::string> TargetPidNamespace(const std::string& pod_id,
                                                 const std::string& target_id) const;
  absl::StatusOr<std::string> Make(ContainerRecord c, const Plan& plan);
  absl::Status LetRootfsBeReached(const ContainerRecord& c);
  // Makes each mount with uid/gid mappings an idmapped tree under the
  // bundle (MountIdmappedVolume), their paths by mount index in `sources`.
  // Removing the bundle (RemoveBundle) detaches them.
  absl::Status MountIdmappedVolumes(const ContainerRecord& c, const Plan& plan,
                                    std::map<int, std::string>& sources);
  // A user namespace fd with `mappings`: the pod's own when they are its
  // mappings, else one made for mount `index` (MakeUserNamespace).
  absl::StatusOr<UniqueFd> IdmapUserNamespace(const ContainerRecord& c, const SandboxRecord& pod,
                                              const UserNamespaceMappings& mappings, int index);
  // The host paths of mounts asking selinux_relabel, relabelled with
  // `mount_label` (links resolved first, system paths refused); nothing
  // when the label is "".
  absl::Status RelabelMounts(const runtime::v1::ContainerConfig& config,
                             const std::string& mount_label);
  // The restore steps: whether an image names an archive, the archive
  // unpacked (into `dir`, below options.overlay_dir) and checked, and
  // conmon's restore at the start.
  static bool IsCheckpointArchive(const std::string& image);
  absl::StatusOr<RestoreSource> PrepareRestore(const std::string& archive);
  absl::StatusOr<std::string> CreateFrom(const std::string& pod_id,
                                         const runtime::v1::ContainerConfig& config,
                                         const RestoreSource* restore);
  absl::StatusOr<pid_t> RestoreLocked(const ContainerRecord& c, ContainerRuntime& runtime);
  absl::Status UndoCreate(const ContainerRecord& c);
  // The record of a container whose init the runtime started (or restored,
  // under `conmon_pid`): RUNNING with its pid (unless an exit was recorded
  // first), and the event.
  absl::Status MarkStarted(const ContainerRecord& c, pid_t conmon_pid);
  absl::Status StopLocked(const std::string& id, int64_t timeout_seconds);
  // Stops the init: StopLocked's signals and waits, without the cgroup kill.
  absl::Status StopInit(const std::string& id, int64_t timeout_seconds);
  // The container's cgroup (cgroupfs driver); NotFound when its pod is gone.
  absl::StatusOr<std::string> CgroupOf(const ContainerRecord& c) const;
  // kill_cgroup of the container's cgroup; OK when unset or no pod.
  absl::Status KillCgroup(const ContainerRecord& c);
  // Stop's SIGKILL of the init (and of the rest of its cgroup).
  absl::Status KillInit(const ContainerRecord& c, ContainerRuntime& runtime);
  // Whether oom_killed says the container's cgroup saw an OOM kill.
  bool CgroupSawOom(const ContainerRecord& c) const;
  // watch_oom of the container's cgroup; a failure is logged (the exit
  // still reads the cgroup's counter).
  void WatchOom(const ContainerRecord& c);
  void UnwatchOom(const std::string& id);
  // Queues the move of the container's conmon into its cgroup.
  void JoinConmonCgroup(std::string id, std::string cgroup, pid_t conmon_pid);
  absl::Status RemoveLocked(const std::string& id);
  void Emit(const ContainerRecord& c, LifecycleEventType type);
  // Records the exit conmon reported for `id` (the exit watch calls it).
  void OnExit(const std::string& id);
  // CheckMonitors for one container whose conmon is gone.
  void OnMonitorGone(const ContainerRecord& c);
  // A container holds its image's lease from its create to its removal.
  void HoldImage(const std::string& id, Lease lease);
  void DropImage(const std::string& id);

  const ContainerManagerOptions options_;
  SandboxManager& pods_;
  ContainerImages& images_;
  ContainerRuntimes& runtimes_;
  RecordStore<ContainerRecord> records_;
  NameRegistry names_;
  KeyedMutex locks_;                // by container ID
  KeyedMutex conmon_cgroup_locks_;  // by container ID: its conmon cgroup's move and removal
  absl::Mutex image_leases_mu_;     // a leaf
  std::map<std::string, Lease> image_leases_ ABSL_GUARDED_BY(image_leases_mu_);  // by ID
  // Conmons' moves into their cgroups; its tasks use the members above.
  BackgroundQueue conmon_joins_{"ocid-cgjoin"};
  Trash trash_{options_.trash_dir};
  // Last: stopped first, before what its callback uses.
  std::unique_ptr<ExitWatch> exit_watch_;
};

// "SIGTERM", "TERM" or "15" -> 15.
absl::StatusOr<int> SignalNumber(const std::string& name);

}  // namespace ocid

#endif  // OCID_PKG_CONTAINER_CONTAINER_MANAGER_H_
