// The real SandboxHost (ocid-pinns, ocid-infra, tmpfs mounts) and the real
// PodNetwork (CniManager).
#ifndef OCID_PKG_SANDBOX_LINUX_SANDBOX_HOST_H_
#define OCID_PKG_SANDBOX_LINUX_SANDBOX_HOST_H_

#include <optional>
#include <string>

#include "pkg/cgroups/cgroups.h"
#include "pkg/network/cni.h"
#include "pkg/sandbox/sandbox_host.h"

namespace ocid {

class LinuxSandboxHost final : public SandboxHost {
 public:
  // `infra_binary`: absolute path of ocid-infra. Without `cgroups` (which
  // must outlive the host) the infra stays in ocid's cgroups.
  explicit LinuxSandboxHost(std::string infra_binary, const Cgroups* cgroups = nullptr)
      : infra_binary_(std::move(infra_binary)), cgroups_(cgroups) {}

  absl::StatusOr<PinnedNamespaces> Pin(const PinRequest& request) override;
  absl::Status Unpin(const PinnedNamespaces& pinned) override;
  bool Pinned(const PinnedNamespaces& pinned) override;
  absl::Status WriteFiles(const std::string& dir, const std::string& hostname,
                          const std::vector<std::string>& dns_servers,
                          const std::vector<std::string>& dns_searches,
                          const std::vector<std::string>& dns_options) override;
  absl::Status MountShm(const std::string& path, const std::string& mount_label) override;
  absl::Status UnmountShm(const std::string& path) override;
  absl::Status Chown(const std::vector<std::string>& paths, uint32_t uid, uint32_t gid) override;
  absl::StatusOr<ProcessIdentity> StartInfra(const PinnedNamespaces& pinned,
                                             const std::string& infra_cgroup,
                                             const std::string& process_label) override;
  absl::Status RemoveCgroups(const std::string& infra_cgroup,
                             const std::string& own_pod_cgroup) override;
  absl::Status SetPodLimits(const std::string& pod_cgroup, const CgroupLimits& limits) override;
  void StopInfra(const ProcessIdentity& infra) override;
  bool InfraAlive(const ProcessIdentity& infra) override;
  absl::Status KillHelpersOf(const std::string& pod_id) override;

 private:
  // `infra` as the process running now, if it still is that process.
  std::optional<ProcessIdentity> Current(const ProcessIdentity& infra) const;

  const std::string infra_binary_;
  const Cgroups* const cgroups_;
};

class CniPodNetwork final : public PodNetwork {
 public:
  explicit CniPodNetwork(CniManager& cni) : cni_(cni) {}
  absl::StatusOr<PodNetworkResult> SetUp(const PodNetworkRequest& request) override {
    return cni_.SetUp(request);
  }
  absl::Status TearDown(const PodNetworkRequest& request) override {
    return cni_.TearDown(request);
  }

 private:
  CniManager& cni_;
};

}  // namespace ocid

#endif  // OCID_PKG_SANDBOX_LINUX_SANDBOX_HOST_H_
