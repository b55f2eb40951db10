#include "pkg/container/container_manager.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "pkg/base/crash_point.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/proto_json_cache.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/undo_stack.h"
#include "pkg/cgroups/paths.h"
#include "pkg/checkpoint/archive.h"
#include "pkg/container/idmapped_volumes.h"
#include "pkg/oci/spec.h"
#include "pkg/sandbox/namespaces.h"
#include "pkg/security/userns.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

// After SIGKILL conmon reports the exit within moments; past this the
// container is taken as gone.
constexpr absl::Duration kKillGrace = absl::Seconds(10);

// The log file under the pod's log dir; the CRI path may not leave it.
absl::StatusOr<std::string> LogPathFor(const std::string& log_dir, const std::string& relative) {
  if (relative.empty() || relative[0] == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("config.log_path: \"", relative, "\" must be relative to the pod's log dir"));
  }
  for (absl::string_view part : absl::StrSplit(relative, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("config.log_path: \"", relative, "\" leaves the pod's log dir"));
    }
  }
  return absl::StrCat(log_dir, "/", relative);
}

SandboxContext ContextOf(const SandboxRecord& pod, const cri::PodSandboxConfig& config) {
  SandboxContext context;
  context.id = pod.id;
  context.hostname = !pod.hostname.empty()        ? pod.hostname
                     : !config.hostname().empty() ? config.hostname()
                                                  : pod.name;
  context.net_ns_path = pod.namespaces.net;
  context.ipc_ns_path = pod.namespaces.ipc;
  context.uts_ns_path = pod.namespaces.uts;
  if (pod.infra_pid > 0) context.pid_ns_path = absl::StrCat("/proc/", pod.infra_pid, "/ns/pid");
  context.host_pid =
      config.linux().security_context().namespace_options().pid() == cri::NamespaceMode::NODE;
  context.resolv_conf_path = pod.files_dir + "/resolv.conf";
  context.hosts_path = pod.files_dir + "/hosts";
  context.hostname_path = pod.files_dir + "/hostname";
  context.shm_path = pod.shm_path;
  context.cgroup_parent = pod.cgroup_parent;
  context.user_ns_path = pod.namespaces.user;
  context.userns = pod.userns;
  return context;
}

bool Exited(const ContainerRecord& r) {
  return r.state != ContainerState::kRunning && r.state != ContainerState::kCreated;
}

absl::StatusOr<cri::ContainerConfig> StoredConfig(const ContainerRecord& c) {
  // Every status, event, attach and stop reads the config: parse each once.
  static auto* const parsed_configs = new ProtoJsonCache<cri::ContainerConfig>(256);
  absl::StatusOr<cri::ContainerConfig> config = parsed_configs->Parse(c.config_json);
  if (!config.ok()) {
    return absl::DataLossError(
        absl::StrCat("container ", c.id, ": stored config: ", config.status().message()));
  }
  return config;
}

}  // namespace

absl::StatusOr<int> SignalNumber(const std::string& name) {
  int number = 0;
  if (absl::SimpleAtoi(name, &number) && number > 0 && number < 65) return number;
  std::string bare = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
  for (int signal = 1; signal < 32; ++signal) {
    const char* abbrev = sigabbrev_np(signal);
    if (abbrev != nullptr && bare == abbrev) return signal;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown stop signal \"", name, "\""));
}

ContainerManager::ContainerManager(ContainerManagerOptions options, SandboxManager& pods,
                                   ContainerImages& images, ContainerRuntimes& runtimes)
    : options_(std::move(options)),
      pods_(pods),
      images_(images),
      runtimes_(runtimes),
      // Updates record state a power loss ends anyway (a container created,
      // started, exited): the old record or the new one after it, never a
      // torn one, is enough.
      records_(options_.records_dir, Durability::kOldOrNew) {}

ContainerManager::~ContainerManager() { exit_watch_.reset(); }

absl::Status ContainerManager::Recover() {
  for (const std::string& dir : {options_.overlay_dir, options_.bundles_dir, options_.exits_dir}) {
    RETURN_IF_ERROR(MakeDirs(dir, 0700));
  }
  RETURN_IF_ERROR(trash_.Open());
  RETURN_IF_ERROR(records_.Load());
  // Watch first, then reconcile: no exit falls between the two.
  ASSIGN_OR_RETURN(
      exit_watch_,
      runtimes_.WatchExits(options_.exits_dir, [this](const std::string& id) { OnExit(id); }));
  for (const ContainerRecord& c : records_.List()) {
    // A create cut short (ocid died), or a container of a pod that is no
    // more (a RunPod cut short, undone by the pods' Recover): undo it. A
    // step that fails keeps the record (hidden) for the next start.
    if (c.creating || !pods_.Get(c.sandbox_id).ok()) {
      const char* what =
          c.creating ? "an unfinished CreateContainer" : "a container whose pod is gone";
      absl::Status undone = UndoCreate(c);
      if (!undone.ok()) {
        OCID_LOG(kError) << "container " << c.id << ": undo " << what << ": " << undone;
      } else {
        OCID_LOG(kInfo) << "container " << c.id << ": undid " << what;
      }
      continue;
    }
    RETURN_IF_ERROR(names_.Reserve(c.ReservedName(), c.id));
    if (c.runtime_handler.empty()) {
      // Recorded as "" before containers kept the runtime by name: the
      // default is still the one of this start (none was reloaded yet).
      if (absl::StatusOr<ContainerRuntime*> runtime = runtimes_.For(""); runtime.ok()) {
        RETURN_IF_ERROR(records_
                            .Update(c.id, [&](ContainerRecord& r) {
                              r.runtime_handler = (*runtime)->handler_name();
                            })
                            .status());
      }
    }
    if (absl::StatusOr<std::optional<ImageMatch>> image = images_.Lookup(c.image_id);
        image.ok() && image->has_value()) {
      HoldImage(c.id, std::move((*image)->lease));
    }
    if (c.removing) {
      // A RemoveContainer cut short: finish it. One that fails keeps the
      // record for the client's retry (or the next start).
      KeyedMutex::Lock lock = locks_.Acquire(c.id);
      absl::Status removed = RemoveLocked(c.id);
      if (removed.ok()) {
        OCID_LOG(kInfo) << "container " << c.id << ": finished an unfinished RemoveContainer";
      } else {
        OCID_LOG(kError) << "container " << c.id << ": finish an unfinished RemoveContainer: "
                         << removed;
      }
      continue;
    }
    if (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated) continue;
    // Made from a checkpoint, not restored yet: the runtime knows nothing of it.
    if (c.state == ContainerState::kCreated && !c.restore_from.empty()) continue;
    OnExit(c.id);  // exited while ocid was down
    std::optional<ContainerRecord> now = records_.Get(c.id);
    if (!now || now->state == ContainerState::kExited) continue;
    absl::StatusOr<ContainerRuntime*> runtime = runtimes_.For(c.runtime_handler);
    absl::StatusOr<RuntimeState> state =
        runtime.ok() ? (*runtime)->State(c.id) : absl::StatusOr<RuntimeState>(runtime.status());
    if (!state.ok() || state->status == "stopped") {
      // Gone without an exit file (e.g. a reboot): its fate is unknown.
      // Unless the exit watch has recorded the exit meanwhile (conmon
      // writes the file just after the runtime sees the process gone):
      // that exit wins, and one that lands later still turns it EXITED.
      RETURN_IF_ERROR(records_
                          .Update(c.id,
                                  [](ContainerRecord& r) {
                                    if (r.state == ContainerState::kExited) return;
                                    r.state = ContainerState::kUnknown;
                                    r.reason = "Unknown";
                                    r.pid = 0;
                                  })
                          .status());
    } else if (state->status == "running") {
      // A Start cut short after the runtime started the init (ocid died
      // before the record said so): it runs, so the record says RUNNING,
      // from now on (when it started exactly is not known).
      if (now->state == ContainerState::kCreated) RETURN_IF_ERROR(MarkStarted(c, c.conmon_pid));
      WatchOom(c);
    }
  }
  return absl::OkStatus();
}

