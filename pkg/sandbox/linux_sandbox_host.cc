#include "pkg/sandbox/linux_sandbox_host.h"

#include <signal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"

namespace ocid {

absl::StatusOr<PinnedNamespaces> LinuxSandboxHost::Pin(const PinRequest& request) {
  return PinNamespaces(request);
}

absl::Status LinuxSandboxHost::Unpin(const PinnedNamespaces& pinned) {
  return UnpinNamespaces(pinned);
}

absl::Status LinuxSandboxHost::WriteFiles(const std::string& dir, const std::string& hostname,
                                          const std::vector<std::string>& dns_servers,
                                          const std::vector<std::string>& dns_searches,
                                          const std::vector<std::string>& dns_options) {
  return WritePodFiles(dir, hostname, dns_servers, dns_searches, dns_options).status();
}

absl::Status LinuxSandboxHost::MountShm(const std::string& path) {
  return ::ocid::MountShm(path, 0);
}

absl::Status LinuxSandboxHost::UnmountShm(const std::string& path) {
  return ::ocid::UnmountShm(path);
}

absl::StatusOr<ProcessIdentity> LinuxSandboxHost::StartInfra(const PinnedNamespaces& pinned,
                                                             const std::string& cgroup_parent) {
  ASSIGN_OR_RETURN(pid_t pid, StartInfraProcess(infra_binary_, pinned, cgroup_parent));
  // The infra is our child (ocid is its subreaper) and unreaped, so the pid
  // cannot have been reused yet.
  absl::StatusOr<ProcessIdentity> infra = IdentifyProcess(pid);
  if (!infra.ok()) {
    return absl::InternalError(absl::StrCat("infra process ", pid, " is gone after its start"));
  }
  return *infra;
}

void LinuxSandboxHost::StopInfra(const ProcessIdentity& infra) {
  if (infra.pid <= 0) return;
  ProcessIdentity target = infra;
  if (target.start_time == 0) {
    // A record from before identities were kept: trust the pid only while
    // it still runs our infra binary.
    absl::StatusOr<ProcStat> stat = ReadProcStat(target.pid);
    // The kernel keeps the first 15 bytes of the binary's name as comm.
    std::string comm = infra_binary_.substr(infra_binary_.rfind('/') + 1).substr(0, 15);
    if (!stat.ok() || stat->comm != comm) return;
    target.start_time = stat->start_time;
  }
  SignalIfSame(target, SIGKILL).IgnoreError();  // NotFound: already gone
}

}  // namespace ocid
