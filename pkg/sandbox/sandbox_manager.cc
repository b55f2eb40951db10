#include "pkg/sandbox/sandbox_manager.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pkg/base/crash_point.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/proto_json_cache.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/undo_stack.h"
#include "pkg/cgroups/paths.h"
#include "pkg/sandbox/sysctls.h"
#include "pkg/security/userns.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

SelinuxLabels SelinuxLabelsOf(const SandboxRecord& pod) {
  return {pod.selinux_process_label, pod.selinux_mount_label};
}

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

}  // namespace

PodNetworkRequest NetworkRequestFor(const SandboxRecord& pod, const cri::PodSandboxConfig& config) {
  PodNetworkRequest request;
  request.pod_id = pod.id;
  request.netns_path = pod.namespaces.net;
  request.pod_name = pod.name;
  request.pod_namespace = pod.pod_namespace;
  request.pod_uid = pod.uid;
  for (const cri::PortMapping& port : config.port_mappings()) {
    CniPortMapping mapping;
    mapping.host_port = port.host_port();
    mapping.container_port = port.container_port();
    mapping.protocol = port.protocol() == cri::UDP    ? "udp"
                       : port.protocol() == cri::SCTP ? "sctp"
                                                      : "tcp";
    mapping.host_ip = port.host_ip();
    request.port_mappings.push_back(mapping);
  }
  const cri::DNSConfig& dns = config.dns_config();
  request.dns_servers = Strings(dns.servers());
  request.dns_searches = Strings(dns.searches());
  request.dns_options = Strings(dns.options());
  return request;
}

absl::StatusOr<cri::PodSandboxConfig> StoredPodConfig(const SandboxRecord& pod) {
  // Every status, event and stop of a pod reads its config: parse each once.
  static auto* const parsed_configs = new ProtoJsonCache<cri::PodSandboxConfig>(256);
  absl::StatusOr<cri::PodSandboxConfig> config = parsed_configs->Parse(pod.config_json);
  if (!config.ok()) {
    return absl::DataLossError(
        absl::StrCat("pod sandbox ", pod.id, ": stored config: ", config.status().message()));
  }
  return config;
}

SandboxManager::SandboxManager(SandboxManagerOptions options, SandboxHost& host,
                               PodNetwork& network)
    : options_(std::move(options)),
      host_(host),
      network_(network),
      // Updates record state a power loss ends anyway (a pod ready or stopped): the old
      // record or the new one after it, never a torn one, is enough.
      records_(options_.records_dir, Durability::kOldOrNew) {}

absl::Status SandboxManager::Recover() {
  RETURN_IF_ERROR(MakeDirs(options_.pods_dir, 0700));
  RETURN_IF_ERROR(MakeDirs(options_.pins_dir, 0700));
  RETURN_IF_ERROR(records_.Load());
  // Every record's level is held before any new pod is given one, and
  // before an unfinished RunPod's undo gives its own back.
  for (const SandboxRecord& pod : records_.List()) {
    if (options_.selinux != nullptr) options_.selinux->RestorePod(SelinuxLabelsOf(pod));
  }
  for (const SandboxRecord& pod : records_.List()) {
    if (pod.creating) {
      // RunPod did not finish: undo what it may have made. A step that
      // fails keeps the record (still hidden) for the next start to retry;
      // it must not keep ocid from serving the pods that run.
      absl::Status undone = UndoCreate(pod);
      if (!undone.ok()) {
        OCID_LOG(kError) << "pod sandbox " << pod.id
                         << ": undo an unfinished RunPodSandbox: " << undone;
      } else {
        OCID_LOG(kInfo) << "pod sandbox " << pod.id << ": undid an unfinished RunPodSandbox";
      }
      continue;
    }
    RETURN_IF_ERROR(names_.Reserve(pod.ReservedName(), pod.id));
    if (pod.runtime.empty()) {
      // Recorded before the runtime was: the handler names it as it did
      // when the pod was made, unless the default changed across restarts.
      absl::StatusOr<std::string> runtime = options_.resolve_handler(pod.runtime_handler);
      if (runtime.ok()) {
        RETURN_IF_ERROR(
            records_.Update(pod.id, [&](SandboxRecord& r) { r.runtime = *runtime; }).status());
      }
    }
    if (pod.ready && !(InfraAlive(pod) && host_.Pinned(pod.namespaces))) {
      // Its infra died or its pins are gone (a reboot wiped the runroot):
      // NOTREADY, as containerd and cri-o report. Not stopped: StopPod
      // still owes the CNI DEL and the rest.
      RETURN_IF_ERROR(records_.Update(pod.id, [](SandboxRecord& r) { r.ready = false; }).status());
    }
  }
  return absl::OkStatus();
}