// What a Create cut short may have made, undone from its record alone: each
// step is idempotent and fine with what was never made.
absl::Status ContainerManager::UndoCreate(const ContainerRecord& c) {
  // A create cut short may have left conmon or the runtime running: killed
  // first, so that nothing is made or reported after the undo. (Only then:
  // a made container's ID may be named by a user's process, `crictl logs`.)
  if (c.creating) RETURN_IF_ERROR(runtimes_.KillHelpersOf(c.id));
  absl::Status status;
  absl::StatusOr<ContainerRuntime*> runtime = runtimes_.For(c.runtime_handler);
  status.Update(runtime.ok() ? (*runtime)->Delete(c.id, /*force=*/true) : runtime.status());
  if (!c.rootfs.empty()) status.Update(images_.UnmountRootfs(c.rootfs));
  // A runtime killed mid-create leaves the cgroup it made; the spec names it.
  if (!c.bundle.empty()) status.Update(runtimes_.RemoveCgroupsOf(c.bundle + "/config.json"));
  if (!c.bundle.empty()) status.Update(RemoveBundle(c.bundle));
  if (!c.overlay_dir.empty()) status.Update(trash_.Discard(c.overlay_dir));
  // A user namespace an idmapped mount was being made with.
  if (c.creating && !options_.pins_dir.empty()) {
    status.Update(RemoveUserNamespacePins(options_.pins_dir, c.id + "-"));
  }
  if (!c.exit_dir.empty()) ::unlink(absl::StrCat(c.exit_dir, "/", c.id).c_str());
  RETURN_IF_ERROR(status);
  return records_.Remove(c.id);
}

absl::StatusOr<std::string> ContainerManager::Create(const std::string& pod_id,
                                                     const cri::ContainerConfig& config) {
  if (!IsCheckpointArchive(config.image().image())) return CreateFrom(pod_id, config, nullptr);
  ASSIGN_OR_RETURN(RestoreSource restore, PrepareRestore(config.image().image()));
  // Moved into the container's dirs once it is made; removed otherwise.
  absl::Cleanup remove_unpacked = [&] { RemoveAll(restore.dir).IgnoreError(); };
  cri::ContainerConfig restored = config;
  restored.mutable_image()->set_image(restore.image);
  return CreateFrom(pod_id, restored, &restore);
}

absl::StatusOr<std::string> ContainerManager::CreateFrom(const std::string& pod_id,
                                                         const cri::ContainerConfig& config,
                                                         const RestoreSource* restore) {
  ASSIGN_OR_RETURN(SandboxRecord found, pods_.Get(pod_id));
  // Held until the record is stored: RemovePod waits, then removes this
  // container with the pod. Shared: creates in one pod run together.
  KeyedMutex::Lock pod_lock = pods_.SharePod(found.id);
  ASSIGN_OR_RETURN(SandboxRecord pod, pods_.Get(found.id));  // gone while we waited?
  if (!pod.ready) {
    return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", pod.id, " is not ready"));
  }
  // The container joins /proc/<infra pid>/ns/pid: never another process's.
  if (!pods_.InfraAlive(pod)) {
    return absl::FailedPreconditionError(
        absl::StrCat("pod sandbox ", pod.id, ": its infra process (PID namespace) is gone"));
  }
  std::string target_pid_ns;
  const auto& namespaces = config.linux().security_context().namespace_options();
  RETURN_IF_ERROR(CheckContainerUserNamespace(namespaces, pod.userns,
                                              "config.linux.security_context.namespace_options"));
  if (pod.userns) {
    RETURN_IF_ERROR(ValidateUserFieldsMapped(config.linux().security_context(), *pod.userns));
  }
  // Idmapped mounts' mappings, checked before anything is made.
  for (int i = 0; i < config.mounts_size(); ++i) {
    RETURN_IF_ERROR(
        MountIdMappings(config.mounts(i), absl::StrCat("config.mounts[", i, "]")).status());
  }
  SelinuxLabels selinux;
  if (options_.selinux != nullptr) {
    ASSIGN_OR_RETURN(selinux, options_.selinux->ContainerLabels(
                                  {pod.selinux_process_label, pod.selinux_mount_label},
                                  config.linux().security_context().selinux_options(),
                                  config.linux().security_context().privileged(),
                                  "config.linux.security_context.selinux_options"));
  }
  if (namespaces.pid() == cri::NamespaceMode::TARGET) {
    ASSIGN_OR_RETURN(target_pid_ns, TargetPidNamespace(pod.id, namespaces.target_id()));
  }
  absl::StatusOr<std::optional<ImageMatch>> match = images_.Lookup(config.image().image());
  if (!match.ok()) {
    return absl::Status(match.status().code(),
                        absl::StrCat("config.image.image: ", match.status().message()));
  }
  if (!match->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("config.image.image: image \"", config.image().image(), "\" is not pulled"));
  }
  // The match's lease holds the image from the lookup on: RemoveImage
  // refuses it while this create runs, and after if the container is made.
  const ImageRecord& image = (*match)->image;
  // Checked again before anything is made: the policy (the pod namespace's,
  // signature_policy_dir) may have changed since the image was pulled.
  RETURN_IF_ERROR(
      images_.CheckTrust(**match, config.image().user_specified_image(), pod.pod_namespace));
  std::string log_dir = pod.log_directory.empty()
                            ? absl::StrCat(options_.default_log_dir, "/", pod.id)
                            : pod.log_directory;
  std::string relative_log =
      config.log_path().empty()
          ? absl::StrCat(config.metadata().name(), "_", config.metadata().attempt(), ".log")
          : config.log_path();
  ASSIGN_OR_RETURN(std::string log_path, LogPathFor(log_dir, relative_log));
  ASSIGN_OR_RETURN(std::string image_config_text, images_.ReadConfig(image.id));
  ASSIGN_OR_RETURN(ImageConfig image_config, ParseImageConfig(image_config_text));
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(pod.runtime));
  ASSIGN_OR_RETURN(cri::PodSandboxConfig pod_config, StoredPodConfig(pod));

  ContainerRecord c;
  c.id = NewRandomId();
  c.sandbox_id = pod.id;
  c.name = config.metadata().name();
  c.attempt = config.metadata().attempt();
  c.created_at = absl::ToUnixNanos(absl::Now());
  c.labels.insert(config.labels().begin(), config.labels().end());
  c.annotations.insert(config.annotations().begin(), config.annotations().end());
  auto encoded = google::protobuf::util::MessageToJsonString(config, &c.config_json);
  if (!encoded.ok()) {
    return absl::InternalError(absl::StrCat("encode config: ", std::string(encoded.message())));
  }
  c.image_id = image.id.String();
  c.image_name = ContainerImageName(**match);
  c.image_ref = ContainerImageRef(image, c.image_name);
  c.runtime_handler = runtime->handler_name();
  c.bundle = absl::StrCat(options_.bundles_dir, "/", c.id);
  c.rootfs = c.bundle + "/rootfs";
  c.overlay_dir = absl::StrCat(options_.overlay_dir, "/", c.id);
  c.log_path = log_path;
  c.exit_dir = options_.exits_dir;
  c.persist_dir = c.bundle + "/persist";
  c.stop_signal = "SIGTERM";
  if (config.stop_signal() != cri::SIGNAL_RUNTIME_DEFAULT) {
    c.stop_signal = cri::Signal_Name(config.stop_signal()).substr(strlen("SIGNAL_"));
  } else if (!image_config.stop_signal.empty()) {
    c.stop_signal = image_config.stop_signal;
  }
  RETURN_IF_ERROR(SignalNumber(c.stop_signal).status());

  // kubelet retries a CreateContainer that timed out with the same request:
  // hand back the container made for it (as for pods). While the first call
  // is still making it (its record says creating), the name stays reserved
  // and the retry is refused.
  std::string holder = names_.Holder(c.ReservedName());
  if (!holder.empty()) {
    std::optional<ContainerRecord> existing = records_.Get(holder);
    cri::ContainerConfig existing_config;
    if (existing && !existing->creating && existing->sandbox_id == pod.id &&
        google::protobuf::util::JsonStringToMessage(existing->config_json, &existing_config).ok() &&
        google::protobuf::util::MessageDifferencer::Equivalent(existing_config, config)) {
      return existing->id;
    }
  }
  ASSIGN_OR_RETURN(std::string id, Make(std::move(c), Plan{&pod, &pod_config, &config, &image,
                                                           &image_config, runtime, target_pid_ns,
                                                           restore, selinux}));
  HoldImage(id, std::move((*match)->lease));
  return id;
}

