// AppArmor for containers: what a container's security context asks for
// (CRI `apparmor`, or the deprecated `apparmor_profile` strings) and the
// profile name the spec's process.apparmorProfile gets.
//
// Localhost names a profile already loaded on the host. RuntimeDefault is
// the profile ocid.runtime.apparmor_profile names (it must be loaded), or,
// with none named, ocid's own `ocid-default` (apparmor_default.tmpl), which
// ocid loads with apparmor_parser the first time a container needs it. On a
// host without AppArmor (this CI machine), or with ocid built without
// --config=apparmor, RuntimeDefault runs unconfined, as containerd and cri-o
// do, and Localhost is an error saying which of the two is missing.
#ifndef OCID_PKG_SECURITY_APPARMOR_H_
#define OCID_PKG_SECURITY_APPARMOR_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "api/runtime/v1/api.pb.h"
#include "pkg/base/build_features.h"

namespace ocid {

// The profile ocid loads for RuntimeDefault when none is configured.
inline constexpr char kDefaultAppArmorProfile[] = "ocid-default";

// The text of ocid's default profile, named `name` (pure: the template with
// its name filled in).
std::string DefaultAppArmorProfileText(absl::string_view name = kDefaultAppArmorProfile);

struct AppArmorHost;

// Loads ocid's default profile into the kernel at most once per process
// (shared by the copies of one AppArmorHost); thread-safe, and no lock is
// held while apparmor_parser runs. A failed load is not remembered: the next
// container tries again, so an operator can fix the host without a restart.
class AppArmorDefaultLoader {
 public:
  // OK once the profile is in the host's profiles file (loaded before, by
  // us or anyone) or apparmor_parser loaded it; FailedPrecondition with the
  // parser's stderr otherwise.
  absl::Status EnsureLoaded(const AppArmorHost& host);
  // How many times apparmor_parser was run (for tests).
  int parser_runs() const;

 private:
  mutable absl::Mutex mu_;
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  int parser_runs_ ABSL_GUARDED_BY(mu_) = 0;
};

// Where the host says whether AppArmor is on, which profiles it has, and how
// ocid loads its own. Tests give fakes of every path.
struct AppArmorHost {
  std::string enabled_file = "/sys/module/apparmor/parameters/enabled";
  std::string profiles_file = "/sys/kernel/security/apparmor/profiles";
  // ocid.runtime.apparmor_profile: the loaded profile RuntimeDefault runs
  // under; "" for ocid's own kDefaultAppArmorProfile, loaded by ocid.
  std::string runtime_default;
  // Run as `parser -Kr` with the profile text on stdin.
  std::string parser = "/sbin/apparmor_parser";
  // Whether ocid was built with --config=apparmor (tests set both ways).
  bool built_in = IsBuiltWith(BuildFeature::kAppArmor);
  std::shared_ptr<AppArmorDefaultLoader> loader = std::make_shared<AppArmorDefaultLoader>();
};

// True if the kernel has AppArmor enabled: aa_is_enabled() in a build with
// libapparmor when `enabled_file` is the kernel's own, else the file's "Y".
bool AppArmorEnabled(const std::string& enabled_file);

// The profile to run the container under, or nullopt for none. A
// privileged container gets none unless it names a Localhost profile.
// InvalidArgument for a bad or unusable request; FailedPrecondition when
// ocid's default profile cannot be loaded.
absl::StatusOr<std::optional<std::string>> AppArmorProfileFor(
    const runtime::v1::LinuxContainerSecurityContext& security_context,
    const AppArmorHost& host = AppArmorHost());

}  // namespace ocid

#endif  // OCID_PKG_SECURITY_APPARMOR_H_