// What a RunPod cut short may have made, undone from its record alone: each
// step is idempotent and fine with what was never made, so all of them run,
// in RunPod's reverse order.
absl::Status SandboxManager::UndoCreate(const SandboxRecord& pod) {
  // First, so that no helper of the cut call (a CNI ADD, the infra's
  // launcher) makes something after the undo.
  RETURN_IF_ERROR(host_.KillHelpersOf(pod.id));
  absl::Status status;
  if (pod.infra_pid > 0) host_.StopInfra(pod.Infra());
  if (!pod.shm_path.empty()) status.Update(host_.UnmountShm(pod.shm_path));
  if (!pod.namespaces.net.empty()) {
    // DEL from the cached result when ADD got that far, else with the
    // current config (plugins accept DEL for what they never added).
    absl::StatusOr<cri::PodSandboxConfig> config = StoredPodConfig(pod);
    status.Update(config.ok() ? network_.TearDown(NetworkRequestFor(pod, *config))
                              : config.status());
  }
  status.Update(host_.Unpin(pod.namespaces));
  if (!pod.files_dir.empty()) status.Update(RemoveAll(pod.files_dir));
  status.Update(RemoveCgroupsOf(pod));
  RETURN_IF_ERROR(status);
  RETURN_IF_ERROR(records_.Remove(pod.id));
  if (options_.selinux != nullptr) options_.selinux->ReleasePod(SelinuxLabelsOf(pod));
  return absl::OkStatus();
}

void SandboxManager::FinishRemovals() {
  for (const SandboxRecord& pod : records_.List()) {
    if (!pod.removing || pod.creating) continue;
    absl::Status removed = RemovePod(pod.id);
    if (removed.ok()) {
      OCID_LOG(kInfo) << "pod sandbox " << pod.id << ": finished an unfinished RemovePodSandbox";
    } else {
      OCID_LOG(kError) << "pod sandbox " << pod.id
                       << ": finish an unfinished RemovePodSandbox: " << removed;
    }
  }
}

absl::StatusOr<std::string> SandboxManager::RunPod(const cri::PodSandboxConfig& config,
                                                   const std::string& handler) {
  ASSIGN_OR_RETURN(std::string runtime, options_.resolve_handler(handler));
  const auto& namespaces = config.linux().security_context().namespace_options();
  ASSIGN_OR_RETURN(std::optional<UserNamespaceMappings> userns,
                   PodUserNamespace(namespaces, "config.linux.security_context.namespace_options"));
  RETURN_IF_ERROR(CheckPodSysctls(config.linux().sysctls(),
                                  namespaces.ipc() != cri::NamespaceMode::NODE,
                                  namespaces.network() != cri::NamespaceMode::NODE));
  SandboxRecord pod;
  pod.id = NewRandomId();
  pod.name = config.metadata().name();
  pod.pod_namespace = config.metadata().namespace_();
  pod.uid = config.metadata().uid();
  pod.attempt = config.metadata().attempt();
  pod.runtime_handler = handler;
  pod.runtime = std::move(runtime);
  pod.userns = std::move(userns);
  auto encoded = google::protobuf::util::MessageToJsonString(config, &pod.config_json);
  if (!encoded.ok()) {
    return absl::InternalError(absl::StrCat("encode config: ", std::string(encoded.message())));
  }

  // kubelet retries a RunPodSandbox that timed out with the same request:
  // hand back the pod made for it. While the first call is still making it
  // (its record says creating), the name is taken and the retry refused.
  std::string holder = names_.Holder(pod.ReservedName());
  if (!holder.empty()) {
    std::optional<SandboxRecord> existing = records_.Get(holder);
    cri::PodSandboxConfig existing_config;
    // Compared as messages: proto maps serialize in no fixed order.
    if (existing && !existing->creating &&
        google::protobuf::util::JsonStringToMessage(existing->config_json, &existing_config).ok() &&
        google::protobuf::util::MessageDifferencer::Equivalent(existing_config, config)) {
      return existing->id;
    }
    return absl::AlreadyExistsError(
        absl::StrCat("pod sandbox name \"", pod.ReservedName(), "\" is reserved for ", holder));
  }
  return Make(std::move(pod), config);
}