absl::Status SearchableByOthers(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, "stat " + dir);
  if ((st.st_mode & S_IXOTH) == 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s (mode %04o) does not let others search it", dir, st.st_mode & 07777));
  }
  return absl::OkStatus();
}

// runc mounts the rootfs from inside the pod's user namespace, where host
// root's 0700 dirs are closed to it: every dir on the way to the rootfs must
// let others search it. ocid's own (the runroot, its containers dir and the
// bundle; bundles_dir's parent is the runroot) get o+x (no listing: names in
// them are random IDs); a dir above them without it is FailedPrecondition
// naming it, since changing the host's dirs is not ocid's to do.
absl::Status ContainerManager::LetRootfsBeReached(const ContainerRecord& c) {
  std::string bundles = options_.bundles_dir;
  std::string runroot = bundles.substr(0, bundles.rfind('/'));
  for (const std::string& dir : {runroot, bundles, c.bundle}) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, "stat " + dir);
    if ((st.st_mode & S_IXOTH) == 0 && ::chmod(dir.c_str(), (st.st_mode & 07777) | 0011) != 0) {
      return absl::ErrnoToStatus(errno, "let the pod's user namespace search " + dir);
    }
  }
  for (std::string dir = runroot.substr(0, runroot.rfind('/')); !dir.empty();
       dir = dir.substr(0, dir.rfind('/'))) {
    absl::Status searchable = options_.searchable_by_others ? options_.searchable_by_others(dir)
                                                            : SearchableByOthers(dir);
    if (!searchable.ok()) {
      return absl::Status(searchable.code(),
                          absl::StrCat(searchable.message(),
                                       ": root of a pod user namespace could not reach the "
                                       "container's rootfs under the runroot ",
                                       runroot));
    }
  }
  return absl::OkStatus();
}

