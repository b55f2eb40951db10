// The check a pull runs before it stores anything: the policy's
// requirements for the image, with its signatures from registries.d.
#ifndef OCID_PKG_TRUST_IMAGE_TRUST_H_
#define OCID_PKG_TRUST_IMAGE_TRUST_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/image/reference.h"
#include "pkg/trust/policy.h"
#include "pkg/trust/registries_d.h"

namespace ocid {

// What every refusal's message begins with (cri-o's and kubelet's word).
inline constexpr char kSignatureValidationFailed[] = "SignatureValidationFailed: ";

class ImageTrust {
 public:
  // `policy_file` only labels messages.
  ImageTrust(Policy policy, RegistriesD registries_d, std::string policy_file);

  // Loads `policy_file` and the registries.d dir. A missing policy at the
  // default path (kDefaultPolicyFile) accepts every image, as ocid did
  // before it read policies (cri-o fails every pull then); a missing file
  // anywhere else, or any malformed file, is an error naming it.
  static absl::StatusOr<std::unique_ptr<ImageTrust>> Load(const std::string& policy_file,
                                                          const std::string& registries_dir);

  // OK when `image` (the reference pulled, before registries.conf rewrites
  // it to a mirror or location), whose image manifest has `manifest_digest`,
  // meets every requirement of its policy scope. Otherwise
  // FailedPrecondition "SignatureValidationFailed: image I (policy P,
  // scope S): why" (rejected, no signature, wrong key, identity or digest
  // mismatch, a bad signature, sigstoreSigned not supported yet).
  absl::Status Check(const ImageReference& image, const std::string& manifest_digest) const;

  const std::string& policy_file() const { return policy_file_; }

  // The same trust with `policy` (read from `policy_file`) in place of this
  // one's: the same registries.d and everything else.
  std::unique_ptr<ImageTrust> WithPolicy(Policy policy, std::string policy_file) const;

 private:
  absl::Status CheckSignedBy(const PolicyRequirement& requirement, const ImageReference& image,
                             const std::string& manifest_digest) const;

  const Policy policy_;
  const RegistriesD registries_d_;
  const std::string policy_file_;
};

}  // namespace ocid

#endif  // OCID_PKG_TRUST_IMAGE_TRUST_H_