// The rest of RunPod after the name check. The record is stored first, in
// the creating state and naming every path the steps will make, so that a
// crash at any later point leaves Recover what to undo; it is marked created
// last. A failure undoes each step made, the record last.
absl::StatusOr<std::string> SandboxManager::Make(SandboxRecord pod,
                                                 const cri::PodSandboxConfig& config) {
  RETURN_IF_ERROR(names_.Reserve(pod.ReservedName(), pod.id));
  UndoStack undo;
  undo.Push([&] { names_.Release(pod.ReservedName()); });
  if (options_.selinux != nullptr) {
    ASSIGN_OR_RETURN(SelinuxLabels labels, options_.selinux->PodLabels(
                                               config.linux().security_context().selinux_options(),
                                               "config.linux.security_context.selinux_options"));
    pod.selinux_process_label = labels.process;
    pod.selinux_mount_label = labels.mount;
    undo.Push([this, labels] { options_.selinux->ReleasePod(labels); });
  }

  const auto& options = config.linux().security_context().namespace_options();
  pod.created_at = absl::ToUnixNanos(absl::Now());
  pod.labels.insert(config.labels().begin(), config.labels().end());
  pod.annotations.insert(config.annotations().begin(), config.annotations().end());
  pod.log_directory = config.log_directory();
  pod.cgroup_parent = config.linux().cgroup_parent();
  ASSIGN_OR_RETURN(pod.hostname, PodHostname(config.hostname()));
  pod.creating = true;
  pod.namespaces = PinPaths(PinRequestFor(pod, config));
  pod.files_dir = absl::StrCat(options_.pods_dir, "/", pod.id);
  if (options.ipc() != cri::NamespaceMode::NODE) pod.shm_path = pod.files_dir + "/shm";
  RETURN_IF_ERROR(records_.Add(pod));
  undo.Push([&] { records_.Remove(pod.id).IgnoreError(); });
  CrashPoint("run_pod.recorded");

  RETURN_IF_ERROR(MakeParts(pod, config, undo));
  pod.creating = false;
  RETURN_IF_ERROR(records_.Update(pod.id, [&](SandboxRecord& r) { r = pod; }).status());
  undo.Dismiss();
  // As containerd sends them: the pod is its own container, made and run.
  Emit(pod.id, LifecycleEventType::kCreated);
  Emit(pod.id, LifecycleEventType::kStarted);
  return pod.id;
}

PinRequest SandboxManager::PinRequestFor(const SandboxRecord& pod,
                                         const cri::PodSandboxConfig& config) const {
  const auto& options = config.linux().security_context().namespace_options();
  bool host_network = options.network() == cri::NamespaceMode::NODE;
  bool host_ipc = options.ipc() == cri::NamespaceMode::NODE;
  PinRequest pin{pod.id,    options_.pins_dir, options_.pinns_binary, !host_network,
                 !host_ipc, !host_network,     pod.hostname,          {}};
  pin.sysctls = PodSysctls(options_.default_sysctls, config.linux().sysctls(), !host_ipc,
                           !host_network);
  pin.userns = pod.userns;
  return pin;
}