// The steps of Create that make something; each pushes its undo. The record
// is stored first, in the creating state and naming every path the steps
// will make, so that a crash at any later point leaves Recover what to undo;
// it is marked created last. A failure undoes each step made, the record last.
absl::StatusOr<std::string> ContainerManager::Make(ContainerRecord c, const Plan& plan) {
  if (plan.restore != nullptr) c.restore_from = c.overlay_dir + "/restore/checkpoint";
  RETURN_IF_ERROR(names_.Reserve(c.ReservedName(), c.id));
  UndoStack undo;
  undo.Push([&] { names_.Release(c.ReservedName()); });
  c.creating = true;
  RETURN_IF_ERROR(records_.Add(c));
  undo.Push([&] { records_.Remove(c.id).IgnoreError(); });
  CrashPoint("create_container.recorded");

  undo.Push([&] {
    RemoveBundle(c.bundle).IgnoreError();  // detaches the idmapped volumes first
    trash_.Discard(c.overlay_dir).IgnoreError();
  });
  for (const std::string& dir :
       {c.rootfs, c.persist_dir, c.overlay_dir + "/upper", c.overlay_dir + "/work"}) {
    RETURN_IF_ERROR(MakeDirs(dir, 0755));
  }
  RETURN_IF_ERROR(MakeDirs(c.log_path.substr(0, c.log_path.rfind('/')), 0755));
  if (plan.restore != nullptr) {
    // The checkpoint's files go with the container (its undo and removal
    // take them), and what it had changed goes into its upper dir.
    const std::string dir = c.overlay_dir + "/restore";
    if (::rename(plan.restore->dir.c_str(), dir.c_str()) != 0) {
      return absl::ErrnoToStatus(errno, "move checkpoint into " + dir);
    }
    RETURN_IF_ERROR(ApplyRootfsDiff(dir, plan.restore->contents.deleted_files,
                                    c.overlay_dir + "/upper"));
  }
  CrashPoint("create_container.dirs_made");
  std::optional<LayerStore::Idmap> idmap;
  if (plan.pod->userns) {
    // A pod user namespace without a root inside: the upper dir is left to
    // host root (nobody inside), as the layers' files not mapped are.
    idmap = LayerStore::Idmap{plan.pod->namespaces.user,
                              HostIdOf(plan.pod->userns->uids, 0).value_or(0),
                              HostIdOf(plan.pod->userns->gids, 0).value_or(0)};
  }
  if (idmap) RETURN_IF_ERROR(LetRootfsBeReached(c));
  RETURN_IF_ERROR(RelabelMounts(*plan.config, plan.selinux.mount));
  RETURN_IF_ERROR(images_.MountRootfs(plan.image->layers, c.overlay_dir + "/upper",
                                      c.overlay_dir + "/work", c.rootfs,
                                      idmap ? &*idmap : nullptr, plan.selinux.mount));
  undo.Push([&] { images_.UnmountRootfs(c.rootfs).IgnoreError(); });
  CrashPoint("create_container.rootfs_mounted");
  std::map<int, std::string> idmapped_sources;
  RETURN_IF_ERROR(MountIdmappedVolumes(c, plan, idmapped_sources));

  SandboxContext sandbox = ContextOf(*plan.pod, *plan.pod_config);
  if (!plan.target_pid_ns.empty()) {  // kubectl debug's ephemeral containers
    sandbox.pid_ns_path = plan.target_pid_ns;
    sandbox.host_pid = false;
  }
  ContainerSpecInputs inputs{c.id,
                             plan.config,
                             plan.image_config,
                             &sandbox,
                             c.rootfs,
                             options_.min_oom_score_adj,
                             options_.cgroup_manager,
                             options_.seccomp};
  inputs.swap_accounting = options_.swap_accounting;
  inputs.default_capabilities = options_.default_capabilities;
  inputs.apparmor_host = &options_.apparmor;
  inputs.selinux = plan.selinux;
  inputs.idmapped_sources = std::move(idmapped_sources);
  ASSIGN_OR_RETURN(nlohmann::json spec, BuildContainerSpec(inputs));
  const nlohmann::json& user = spec["process"]["user"];
  c.uid = user.value("uid", -1);
  c.gid = user.value("gid", -1);
  c.supplemental_groups = user.value("additionalGids", std::vector<int64_t>{});
  RETURN_IF_ERROR(WriteFileAtomically(c.bundle + "/config.json", spec.dump(),
                                      0600, Durability::kVolatile));  // runroot: volatile
  CrashPoint("create_container.spec_written");

  ContainerLaunch launch{c.id,       c.name,        c.bundle,           c.log_path,
                         c.exit_dir, c.persist_dir, plan.config->tty(), plan.config->stdin(),
                         plan.config->stdin_once()};
  ASSIGN_OR_RETURN(std::string pod_cgroup, PodCgroupPath(sandbox.cgroup_parent, sandbox.id));
  // A restore's conmon and runtime start at StartContainer (runtime restore).
  if (plan.restore == nullptr) {
    ASSIGN_OR_RETURN(c.conmon_pid, plan.runtime->Create(launch));
    undo.Push([&] { plan.runtime->Delete(c.id, /*force=*/true).IgnoreError(); });
  }
  CrashPoint("create_container.runtime_created");
  // Only these fields: the exit watch may have recorded an exit since.
  RETURN_IF_ERROR(records_
                      .Update(c.id,
                              [&](ContainerRecord& r) {
                                r.creating = false;
                                r.conmon_pid = c.conmon_pid;
                                r.uid = c.uid;
                                r.gid = c.gid;
                                r.supplemental_groups = c.supplemental_groups;
                              })
                      .status());
  undo.Dismiss();
  if (plan.restore == nullptr) {
    JoinConmonCgroup(c.id, ConmonCgroupPath(pod_cgroup, c.id), c.conmon_pid);
  }
  Emit(c, LifecycleEventType::kCreated);
  return c.id;
}

absl::StatusOr<UniqueFd> ContainerManager::IdmapUserNamespace(const ContainerRecord& c,
                                                              const SandboxRecord& pod,
                                                              const UserNamespaceMappings& mappings,
                                                              int index) {
  if (pod.userns && *pod.userns == mappings) {
    UniqueFd userns(::open(pod.namespaces.user.c_str(), O_RDONLY | O_CLOEXEC));
    if (!userns.valid()) return absl::ErrnoToStatus(errno, "open " + pod.namespaces.user);
    return userns;
  }
  if (options_.pinns_binary.empty() || options_.pins_dir.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "config.mounts[", index, "]: no ocid-pinns to make a user namespace for its mappings"));
  }
  return MakeUserNamespace(options_.pinns_binary, options_.pins_dir,
                           absl::StrCat(c.id, "-mount", index), mappings);
}

absl::Status ContainerManager::MountIdmappedVolumes(const ContainerRecord& c, const Plan& plan,
                                                    std::map<int, std::string>& sources) {
  for (int i = 0; i < plan.config->mounts_size(); ++i) {
    const cri::Mount& mount = plan.config->mounts(i);
    const std::string field = absl::StrCat("config.mounts[", i, "]");
    ASSIGN_OR_RETURN(std::optional<UserNamespaceMappings> mappings, MountIdMappings(mount, field));
    if (!mappings) continue;
    ASSIGN_OR_RETURN(UniqueFd userns, IdmapUserNamespace(c, *plan.pod, *mappings, i));
    ASSIGN_OR_RETURN(ScopedMount attached,
                     MountIdmappedVolume(mount, field, userns.get(), c.bundle, i));
    // Make's undo, Recover and RemoveContainer detach it (RemoveBundle).
    sources[i] = attached.Release();
  }
  return absl::OkStatus();
}

absl::Status ContainerManager::RelabelMounts(const cri::ContainerConfig& config,
                                             const std::string& mount_label) {
  if (options_.selinux == nullptr || mount_label.empty()) return absl::OkStatus();
  for (int i = 0; i < config.mounts_size(); ++i) {
    const cri::Mount& mount = config.mounts(i);
    if (!mount.selinux_relabel()) continue;
    const std::string field = absl::StrCat("config.mounts[", i, "].host_path");
    char resolved[PATH_MAX];
    if (::realpath(mount.host_path().c_str(), resolved) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", mount.host_path(), "\" to relabel: ", strerror(errno)));
    }
    // The resolved path is checked: a link must not lead a relabel to /usr.
    RETURN_IF_ERROR(options_.selinux->Relabel(resolved, mount_label, field));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ContainerManager::TargetPidNamespace(
    const std::string& pod_id, const std::string& target_id) const {
  const std::string field = "config.linux.security_context.namespace_options.target_id";
  if (target_id.empty()) {
    return absl::InvalidArgumentError(field + " is empty, and the PID mode is TARGET");
  }
  std::optional<ContainerRecord> target = records_.Get(target_id);
  if (!target || target->creating) {
    return absl::NotFoundError(absl::StrCat(field, ": container ", target_id, " not found"));
  }
  if (target->sandbox_id != pod_id) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": container ", target_id, " is in another pod"));
  }
  if (target->state != ContainerState::kRunning || target->pid <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ": container ", target_id, " is not running"));
  }
  return absl::StrCat("/proc/", target->pid, "/ns/pid");
}

