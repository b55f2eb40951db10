#include "pkg/trust/image_trust.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "pkg/image/registry_client.h"
#include "pkg/trust/simple_signing.h"

namespace ocid {

ImageTrust::ImageTrust(Policy policy, RegistriesD registries_d, std::string policy_file)
    : policy_(std::move(policy)),
      registries_d_(std::move(registries_d)),
      policy_file_(std::move(policy_file)) {}

absl::StatusOr<std::unique_ptr<ImageTrust>> ImageTrust::Load(const std::string& policy_file,
                                                             const std::string& registries_dir) {
  absl::StatusOr<Policy> policy = LoadPolicyFile(policy_file);
  if (absl::IsNotFound(policy.status()) && policy_file == kDefaultPolicyFile) {
    OCID_LOG(kWarn) << "no " << policy_file << ": every image is accepted without a signature";
    policy = AcceptAnythingPolicy();
  }
  if (!policy.ok()) return policy.status();
  ASSIGN_OR_RETURN(RegistriesD registries_d, LoadRegistriesD(registries_dir));
  return std::make_unique<ImageTrust>(std::move(*policy), std::move(registries_d), policy_file);
}

std::unique_ptr<ImageTrust> ImageTrust::WithPolicy(Policy policy, std::string policy_file) const {
  return std::make_unique<ImageTrust>(std::move(policy), registries_d_, std::move(policy_file));
}

absl::Status ImageTrust::Check(const ImageReference& image,
                               const std::string& manifest_digest) const {
  absl::StatusOr<ScopedRequirements> scoped = policy_.RequirementsFor("docker", image);
  std::string scope = scoped.ok() ? scoped->scope : "none";
  auto failed = [&](absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(kSignatureValidationFailed, "image ",
                                                      image.String(), " (policy ", policy_file_,
                                                      ", scope ", scope, "): ", why));
  };
  if (!scoped.ok()) return failed(scoped.status().message());
  for (const PolicyRequirement& requirement : *scoped->requirements) {
    switch (requirement.type) {
      case PolicyRequirement::Type::kInsecureAcceptAnything:
        break;
      case PolicyRequirement::Type::kReject:
        return failed("the policy rejects it (reject)");
      case PolicyRequirement::Type::kSigstoreSigned:
        return failed("sigstoreSigned requirements are not supported yet");
      case PolicyRequirement::Type::kSignedBy: {
        absl::Status signed_by = CheckSignedBy(requirement, image, manifest_digest);
        if (!signed_by.ok()) return failed(signed_by.message());
        break;
      }
    }
  }
  return absl::OkStatus();
}

// Accepted when any one of the image's signatures passes.
absl::Status ImageTrust::CheckSignedBy(const PolicyRequirement& requirement,
                                       const ImageReference& image,
                                       const std::string& manifest_digest) const {
  ASSIGN_OR_RETURN(std::vector<std::string> signatures,
                   ReadLookasideSignatures(registries_d_, image, manifest_digest,
                                           [](const std::string& url, size_t max_bytes) {
                                             return FetchUrl(url, max_bytes);
                                           }));
  if (signatures.empty()) {
    std::string lookaside = registries_d_.LookasideFor(image);
    return absl::FailedPreconditionError(
        lookaside.empty()
            ? std::string("a signature is required (signedBy) but registries.d names no lookaside "
                          "for it")
            : absl::StrCat("a signature is required (signedBy) but ", lookaside, " has none for ",
                           manifest_digest));
  }
  absl::StatusOr<GpgKeyring> keyring = GpgKeyring::Create(requirement.keys);
  if (!keyring.ok()) {
    return absl::Status(keyring.status().code(),
                        absl::StrCat("the policy's keys (", requirement.keys_source,
                                     "): ", keyring.status().message()));
  }
  std::vector<std::string> reasons;
  for (size_t i = 0; i < signatures.size(); ++i) {
    absl::Status checked =
        CheckSimpleSignature(*keyring, requirement, image, manifest_digest, signatures[i]);
    if (checked.ok()) return absl::OkStatus();
    reasons.push_back(absl::StrCat("signature-", i + 1, ": ", checked.message()));
  }
  return absl::FailedPreconditionError(absl::StrCat("no signature is accepted (keys from ",
                                                    requirement.keys_source,
                                                    "): ", absl::StrJoin(reasons, "; ")));
}

}  // namespace ocid
