#include "pkg/sandbox/linux_sandbox_host.h"

#include <signal.h>

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

absl::StatusOr<pid_t> LinuxSandboxHost::StartInfra(const PinnedNamespaces& pinned,
                                                   const std::string& cgroup_parent) {
  return StartInfraProcess(infra_binary_, pinned, cgroup_parent);
}

void LinuxSandboxHost::StopInfra(pid_t pid) {
  if (pid > 0) ::kill(pid, SIGKILL);
}

}  // namespace ocid