absl::StatusOr<ContainerRecord> ContainerManager::Get(const std::string& id) const {
  if (id.empty()) return absl::InvalidArgumentError("container_id is empty");
  std::optional<ContainerRecord> container = records_.Get(id);
  // One still being made is not there yet (kubelet has no ID for it).
  if (!container || container->creating) {
    return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
  }
  return *container;
}

absl::StatusOr<ContainerView> ContainerManager::Status(const std::string& id) {
  ASSIGN_OR_RETURN(ContainerRecord c, Get(id));
  if (c.state == ContainerState::kRunning) {
    OnExit(c.id);
    c = records_.Get(c.id).value_or(c);
  }
  if (c.state == ContainerState::kRunning && c.conmon_pid > 0 &&
      runtimes_.MonitorGone(c.conmon_pid)) {
    OnMonitorGone(c);
    c = records_.Get(c.id).value_or(c);
  }
  ASSIGN_OR_RETURN(cri::ContainerConfig config, StoredConfig(c));
  return ContainerView{std::move(c), std::move(config)};
}

void ContainerManager::ForEach(const std::function<void(const ContainerRecord&)>& visit) const {
  records_.ForEach([&](const ContainerRecord& c) {
    if (!c.creating) visit(c);
  });
}

std::string ContainerManager::DefaultHandlerName() {
  absl::StatusOr<ContainerRuntime*> runtime = runtimes_.For("");
  return runtime.ok() ? (*runtime)->handler_name() : "";
}

std::string ContainerManager::HandlerName(const ContainerRecord& container) {
  absl::StatusOr<ContainerRuntime*> runtime = runtimes_.For(container.runtime_handler);
  return runtime.ok() ? (*runtime)->handler_name() : container.runtime_handler;
}

absl::Status ContainerManager::Start(const std::string& id) {
  ASSIGN_OR_RETURN(ContainerRecord found, Get(id));
  KeyedMutex::Lock lock = locks_.Acquire(found.id);
  ASSIGN_OR_RETURN(ContainerRecord c, Get(found.id));
  if (c.state != ContainerState::kCreated) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", c.id, " is not in the created state"));
  }
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));
  pid_t conmon_pid = c.conmon_pid;
  if (c.restore_from.empty()) {
    RETURN_IF_ERROR(runtime->Start(c.id));
  } else {
    ASSIGN_OR_RETURN(conmon_pid, RestoreLocked(c, *runtime));
  }
  CrashPoint("start_container.runtime_started");
  RETURN_IF_ERROR(MarkStarted(c, conmon_pid));
  CrashPoint("start_container.recorded");
  WatchOom(c);
  return absl::OkStatus();
}

absl::Status ContainerManager::MarkStarted(const ContainerRecord& c, pid_t conmon_pid) {
  // The runtime wrote the init pid at create (or restore): no `state` call
  // (a process start, ~25 ms for runc) is needed.
  pid_t pid = 0;
  absl::StatusOr<std::string> pidfile = ReadFileToString(c.bundle + "/pidfile", 64);
  if (pidfile.ok()) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*pidfile), &pid);
  int64_t now = absl::ToUnixNanos(absl::Now());
  RETURN_IF_ERROR(records_
                      .Update(c.id,
                              [&](ContainerRecord& r) {
                                r.started_at = now;
                                r.conmon_pid = conmon_pid;
                                r.restore_from.clear();
                                // The exit watch may have seen a quick exit already.
                                if (r.state != ContainerState::kCreated) return;
                                r.state = ContainerState::kRunning;
                                r.pid = pid;
                              })
                      .status());
  Emit(c, LifecycleEventType::kStarted);
  return absl::OkStatus();
}

void ContainerManager::OnExit(const std::string& id) {
  std::optional<ContainerRecord> c = records_.Get(id);
  if (!c || c->id != id || c->state == ContainerState::kExited) return;
  absl::StatusOr<ContainerExit> exit = runtimes_.ReadExit(c->exit_dir, id, c->persist_dir);
  if (!exit.ok()) return;
  // conmon's oom file, the OOM watcher's mark (r.reason, below), or else
  // the cgroup's own count (it stays until the runtime's delete removes
  // the cgroup).
  const bool oom_killed = exit->oom_killed || CgroupSawOom(*c);
  bool stopped = false;  // by this call: the watch and a Status may race here
  absl::Status updated = records_
                             .Update(id,
                                     [&](ContainerRecord& r) {
                                       if (r.state == ContainerState::kExited) return;
                                       stopped = true;
                                       r.state = ContainerState::kExited;
                                       r.exit_code = exit->exit_code;
                                       r.finished_at = absl::ToUnixNanos(exit->finished_at);
                                       if (r.started_at == 0) r.started_at = r.finished_at;
                                       const bool oom = oom_killed || r.reason == "OOMKilled";
                                       r.reason = oom                    ? "OOMKilled"
                                                  : exit->exit_code == 0 ? "Completed"
                                                                         : "Error";
                                       r.pid = 0;
                                     })
                             .status();
  // No caller to return it to (the exit watch's thread): log it. The
  // record stays RUNNING; the next Status or Stop reads the exit file again.
  if (!updated.ok()) OCID_LOG(kError) << "container " << id << ": record exit: " << updated;
  if (updated.ok() && stopped) {
    UnwatchOom(id);
    Emit(*c, LifecycleEventType::kStopped);
    // What the init left running dies with it (Stop does this again).
    absl::Status killed = KillCgroup(*c);
    if (!killed.ok()) OCID_LOG(kError) << "container " << id << ": kill its cgroup: " << killed;
  }
}

void ContainerManager::CheckMonitors() {
  std::vector<ContainerRecord> orphans;
  records_.ForEach([&](const ContainerRecord& c) {
    if (!c.creating && c.state == ContainerState::kRunning && c.conmon_pid > 0 &&
        runtimes_.MonitorGone(c.conmon_pid)) {
      orphans.push_back(c);
    }
  });
  for (const ContainerRecord& c : orphans) OnMonitorGone(c);
}