// The host side of RunPod, each step pushing its undo onto `undo`. What the
// record already names needs no update; the infra's identity, known only once
// it runs, is stored at once.
absl::Status SandboxManager::MakeParts(SandboxRecord& pod, const cri::PodSandboxConfig& config,
                                       UndoStack& undo) {
  ASSIGN_OR_RETURN(pod.namespaces, host_.Pin(PinRequestFor(pod, config)));
  undo.Push([&] { host_.Unpin(pod.namespaces).IgnoreError(); });
  CrashPoint("run_pod.pinned");

  if (!pod.namespaces.net.empty()) {
    // SetUp undoes its own partial work when a plugin fails.
    ASSIGN_OR_RETURN(PodNetworkResult network, network_.SetUp(NetworkRequestFor(pod, config)));
    pod.ips = network.ips;
    undo.Push([&] { network_.TearDown(NetworkRequestFor(pod, config)).IgnoreError(); });
    CrashPoint("run_pod.network_added");
  }

  RETURN_IF_ERROR(MakeDirs(pod.files_dir, 0755));
  undo.Push([&] { RemoveAll(pod.files_dir).IgnoreError(); });
  const cri::DNSConfig& dns = config.dns_config();
  RETURN_IF_ERROR(host_.WriteFiles(pod.files_dir, pod.hostname, Strings(dns.servers()),
                                   Strings(dns.searches()), Strings(dns.options())));
  CrashPoint("run_pod.files_written");
  if (!pod.shm_path.empty()) {
    RETURN_IF_ERROR(MakeDirs(pod.shm_path, 0755));
    RETURN_IF_ERROR(host_.MountShm(pod.shm_path, pod.selinux_mount_label));
    undo.Push([&] { host_.UnmountShm(pod.shm_path).IgnoreError(); });
    CrashPoint("run_pod.shm_mounted");
  }
  if (pod.userns) {
    RETURN_IF_ERROR(GiveFilesToUserNamespace(pod));
    CrashPoint("run_pod.files_given_to_userns");
  }
  // Runs after the infra is stopped: what its placement left.
  undo.Push([&] { RemoveCgroupsOf(pod).IgnoreError(); });
  if (config.linux().security_context().namespace_options().pid() == cri::NamespaceMode::POD) {
    ASSIGN_OR_RETURN(std::string pod_cgroup, PodCgroupPath(pod.cgroup_parent, pod.id));
    ASSIGN_OR_RETURN(ProcessIdentity infra,
                     host_.StartInfra(pod.namespaces, InfraCgroupPath(pod_cgroup, pod.id),
                                      pod.selinux_process_label));
    pod.infra_pid = infra.pid;
    pod.infra_start_time = infra.start_time;
    undo.Push([&] { host_.StopInfra(pod.Infra()); });
    RETURN_IF_ERROR(records_
                        .Update(pod.id,
                                [&](SandboxRecord& r) {
                                  r.infra_pid = infra.pid;
                                  r.infra_start_time = infra.start_time;
                                })
                        .status());
    CrashPoint("run_pod.infra_started");
  }
  return absl::OkStatus();
}

// Root of the pod's user namespace owns the pod's files and /dev/shm, as
// they were the host root's: inside, host ids outside the mappings are
// nobody. Removed with the files dir (or unmounted) by the undo already
// pushed.
absl::Status SandboxManager::GiveFilesToUserNamespace(const SandboxRecord& pod) {
  std::optional<uint32_t> uid = HostIdOf(pod.userns->uids, 0);
  std::optional<uint32_t> gid = HostIdOf(pod.userns->gids, 0);
  if (!uid || !gid) return absl::OkStatus();  // no root inside: root's files stay nobody's
  std::vector<std::string> paths = {pod.files_dir, pod.files_dir + "/resolv.conf",
                                    pod.files_dir + "/hosts", pod.files_dir + "/hostname"};
  if (!pod.shm_path.empty()) paths.push_back(pod.shm_path);
  return host_.Chown(paths, *uid, *gid);
}

absl::StatusOr<SandboxRecord> SandboxManager::Get(const std::string& id) const {
  if (id.empty()) return absl::InvalidArgumentError("pod_sandbox_id is empty");
  std::optional<SandboxRecord> pod = records_.Get(id);
  // One still being made is not there yet (kubelet has no ID for it).
  if (!pod.has_value() || pod->creating) {
    return absl::NotFoundError(absl::StrCat("pod sandbox ", id, " not found"));
  }
  return *pod;
}

