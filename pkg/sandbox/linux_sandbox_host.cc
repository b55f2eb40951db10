#include "pkg/sandbox/linux_sandbox_host.h"

#include <errno.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/cgroups/paths.h"

namespace ocid {

absl::StatusOr<PinnedNamespaces> LinuxSandboxHost::Pin(const PinRequest& request) {
  return PinNamespaces(request);
}

absl::Status LinuxSandboxHost::Unpin(const PinnedNamespaces& pinned) {
  return UnpinNamespaces(pinned);
}

// A pin is a bind mount of an nsfs inode; a plain file left in its place
// (the mount is gone) is no pin.
bool LinuxSandboxHost::Pinned(const PinnedNamespaces& pinned) {
  for (const std::string* path : {&pinned.net, &pinned.ipc, &pinned.uts, &pinned.user}) {
    struct statfs fs;
    if (path->empty()) continue;
    if (::statfs(path->c_str(), &fs) != 0 || fs.f_type != NSFS_MAGIC) return false;
  }
  return true;
}

absl::Status LinuxSandboxHost::WriteFiles(const std::string& dir, const std::string& hostname,
                                          const std::vector<std::string>& dns_servers,
                                          const std::vector<std::string>& dns_searches,
                                          const std::vector<std::string>& dns_options) {
  return WritePodFiles(dir, hostname, dns_servers, dns_searches, dns_options).status();
}

absl::Status LinuxSandboxHost::MountShm(const std::string& path, const std::string& mount_label) {
  return ::ocid::MountShm(path, 0, mount_label);
}

absl::Status LinuxSandboxHost::UnmountShm(const std::string& path) {
  return ::ocid::UnmountShm(path);
}

absl::Status LinuxSandboxHost::Chown(const std::vector<std::string>& paths, uint32_t uid,
                                     uint32_t gid) {
  for (const std::string& path : paths) {
    if (::lchown(path.c_str(), uid, gid) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("chown ", path, " to ", uid, ":", gid));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ProcessIdentity> LinuxSandboxHost::StartInfra(const PinnedNamespaces& pinned,
                                                             const std::string& infra_cgroup,
                                                             const std::string& process_label) {
  ASSIGN_OR_RETURN(pid_t pid, StartInfraProcess(infra_binary_, pinned, process_label));
  // The infra is our child (ocid is its subreaper) and unreaped, so the pid
  // cannot have been reused yet.
  absl::StatusOr<ProcessIdentity> infra = IdentifyProcess(pid);
  if (!infra.ok()) {
    return absl::InternalError(absl::StrCat("infra process ", pid, " is gone after its start"));
  }
  // It forks nothing: moving it after its start leaves nothing behind.
  if (cgroups_ != nullptr) {
    absl::Status joined = cgroups_->Join(infra_cgroup, pid);
    if (!joined.ok()) {
      StopInfra(*infra);
      return joined;
    }
  }
  return *infra;
}

absl::Status LinuxSandboxHost::SetPodLimits(const std::string& pod_cgroup,
                                            const CgroupLimits& limits) {
  if (cgroups_ == nullptr) {
    return absl::FailedPreconditionError("ocid was started without cgroups");
  }
  return cgroups_->SetLimits(pod_cgroup, limits);
}

absl::Status LinuxSandboxHost::RemoveCgroups(const std::string& infra_cgroup,
                                             const std::string& own_pod_cgroup) {
  if (cgroups_ == nullptr) return absl::OkStatus();
  // The infra was just killed: give it a moment to leave.
  constexpr absl::Duration kPatience = absl::Seconds(2);
  RETURN_IF_ERROR(cgroups_->Remove(infra_cgroup, kPatience));
  if (own_pod_cgroup.empty()) return absl::OkStatus();
  for (const std::string& dir : cgroups_->Dirs(own_pod_cgroup)) {
    absl::StatusOr<std::vector<std::string>> children = ListDir(dir);
    if (!children.ok()) continue;  // not made in this hierarchy
    for (const std::string& child : *children) {
      struct stat st;
      std::string path = absl::StrCat(dir, "/", child);
      if (!absl::StartsWith(child, "ocid-") || ::lstat(path.c_str(), &st) != 0 ||
          !S_ISDIR(st.st_mode)) {
        continue;
      }
      RETURN_IF_ERROR(cgroups_->Remove(absl::StrCat(own_pod_cgroup, "/", child), kPatience));
    }
  }
  return cgroups_->Remove(own_pod_cgroup, kPatience);
}

// A record from before identities were kept has no start time: its pid is
// trusted only while it still runs our infra binary.
std::optional<ProcessIdentity> LinuxSandboxHost::Current(const ProcessIdentity& infra) const {
  if (infra.pid <= 0) return std::nullopt;
  absl::StatusOr<ProcStat> stat = ReadProcStat(infra.pid);
  if (!stat.ok()) return std::nullopt;
  if (infra.start_time != 0) {
    if (stat->start_time != infra.start_time) return std::nullopt;
    return infra;
  }
  // The kernel keeps the first 15 bytes of the binary's name as comm.
  std::string comm = infra_binary_.substr(infra_binary_.rfind('/') + 1).substr(0, 15);
  if (stat->comm != comm) return std::nullopt;
  return ProcessIdentity{infra.pid, stat->start_time};
}

void LinuxSandboxHost::StopInfra(const ProcessIdentity& infra) {
  std::optional<ProcessIdentity> target = Current(infra);
  // SignalIfSame checks the identity again with a pidfd, closing the race
  // with an exit and pid reuse since Current read /proc.
  if (target) SignalIfSame(*target, SIGKILL).IgnoreError();  // NotFound: gone
}

bool LinuxSandboxHost::InfraAlive(const ProcessIdentity& infra) {
  std::optional<ProcessIdentity> current = Current(infra);
  // A zombie is dead: the infra exited and its namespace is gone.
  return current && ReadProcStat(current->pid).value_or(ProcStat{}).state != 'Z';
}

// SIGKILLed processes die at once; a helper stuck in the kernel (a hung
// mount) is reported rather than waited for without end.
absl::Status LinuxSandboxHost::KillHelpersOf(const std::string& pod_id) {
  return KillProcessesNaming(pod_id, absl::Seconds(10)).status();
}

}  // namespace ocid