// Without the container's lock (List must not wait for a Stop): each step
// is idempotent, and a Stop or Remove racing this one finds the exit
// recorded, or the record gone.
void ContainerManager::OnMonitorGone(const ContainerRecord& c) {
  OnExit(c.id);  // conmon wrote the exit file before it went
  std::optional<ContainerRecord> now = records_.Get(c.id);
  if (!now || now->state != ContainerState::kRunning) return;
  OCID_LOG(kWarn) << "container " << c.id << ": its conmon (pid " << c.conmon_pid
                  << ") is gone without an exit file; killing the container";
  if (absl::StatusOr<ContainerRuntime*> runtime = runtimes_.For(c.runtime_handler); runtime.ok()) {
    absl::Status killed = (*runtime)->Kill(c.id, SIGKILL);
    if (!killed.ok() && !absl::IsNotFound(killed)) {
      OCID_LOG(kError) << "container " << c.id << ": kill: " << killed;
    }
  }
  absl::Status cgroup = KillCgroup(*now);
  if (!cgroup.ok()) OCID_LOG(kError) << "container " << c.id << ": kill its cgroup: " << cgroup;
  bool stopped = false;
  absl::Status updated =
      records_
          .Update(c.id,
                  [&](ContainerRecord& r) {
                    if (r.state != ContainerState::kRunning) return;
                    stopped = true;
                    r.state = ContainerState::kExited;
                    r.exit_code = 128 + SIGKILL;
                    r.finished_at = absl::ToUnixNanos(absl::Now());
                    r.reason = "Error";
                    r.message = absl::StrCat("conmon (pid ", c.conmon_pid,
                                             "), the container's monitor, died; the container "
                                             "was killed");
                    r.pid = 0;
                  })
          .status();
  if (!updated.ok() && !absl::IsNotFound(updated)) {
    OCID_LOG(kError) << "container " << c.id << ": record its exit: " << updated;
  }
  if (updated.ok() && stopped) {
    UnwatchOom(c.id);
    Emit(*now, LifecycleEventType::kStopped);
  }
}

absl::StatusOr<std::string> ContainerManager::CgroupOf(const ContainerRecord& c) const {
  if (options_.cgroup_manager != "cgroupfs") {
    return absl::UnimplementedError("only the cgroupfs driver's paths are known");
  }
  ASSIGN_OR_RETURN(SandboxRecord pod, pods_.Get(c.sandbox_id));
  ASSIGN_OR_RETURN(std::string pod_cgroup, PodCgroupPath(pod.cgroup_parent, pod.id));
  return ContainerCgroupPath(pod_cgroup, c.id);
}

absl::Status ContainerManager::KillCgroup(const ContainerRecord& c) {
  if (!options_.kill_cgroup) return absl::OkStatus();
  absl::StatusOr<std::string> cgroup = CgroupOf(c);
  if (!cgroup.ok()) return absl::OkStatus();  // its pod is gone, and its cgroups with it
  return options_.kill_cgroup(*cgroup);
}

// A running container's SIGKILL goes to its whole cgroup at once (what Stop
// does after the exit anyway): no runtime process is started for it (`runc
// kill` costs ~4 ms). The runtime's kill stays for what the cgroup's kill
// did not reach: a container not started (its init is the runtime's),
// no cgroup known (another driver, its pod gone), or an init still running
// after it (none of the cgroup's controllers mounted where Kill looks).
absl::Status ContainerManager::KillInit(const ContainerRecord& c, ContainerRuntime& runtime) {
  if (options_.kill_cgroup && c.state == ContainerState::kRunning && c.pid > 0) {
    absl::StatusOr<std::string> cgroup = CgroupOf(c);
    if (cgroup.ok() && options_.kill_cgroup(*cgroup).ok() && runtimes_.ProcessGone(c.pid)) {
      return absl::OkStatus();
    }
  }
  absl::Status killed = runtime.Kill(c.id, SIGKILL);
  return absl::IsNotFound(killed) ? absl::OkStatus() : killed;
}

void ContainerManager::WatchOom(const ContainerRecord& c) {
  if (!options_.watch_oom) return;
  absl::StatusOr<std::string> cgroup = CgroupOf(c);
  if (!cgroup.ok()) return;
  absl::Status watched = options_.watch_oom(c.id, *cgroup);
  if (!watched.ok()) {
    OCID_LOG(kWarn) << "container " << c.id
                    << ": watch its memory cgroup for OOM kills: " << watched;
  }
}

void ContainerManager::UnwatchOom(const std::string& id) {
  if (options_.unwatch_oom) options_.unwatch_oom(id);
}

void ContainerManager::OnOom(const std::string& id) {
  auto live = [](const ContainerRecord& r) {
    return r.state == ContainerState::kCreated || r.state == ContainerState::kRunning;
  };
  std::optional<ContainerRecord> c = records_.Get(id);
  if (!c || c->id != id || !live(*c) || c->reason == "OOMKilled") return;
  bool marked = false;
  absl::Status updated = records_
                             .Update(id,
                                     [&](ContainerRecord& r) {
                                       if (!live(r)) return;
                                       marked = r.reason != "OOMKilled";
                                       r.reason = "OOMKilled";
                                     })
                             .status();
  if (!updated.ok()) {
    OCID_LOG(kError) << "container " << id << ": record an OOM kill: " << updated;
  } else if (marked) {
    OCID_LOG(kInfo) << "container " << id << ": OOM kill in its memory cgroup";
  }
}

bool ContainerManager::CgroupSawOom(const ContainerRecord& c) const {
  if (!options_.oom_killed) return false;
  absl::StatusOr<std::string> cgroup = CgroupOf(c);
  if (!cgroup.ok()) return false;
  absl::StatusOr<bool> oom = options_.oom_killed(*cgroup);
  return oom.ok() && *oom;  // NotFound: a container that never ran has no cgroup
}

absl::Status ContainerManager::Stop(const std::string& id, int64_t timeout_seconds) {
  ASSIGN_OR_RETURN(ContainerRecord found, Get(id));
  KeyedMutex::Lock lock = locks_.Acquire(found.id);
  return StopLocked(found.id, timeout_seconds);
}

absl::Status ContainerManager::StopLocked(const std::string& id, int64_t timeout_seconds) {
  RETURN_IF_ERROR(StopInit(id, timeout_seconds));
  CrashPoint("stop_container.exited");
  // Also when the exit watch recorded the exit (and killed them) already:
  // Stop returns only once nothing of the container runs.
  std::optional<ContainerRecord> c = records_.Get(id);
  return c ? KillCgroup(*c) : absl::OkStatus();
}

absl::Status ContainerManager::StopInit(const std::string& id, int64_t timeout_seconds) {
  OnExit(id);  // an exit the watch has not delivered yet
  std::optional<ContainerRecord> found = records_.Get(id);
  if (!found) return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
  const ContainerRecord& c = *found;
  if (c.state == ContainerState::kExited || c.state == ContainerState::kUnknown) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));
  if (timeout_seconds > 0 && c.state == ContainerState::kRunning) {
    ASSIGN_OR_RETURN(int signal, SignalNumber(c.stop_signal));
    absl::Status sent = runtime->Kill(c.id, signal);
    if (!sent.ok() && !absl::IsNotFound(sent)) return sent;
    CrashPoint("stop_container.signal_sent");
    if (records_.WaitFor(c.id, Exited, absl::Seconds(timeout_seconds))) return absl::OkStatus();
  }
  RETURN_IF_ERROR(KillInit(c, *runtime));
  CrashPoint("stop_container.killed");
  if (records_.WaitFor(c.id, Exited, kKillGrace)) return absl::OkStatus();
  // No exit file (a created container that never ran): say so.
  bool stopped = false;
  RETURN_IF_ERROR(records_
                      .Update(c.id,
                              [&](ContainerRecord& r) {
                                if (r.state == ContainerState::kExited) return;
                                stopped = true;
                                r.state = ContainerState::kExited;
                                r.exit_code = 128 + SIGKILL;
                                r.finished_at = absl::ToUnixNanos(absl::Now());
                                r.reason = "Error";
                              })
                      .status());
  if (stopped) Emit(c, LifecycleEventType::kStopped);
  return absl::OkStatus();
}

