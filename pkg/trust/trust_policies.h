// The trust policies in effect: the global policy.json, and per Kubernetes
// namespace the files of signature_policy_dir (cri-o's key): a pod of
// namespace N is held to <dir>/N.json when that file exists.
#ifndef OCID_PKG_TRUST_TRUST_POLICIES_H_
#define OCID_PKG_TRUST_TRUST_POLICIES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/trust/image_trust.h"

namespace ocid {

class TrustPolicies {
 public:
  // `global` must not be null; `namespace_dir` "" has no per-namespace
  // policies.
  TrustPolicies(std::shared_ptr<const ImageTrust> global, std::string namespace_dir);

  // ImageTrust::Load of the global policy and registries.d, with
  // `namespace_dir`'s policies (read when asked for, see For).
  static absl::StatusOr<std::shared_ptr<const TrustPolicies>> Load(
      const std::string& policy_file, const std::string& registries_dir,
      const std::string& namespace_dir);
  // Load with the global policy's text already read (ImageTrust::LoadText).
  static absl::StatusOr<std::shared_ptr<const TrustPolicies>> LoadText(
      const std::string& policy_file, const absl::StatusOr<std::string>& policy_text,
      const std::string& registries_dir, const std::string& namespace_dir);

  // The trust a pod of `pod_namespace` is held to: <dir>/<namespace>.json
  // when it exists (read now, so that a new or changed file applies to the
  // next pull without a reload, as in cri-o), else the global policy;
  // "" (no pod, e.g. crictl pull) is the global one. A namespace that is
  // not a Kubernetes name (IsNamespaceName: what could make the path leave
  // the dir, like "../x", is never one) is InvalidArgument; a namespace file
  // that does not load is FailedPrecondition naming it.
  absl::StatusOr<std::shared_ptr<const ImageTrust>> For(const std::string& pod_namespace) const;

  const ImageTrust& global() const { return *global_; }
  const std::string& namespace_dir() const { return namespace_dir_; }

 private:
  const std::shared_ptr<const ImageTrust> global_;
  const std::string namespace_dir_;
};

// True for a Kubernetes object name (a DNS-1123 subdomain, which namespace
// names, DNS-1123 labels, all are; cri-o's test pods use
// "redhat.test.crio"): dot-separated labels of 1 to 63 of [a-z0-9-], each
// starting and ending with a letter or digit, 253 at most. None has a '/'
// or is "." or "..".
bool IsNamespaceName(absl::string_view name);

}  // namespace ocid

#endif  // OCID_PKG_TRUST_TRUST_POLICIES_H_
