#include "pkg/trust/trust_policies.h"

#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/status_macros.h"
#include "pkg/trust/policy.h"

namespace ocid {

bool IsNamespaceName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > 63) return false;
    for (char c : label) {
      if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') return false;
    }
    if (label.front() == '-' || label.back() == '-') return false;
  }
  return true;
}

TrustPolicies::TrustPolicies(std::shared_ptr<const ImageTrust> global, std::string namespace_dir)
    : global_(std::move(global)), namespace_dir_(std::move(namespace_dir)) {}

absl::StatusOr<std::shared_ptr<const TrustPolicies>> TrustPolicies::Load(
    const std::string& policy_file, const std::string& registries_dir,
    const std::string& namespace_dir) {
  return LoadText(policy_file, ImageTrust::ReadPolicyText(policy_file), registries_dir,
                  namespace_dir);
}

absl::StatusOr<std::shared_ptr<const TrustPolicies>> TrustPolicies::LoadText(
    const std::string& policy_file, const absl::StatusOr<std::string>& policy_text,
    const std::string& registries_dir, const std::string& namespace_dir) {
  ASSIGN_OR_RETURN(std::shared_ptr<const ImageTrust> global,
                   ImageTrust::LoadText(policy_file, policy_text, registries_dir));
  return std::make_shared<const TrustPolicies>(std::move(global), namespace_dir);
}

absl::StatusOr<std::shared_ptr<const ImageTrust>> TrustPolicies::For(
    const std::string& pod_namespace) const {
  if (pod_namespace.empty() || namespace_dir_.empty()) return global_;
  if (!IsNamespaceName(pod_namespace)) {
    return absl::InvalidArgumentError(absl::StrCat("pod namespace \"",
                                                   absl::CHexEscape(pod_namespace),
                                                   "\" is not a Kubernetes namespace name"));
  }
  std::string file = absl::StrCat(namespace_dir_, "/", pod_namespace, ".json");
  // Only the file's own absence means "no namespace policy"; any other
  // failure (a key file it names missing too) must not fall back to the
  // global policy, which may be more lenient.
  struct stat st;
  if (::stat(file.c_str(), &st) != 0 && errno == ENOENT) return global_;
  absl::StatusOr<Policy> policy = LoadPolicyFile(file);
  if (!policy.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the trust policy of namespace ", pod_namespace, ": ", policy.status().message()));
  }
  return std::shared_ptr<const ImageTrust>(global_->WithPolicy(std::move(*policy), file));
}

}  // namespace ocid