absl::Status ContainerManager::Remove(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("container_id is empty");
  std::optional<ContainerRecord> found = records_.Get(id);
  if (!found || found->creating) return absl::OkStatus();  // already gone, or not there yet
  KeyedMutex::Lock lock = locks_.Acquire(found->id);
  return RemoveLocked(found->id);
}

absl::Status ContainerManager::RemoveLocked(const std::string& id) {
  std::optional<ContainerRecord> found = records_.Get(id);
  if (!found) return absl::OkStatus();  // removed while we waited
  const ContainerRecord c = *found;
  if (!c.removing) RETURN_IF_ERROR(records_.MarkRemoving(c.id));
  RETURN_IF_ERROR(StopLocked(c.id, 0));
  CrashPoint("remove_container.stopped");
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));
  RETURN_IF_ERROR(runtime->Delete(c.id, /*force=*/true));
  if (options_.remove_cgroup) {
    absl::StatusOr<SandboxRecord> pod = pods_.Get(c.sandbox_id);
    absl::StatusOr<std::string> pod_cgroup =
        pod.ok() ? PodCgroupPath(pod->cgroup_parent, pod->id) : pod.status();
    if (pod_cgroup.ok()) {
      KeyedMutex::Lock cgroup_lock = conmon_cgroup_locks_.Acquire(c.id);
      RETURN_IF_ERROR(options_.remove_cgroup(ConmonCgroupPath(*pod_cgroup, c.id)));
    }
  }
  CrashPoint("remove_container.runtime_deleted");
  RETURN_IF_ERROR(images_.UnmountRootfs(c.rootfs));
  CrashPoint("remove_container.rootfs_unmounted");
  RETURN_IF_ERROR(RemoveBundle(c.bundle));
  RETURN_IF_ERROR(trash_.Discard(c.overlay_dir));
  ::unlink(absl::StrCat(c.exit_dir, "/", c.id).c_str());
  CrashPoint("remove_container.bundle_removed");
  RETURN_IF_ERROR(records_.Remove(c.id));
  UnwatchOom(c.id);
  DropImage(c.id);
  names_.Release(c.ReservedName());
  Emit(c, LifecycleEventType::kDeleted);
  return absl::OkStatus();
}

void ContainerManager::Emit(const ContainerRecord& c, LifecycleEventType type) {
  if (options_.events != nullptr) options_.events->Publish({c.id, c.sandbox_id, type, 0});
}

void ContainerManager::HoldImage(const std::string& id, Lease lease) {
  absl::MutexLock lock(&image_leases_mu_);
  image_leases_[id] = std::move(lease);
}

void ContainerManager::DropImage(const std::string& id) {
  Lease dropped;  // released outside our mutex
  absl::MutexLock lock(&image_leases_mu_);
  auto it = image_leases_.find(id);
  if (it == image_leases_.end()) return;
  dropped = std::move(it->second);
  image_leases_.erase(it);
}

absl::Status ContainerManager::StopAllOf(const std::string& pod_id) {
  for (const ContainerRecord& c : records_.List()) {
    if (c.sandbox_id != pod_id) continue;
    KeyedMutex::Lock lock = locks_.Acquire(c.id);
    absl::Status stopped = StopLocked(c.id, 0);
    if (!stopped.ok() && !absl::IsNotFound(stopped)) return stopped;  // NotFound: removed meanwhile
  }
  return absl::OkStatus();
}

absl::Status ContainerManager::RemoveAllOf(const std::string& pod_id) {
  for (const ContainerRecord& c : records_.List()) {
    if (c.sandbox_id != pod_id) continue;
    KeyedMutex::Lock lock = locks_.Acquire(c.id);
    RETURN_IF_ERROR(RemoveLocked(c.id));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExecResult> ContainerManager::ExecSync(const std::string& id,
                                                      const std::vector<std::string>& command,
                                                      int64_t timeout_seconds) {
  ASSIGN_OR_RETURN(ContainerRecord c, Get(id));
  if (command.empty()) return absl::InvalidArgumentError("cmd is empty");
  if (c.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("container ", c.id, " is not running"));
  }
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));
  ASSIGN_OR_RETURN(ExecResult result,
                   runtime->ExecSync(c.id, c.bundle, command, absl::Seconds(timeout_seconds)));
  if (result.timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("command timed out after ", timeout_seconds, "s"));
  }
  return result;
}

namespace {

// The request field a kernel's refusal is about, by the cgroup file the
// runtime's message names: "linux.memory_limit_in_bytes: <runc's words>".
absl::Status NameTheResource(absl::Status status) {
  if (status.ok()) return status;
  static constexpr std::pair<const char*, const char*> kFields[] = {
      {"memory.memsw", "memory_swap_limit_in_bytes"}, {"memory.swap", "memory_swap_limit_in_bytes"},
      {"memory.limit_in_bytes", "memory_limit_in_bytes"}, {"memory.max", "memory_limit_in_bytes"},
      {"cpu.cfs_quota_us", "cpu_quota"},      {"cpu.max", "cpu_quota"},
      {"cpu.cfs_period_us", "cpu_period"},    {"cpu.shares", "cpu_shares"},
      {"cpu.weight", "cpu_shares"},           {"cpuset.cpus", "cpuset_cpus"},
      {"cpuset.mems", "cpuset_mems"},         {"hugetlb.", "hugepage_limits"},
  };
  for (const auto& [file, field] : kFields) {
    if (absl::StrContains(status.message(), file)) {
      return absl::Status(status.code(), absl::StrCat("linux.", field, ": ", status.message()));
    }
  }
  return status;
}

}  // namespace

absl::StatusOr<ContainerRecord> ContainerManager::GetRunning(const std::string& id) const {
  ASSIGN_OR_RETURN(ContainerRecord c, Get(id));
  if (c.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("container ", c.id, " is not running"));
  }
  return c;
}

absl::StatusOr<std::unique_ptr<streaming::Channel>> ContainerManager::StartExec(
    const std::string& id, const std::vector<std::string>& command,
    const streaming::ExecStdio& stdio) {
  if (command.empty()) return absl::InvalidArgumentError("cmd is empty");
  ASSIGN_OR_RETURN(ContainerRecord c, GetRunning(id));
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));
  return runtime->StartExec(c.id, c.bundle, command, stdio);
}

