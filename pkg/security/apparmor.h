// AppArmor for containers: what a container's security context asks for
// (CRI `apparmor`, or the deprecated `apparmor_profile` strings) and the
// profile name the spec's process.apparmorProfile gets. Localhost names a
// profile already loaded on the host. On a host without AppArmor (this CI
// machine) RuntimeDefault runs unconfined, as containerd and cri-o do, and
// Localhost is an error. On an AppArmor host RuntimeDefault uses the
// profile ocid.runtime.apparmor_profile names, which must be loaded (ocid
// loads none itself); with none named it runs unconfined, with one warning.
#ifndef OCID_PKG_SECURITY_APPARMOR_H_
#define OCID_PKG_SECURITY_APPARMOR_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "api/runtime/v1/api.pb.h"

namespace ocid {

// Where the host says whether AppArmor is on, and which profiles it has.
struct AppArmorHost {
  std::string enabled_file = "/sys/module/apparmor/parameters/enabled";
  std::string profiles_file = "/sys/kernel/security/apparmor/profiles";
  // ocid.runtime.apparmor_profile: the loaded profile RuntimeDefault runs
  // under; "" for none.
  std::string runtime_default;
};

// The profile to run the container under, or nullopt for none. A
// privileged container gets none unless it names a Localhost profile.
absl::StatusOr<std::optional<std::string>> AppArmorProfileFor(
    const runtime::v1::LinuxContainerSecurityContext& security_context,
    const AppArmorHost& host = AppArmorHost());

}  // namespace ocid

#endif  // OCID_PKG_SECURITY_APPARMOR_H_