absl::StatusOr<PodView> SandboxManager::Status(const std::string& id) const {
  ASSIGN_OR_RETURN(SandboxRecord pod, Get(id));
  ASSIGN_OR_RETURN(cri::PodSandboxConfig config, StoredPodConfig(pod));
  return PodView{std::move(pod), std::move(config)};
}

void SandboxManager::ForEach(const std::function<void(const SandboxRecord&)>& visit) const {
  records_.ForEach([&](const SandboxRecord& pod) {
    if (!pod.creating) visit(pod);
  });
}

absl::Status SandboxManager::StopPod(const std::string& id) {
  ASSIGN_OR_RETURN(SandboxRecord found, Get(id));
  KeyedMutex::Lock lock = LockPod(found.id);
  std::optional<SandboxRecord> pod = records_.Get(found.id);  // as of now we hold it
  if (!pod) return absl::NotFoundError(absl::StrCat("pod sandbox ", id, " not found"));
  return StopLocked(*pod);
}

absl::Status SandboxManager::StopLocked(const SandboxRecord& pod) {
  // The network goes with the pod's stop (kubelet's contract): DEL while
  // the netns still exists, then drop the pins, so nothing of the network
  // outlives a stopped pod. Both are idempotent. DEL needs the pod's ports
  // and names: a config that does not parse stops the stop before anything
  // is torn down, rather than DEL with an empty config.
  bool tear_down_network = !pod.stopped && !pod.namespaces.net.empty();
  cri::PodSandboxConfig config;
  if (tear_down_network) {
    ASSIGN_OR_RETURN(config, StoredPodConfig(pod));
  }
  if (containers_ != nullptr) RETURN_IF_ERROR(containers_->StopAllOf(pod.id));
  CrashPoint("stop_pod.containers_stopped");
  if (pod.infra_pid > 0) host_.StopInfra(pod.Infra());
  CrashPoint("stop_pod.infra_stopped");
  if (!pod.shm_path.empty()) RETURN_IF_ERROR(host_.UnmountShm(pod.shm_path));
  CrashPoint("stop_pod.shm_unmounted");
  if (tear_down_network) RETURN_IF_ERROR(network_.TearDown(NetworkRequestFor(pod, config)));
  CrashPoint("stop_pod.network_removed");
  RETURN_IF_ERROR(host_.Unpin(pod.namespaces));
  CrashPoint("stop_pod.unpinned");
  // RemovePod's stop of a pod StopPod stopped changes nothing: no rewrite
  // (a durable write, fsyncs of file and dir) of the same record.
  if (!pod.ready && pod.stopped && pod.infra_pid == 0 && pod.infra_start_time == 0) {
    CrashPoint("stop_pod.recorded");
    return absl::OkStatus();
  }
  bool was_ready = false;
  RETURN_IF_ERROR(records_
                      .Update(pod.id,
                              [&](SandboxRecord& r) {
                                was_ready = r.ready;
                                r.ready = false;
                                r.stopped = true;
                                r.infra_pid = 0;
                                r.infra_start_time = 0;
                              })
                      .status());
  CrashPoint("stop_pod.recorded");
  if (was_ready) Emit(pod.id, LifecycleEventType::kStopped);
  return absl::OkStatus();
}