absl::StatusOr<std::unique_ptr<streaming::Channel>> ContainerManager::Attach(const std::string& id,
                                                                             bool stdin) {
  ASSIGN_OR_RETURN(ContainerRecord c, GetRunning(id));
  ASSIGN_OR_RETURN(cri::ContainerConfig config, StoredConfig(c));
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));
  // Input only reaches a container created to read it.
  return runtime->Attach(c.id, c.bundle, stdin && config.stdin());
}

absl::Status ContainerManager::UpdateResources(const std::string& id,
                                               const cri::LinuxContainerResources& resources) {
  ASSIGN_OR_RETURN(ContainerRecord found, Get(id));
  KeyedMutex::Lock lock = locks_.Acquire(found.id);
  ASSIGN_OR_RETURN(ContainerRecord c, Get(found.id));
  if (Exited(c)) {
    return absl::FailedPreconditionError(absl::StrCat("container ", c.id, " is not running"));
  }
  ASSIGN_OR_RETURN(nlohmann::json json,
                   BuildResources(resources, "linux.", options_.swap_accounting));
  ASSIGN_OR_RETURN(cri::ContainerConfig config, StoredConfig(c));
  *config.mutable_linux()->mutable_resources() = resources;
  std::string config_json;
  auto encoded = google::protobuf::util::MessageToJsonString(config, &config_json);
  if (!encoded.ok()) {
    return absl::InternalError(absl::StrCat("encode config: ", std::string(encoded.message())));
  }
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));
  if (resources.memory_limit_in_bytes() > 0 && options_.memory_working_set) {
    absl::StatusOr<std::string> cgroup = CgroupOf(c);
    absl::StatusOr<uint64_t> used =
        cgroup.ok() ? options_.memory_working_set(*cgroup) : cgroup.status();
    if (used.ok() && *used > static_cast<uint64_t>(resources.memory_limit_in_bytes())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "linux.memory_limit_in_bytes: ", resources.memory_limit_in_bytes(),
          " is below the ", *used, " bytes the container uses now (its working set); the "
          "kernel would OOM-kill it"));
    }
  }
  RETURN_IF_ERROR(NameTheResource(runtime->Update(c.id, json.dump())));
  return records_.Update(c.id, [&](ContainerRecord& r) { r.config_json = config_json; }).status();
}

absl::Status ContainerManager::ReopenLog(const std::string& id) {
  ASSIGN_OR_RETURN(ContainerRecord c, Get(id));
  if (c.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("container ", c.id, " is not running"));
  }
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));
  return runtime->ReopenLog(c.bundle, c.log_path);
}

bool ContainerManager::IsCheckpointArchive(const std::string& image) {
  // No image reference starts with '/': a path is a checkpoint archive's,
  // as cri-o takes it.
  struct stat st;
  return !image.empty() && image[0] == '/' && ::lstat(image.c_str(), &st) == 0 &&
         S_ISREG(st.st_mode);
}

absl::StatusOr<ContainerManager::RestoreSource> ContainerManager::PrepareRestore(
    const std::string& archive) {
  RestoreSource restore;
  restore.dir = absl::StrCat(options_.overlay_dir, "/restore-", NewRandomId());
  RETURN_IF_ERROR(MakeDirs(restore.dir, 0700));
  absl::Cleanup remove = [&] { RemoveAll(restore.dir).IgnoreError(); };
  absl::StatusOr<CheckpointContents> contents = ReadCheckpointArchive(archive, restore.dir);
  if (!contents.ok()) {
    return absl::Status(contents.status().code(),
                        absl::StrCat("config.image.image: ", contents.status().message()));
  }
  restore.contents = *std::move(contents);
  const CheckpointConfig& dumped = restore.contents.config;
  // The image's ID first: content-addressed, the same image wherever the
  // archive was made.
  restore.image = !dumped.rootfs_image_ref.empty()    ? dumped.rootfs_image_ref
                  : !dumped.rootfs_image_name.empty() ? dumped.rootfs_image_name
                                                      : dumped.rootfs_image;
  if (!options_.check_criu) {
    return absl::FailedPreconditionError("checkpoint/restore is not set up in this ocid");
  }
  RETURN_IF_ERROR(options_.check_criu());
  std::move(remove).Cancel();
  return restore;
}

// conmon with --restore: the runtime restores the processes from CRIU's
// images into the container made at create, which then runs. Returns
// conmon's pid.
absl::StatusOr<pid_t> ContainerManager::RestoreLocked(const ContainerRecord& c,
                                                      ContainerRuntime& runtime) {
  if (!options_.check_criu) {
    return absl::FailedPreconditionError("checkpoint/restore is not set up in this ocid");
  }
  RETURN_IF_ERROR(options_.check_criu());
  ASSIGN_OR_RETURN(cri::ContainerConfig config, StoredConfig(c));
  ContainerLaunch launch{c.id,       c.name,        c.bundle,      c.log_path,
                         c.exit_dir, c.persist_dir, config.tty(), config.stdin(),
                         config.stdin_once()};
  launch.restore_from = c.restore_from;
  ASSIGN_OR_RETURN(SandboxRecord pod, pods_.Get(c.sandbox_id));
  ASSIGN_OR_RETURN(cri::PodSandboxConfig pod_config, StoredPodConfig(pod));
  SandboxContext sandbox = ContextOf(pod, pod_config);
  ASSIGN_OR_RETURN(std::string pod_cgroup, PodCgroupPath(sandbox.cgroup_parent, sandbox.id));
  ASSIGN_OR_RETURN(pid_t conmon_pid, runtime.Create(launch));
  JoinConmonCgroup(c.id, ConmonCgroupPath(pod_cgroup, c.id), conmon_pid);
  return conmon_pid;
}

// On cgroup v1 the first move into a cgroup after a quiet moment waits in
// the kernel for an RCU grace period (5-30 ms here, a fifth of Create and
// Start), so conmon moves into its cgroup on a background thread, once its
// create is recorded: only conmon's own accounting waits for it. The move
// and the removal of that cgroup take the container's cgroup lock, not its
// lock (a Start right after the Create must not wait): a Remove that came
// first has removed the cgroup, and the move must not make it again; one
// that comes later waits and removes what the move made.
void ContainerManager::JoinConmonCgroup(std::string id, std::string cgroup, pid_t conmon_pid) {
  if (!options_.join_cgroup) return;
  conmon_joins_.Run([this, id = std::move(id), cgroup = std::move(cgroup), conmon_pid] {
    KeyedMutex::Lock lock = conmon_cgroup_locks_.Acquire(id);
    std::optional<ContainerRecord> c = records_.Get(id);
    if (!c || c->removing) return;
    absl::Status joined = options_.join_cgroup(cgroup, conmon_pid);
    if (!joined.ok()) {
      OCID_LOG(kWarn) << "container " << id << ": move conmon " << conmon_pid << " into "
                      << cgroup << ": " << joined;
    }
  });
}

}  // namespace ocid
