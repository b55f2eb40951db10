// seccomp for containers: what a container's security context asks for
// (CRI SecurityProfile, or the deprecated seccomp_profile_path strings),
// our built-in RuntimeDefault profile (default_seccomp.json, data), and
// Localhost profiles in the OCI or Docker form, each converted to the OCI
// spec's linux.seccomp for the container's capabilities and checked with
// libseccomp (names, actions, architectures, operators). Built without
// libseccomp (--config=noseccomp), any profile but Unconfined is an error.
#ifndef OCID_PKG_SECURITY_SECCOMP_H_
#define OCID_PKG_SECURITY_SECCOMP_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "api/runtime/v1/api.pb.h"
#include "nlohmann/json.hpp"

namespace ocid {

struct SeccompRequest {
  enum class Kind { kUnconfined, kRuntimeDefault, kLocalhost };
  Kind kind = Kind::kUnconfined;
  std::string localhost_path;  // kLocalhost: an absolute path
};

// The request of a container's security context: `seccomp` when set (an
// empty SecurityProfile is RuntimeDefault), else the deprecated
// `seccomp_profile_path` ("runtime/default", "docker/default",
// "localhost/PATH", "unconfined"); neither is Unconfined, as kubelet means.
// Errors name the field.
absl::StatusOr<SeccompRequest> SeccompRequestOf(
    const runtime::v1::LinuxContainerSecurityContext& security_context);

// Whether this build links libseccomp.
bool SeccompBuiltIn();

// Converts a profile in the OCI or Docker form (`text`, from `source`, which
// errors name) into OCI linux.seccomp for a container holding
// `capabilities` ("CAP_SYS_ADMIN", ...): entries whose includes/excludes
// (caps, arches, minKernel) do not hold here are left out, archMap becomes
// the native architecture and its sub-architectures.
absl::StatusOr<nlohmann::json> ConvertSeccompProfile(absl::string_view text,
                                                     const std::string& source,
                                                     const std::vector<std::string>& capabilities);

// Profiles for containers, each built once per distinct input (the file's
// identity and mtime, and the capability set) and kept.
class SeccompProfiles {
 public:
  // `runtime_default_path`: the profile RuntimeDefault uses (config key
  // seccomp_profile); "" is the built-in one.
  explicit SeccompProfiles(std::string runtime_default_path = "")
      : runtime_default_path_(std::move(runtime_default_path)) {}

  // The linux.seccomp of a container, or nullopt for none (Unconfined).
  absl::StatusOr<std::optional<nlohmann::json>> ForContainer(
      const SeccompRequest& request, const std::vector<std::string>& capabilities);

  size_t cached() const;

 private:
  absl::StatusOr<nlohmann::json> Build(const std::string& path,
                                       const std::vector<std::string>& capabilities);

  const std::string runtime_default_path_;
  mutable absl::Mutex mu_;
  std::map<std::string, nlohmann::json> cache_ ABSL_GUARDED_BY(mu_);
};

// The built-in RuntimeDefault profile, as written (Docker form).
absl::string_view DefaultSeccompProfileText();

}  // namespace ocid

#endif  // OCID_PKG_SECURITY_SECCOMP_H_