namespace {

absl::Status NotNegative(const runtime::v1::LinuxContainerResources& r, const std::string& prefix) {
  const std::pair<const char*, int64_t> fields[] = {
      {"cpu_shares", r.cpu_shares()},
      {"cpu_quota", r.cpu_quota()},
      {"cpu_period", r.cpu_period()},
      {"memory_limit_in_bytes", r.memory_limit_in_bytes()},
  };
  for (const auto& [name, value] : fields) {
    if (value < 0) return absl::InvalidArgumentError(absl::StrCat(prefix, name, ": negative"));
  }
  return absl::OkStatus();
}

// The pod cgroup's limits: what its containers get plus the pod's overhead.
CgroupLimits PodLimits(const runtime::v1::LinuxContainerResources& overhead,
                       const runtime::v1::LinuxContainerResources& resources) {
  CgroupLimits limits;
  if (resources.cpu_shares() + overhead.cpu_shares() > 0) {
    limits.cpu_shares = static_cast<uint64_t>(resources.cpu_shares() + overhead.cpu_shares());
  }
  if (resources.cpu_quota() > 0) limits.cpu_quota = resources.cpu_quota() + overhead.cpu_quota();
  int64_t period = resources.cpu_period() > 0 ? resources.cpu_period() : overhead.cpu_period();
  if (period > 0) limits.cpu_period = static_cast<uint64_t>(period);
  if (resources.memory_limit_in_bytes() > 0) {
    limits.memory_limit = resources.memory_limit_in_bytes() + overhead.memory_limit_in_bytes();
  }
  return limits;
}

}  // namespace

absl::Status SandboxManager::UpdateResources(
    const std::string& id, const runtime::v1::LinuxContainerResources& overhead,
    const runtime::v1::LinuxContainerResources& resources) {
  RETURN_IF_ERROR(NotNegative(overhead, "overhead."));
  RETURN_IF_ERROR(NotNegative(resources, "resources."));
  ASSIGN_OR_RETURN(SandboxRecord found, Get(id));
  KeyedMutex::Lock lock = LockPod(found.id);
  ASSIGN_OR_RETURN(SandboxRecord pod, Get(found.id));  // stopped or removed meanwhile?
  if (!pod.ready) {
    return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", pod.id, " is not ready"));
  }
  CgroupLimits limits = PodLimits(overhead, resources);
  if (!limits.cpu_shares && !limits.cpu_quota && !limits.cpu_period && !limits.memory_limit) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::string pod_cgroup, PodCgroupPath(pod.cgroup_parent, pod.id));
  return host_.SetPodLimits(pod_cgroup, limits);
}

absl::Status SandboxManager::RemoveCgroupsOf(const SandboxRecord& pod) {
  absl::StatusOr<std::string> pod_cgroup = PodCgroupPath(pod.cgroup_parent, pod.id);
  if (!pod_cgroup.ok()) return absl::OkStatus();  // a parent RunPod refused: nothing made
  return host_.RemoveCgroups(InfraCgroupPath(*pod_cgroup, pod.id),
                             PodCgroupIsOurs(pod.cgroup_parent) ? *pod_cgroup : "");
}

absl::Status SandboxManager::RemovePod(const std::string& id) {
  absl::StatusOr<SandboxRecord> found = Get(id);
  if (absl::IsNotFound(found.status())) return absl::OkStatus();  // already gone
  RETURN_IF_ERROR(found.status());
  KeyedMutex::Lock lock = LockPod(found->id);
  std::optional<SandboxRecord> pod = records_.Get(found->id);
  if (!pod) return absl::OkStatus();  // removed while we waited
  if (!pod->removing) RETURN_IF_ERROR(records_.MarkRemoving(pod->id));
  RETURN_IF_ERROR(StopLocked(*pod));
  CrashPoint("remove_pod.stopped");
  if (containers_ != nullptr) RETURN_IF_ERROR(containers_->RemoveAllOf(pod->id));
  CrashPoint("remove_pod.containers_removed");
  RETURN_IF_ERROR(RemoveCgroupsOf(*pod));
  CrashPoint("remove_pod.cgroups_removed");
  RETURN_IF_ERROR(RemoveAll(pod->files_dir));
  CrashPoint("remove_pod.files_removed");
  RETURN_IF_ERROR(records_.Remove(pod->id));
  names_.Release(pod->ReservedName());
  if (options_.selinux != nullptr) options_.selinux->ReleasePod(SelinuxLabelsOf(*pod));
  Emit(pod->id, LifecycleEventType::kDeleted);
  return absl::OkStatus();
}

void SandboxManager::Emit(const std::string& pod_id, LifecycleEventType type) {
  if (options_.events != nullptr) options_.events->Publish({pod_id, pod_id, type, 0});
}

}  // namespace ocid
