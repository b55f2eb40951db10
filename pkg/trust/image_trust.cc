#include "pkg/trust/image_trust.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "pkg/image/registry_client.h"
#include "pkg/trust/sigstore.h"
#include "pkg/trust/simple_signing.h"

namespace ocid {

ImageTrust::ImageTrust(Policy policy, RegistriesD registries_d, std::string policy_file,
                       std::string keyring_dir)
    : policy_(std::move(policy)),
      registries_d_(std::move(registries_d)),
      policy_file_(std::move(policy_file)),
      keyring_dir_(std::move(keyring_dir)) {}

absl::StatusOr<std::unique_ptr<ImageTrust>> ImageTrust::Load(const std::string& policy_file,
                                                             const std::string& registries_dir,
                                                             const std::string& keyring_dir) {
  return LoadText(policy_file, ReadPolicyText(policy_file), registries_dir, keyring_dir);
}

absl::StatusOr<std::string> ImageTrust::ReadPolicyText(const std::string& policy_file) {
  return ReadFileToString(policy_file, kMaxPolicyFileBytes);
}

absl::StatusOr<std::unique_ptr<ImageTrust>> ImageTrust::LoadText(
    const std::string& policy_file, const absl::StatusOr<std::string>& text,
    const std::string& registries_dir, const std::string& keyring_dir) {
  absl::StatusOr<Policy> policy =
      text.ok() ? ParsePolicy(*text, policy_file)
                : absl::StatusOr<Policy>(absl::Status(
                      text.status().code(),
                      absl::StrCat("read policy ", policy_file, ": ", text.status().message())));
  if (absl::IsNotFound(policy.status()) && policy_file == kDefaultPolicyFile) {
    OCID_LOG(kWarn) << "no " << policy_file << ": every image is accepted without a signature";
    policy = AcceptAnythingPolicy();
  }
  if (!policy.ok()) return policy.status();
  ASSIGN_OR_RETURN(RegistriesD registries_d, LoadRegistriesD(registries_dir));
  return std::make_unique<ImageTrust>(std::move(*policy), std::move(registries_d), policy_file,
                                      keyring_dir);
}

std::unique_ptr<ImageTrust> ImageTrust::WithPolicy(Policy policy, std::string policy_file) const {
  return std::make_unique<ImageTrust>(std::move(policy), registries_d_, std::move(policy_file),
                                      keyring_dir_);
}

bool ImageTrust::NeedsSignatures(const ImageReference& image) const {
  absl::StatusOr<ScopedRequirements> scoped = policy_.RequirementsFor("docker", image);
  if (!scoped.ok()) return false;  // refused without one
  for (const PolicyRequirement& requirement : *scoped->requirements) {
    if (requirement.type == PolicyRequirement::Type::kSignedBy ||
        requirement.type == PolicyRequirement::Type::kSigstoreSigned) {
      return true;
    }
  }
  return false;
}

absl::Status ImageTrust::Check(const ImageReference& image, const std::string& manifest_digest,
                               const AttachmentSource* attachments) const {
  absl::StatusOr<ScopedRequirements> scoped = policy_.RequirementsFor("docker", image);
  std::string scope = scoped.ok() ? scoped->scope : "none";
  auto failed = [&](absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(kSignatureValidationFailed, "image ",
                                                      image.String(), " (policy ", policy_file_,
                                                      ", scope ", scope, "): ", why));
  };
  if (!scoped.ok()) return failed(scoped.status().message());
  std::optional<std::vector<SigstoreSignature>> sigstore;
  for (const PolicyRequirement& requirement : *scoped->requirements) {
    switch (requirement.type) {
      case PolicyRequirement::Type::kInsecureAcceptAnything:
        break;
      case PolicyRequirement::Type::kReject:
        return failed("the policy rejects it (reject)");
      case PolicyRequirement::Type::kSigstoreSigned: {
        absl::Status sigstore_signed =
            CheckSigstoreSigned(requirement, image, manifest_digest, attachments, sigstore);
        if (!sigstore_signed.ok()) return failed(sigstore_signed.message());
        break;
      }
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
  ASSIGN_OR_RETURN(std::unique_ptr<GpgKeyring> keyring, TakeKeyring(requirement));
  std::vector<std::string> reasons;
  bool accepted = false;
  for (size_t i = 0; i < signatures.size() && !accepted; ++i) {
    absl::Status checked =
        CheckSimpleSignature(*keyring, requirement, image, manifest_digest, signatures[i]);
    accepted = checked.ok();
    if (!accepted) reasons.push_back(absl::StrCat("signature-", i + 1, ": ", checked.message()));
  }
  ReturnKeyring(requirement, std::move(keyring));
  if (accepted) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("no signature is accepted (keys from ",
                                                    requirement.keys_source,
                                                    "): ", absl::StrJoin(reasons, "; ")));
}

absl::StatusOr<std::unique_ptr<GpgKeyring>> ImageTrust::TakeKeyring(
    const PolicyRequirement& requirement) const {
  {
    absl::MutexLock lock(&keyrings_mu_);
    auto it = keyrings_.find(&requirement);
    if (it != keyrings_.end() && !it->second.empty()) {
      std::unique_ptr<GpgKeyring> keyring = std::move(it->second.back());
      it->second.pop_back();
      return keyring;
    }
  }
  absl::StatusOr<GpgKeyring> keyring = GpgKeyring::Create(requirement.keys, keyring_dir_);
  if (!keyring.ok()) {
    return absl::Status(keyring.status().code(),
                        absl::StrCat("the policy's keys (", requirement.keys_source,
                                     "): ", keyring.status().message()));
  }
  return std::make_unique<GpgKeyring>(std::move(*keyring));
}

void ImageTrust::ReturnKeyring(const PolicyRequirement& requirement,
                               std::unique_ptr<GpgKeyring> keyring) const {
  // As many as checks ran at once, up to a few; one more is removed (as
  // `keyring` goes, after the lock is released).
  constexpr size_t kMaxIdleKeyrings = 4;
  absl::MutexLock lock(&keyrings_mu_);
  auto& idle = keyrings_[&requirement];
  if (idle.size() < kMaxIdleKeyrings) idle.push_back(std::move(keyring));
}

// Accepted when any one of the image's attached signatures passes.
absl::Status ImageTrust::CheckSigstoreSigned(
    const PolicyRequirement& requirement, const ImageReference& image,
    const std::string& manifest_digest, const AttachmentSource* attachments,
    std::optional<std::vector<SigstoreSignature>>& signatures) const {
  if (!registries_d_.UseSigstoreAttachments(image)) {
    return absl::FailedPreconditionError(
        "a sigstore signature is required (sigstoreSigned) but registries.d does not set "
        "use-sigstore-attachments: true for it");
  }
  if (attachments == nullptr) {
    return absl::FailedPreconditionError(
        "a sigstore signature is required (sigstoreSigned) but the registry's attachments can "
        "not be read here");
  }
  if (!signatures.has_value()) {
    ASSIGN_OR_RETURN(signatures, ReadSigstoreAttachments(*attachments, manifest_digest));
  }
  if (signatures->empty()) {
    absl::StatusOr<std::string> tag = SigstoreAttachmentTag(manifest_digest);
    return absl::FailedPreconditionError(absl::StrCat(
        "a sigstore signature is required (sigstoreSigned) but the registry has none for ",
        manifest_digest, " (no tag ", tag.ok() ? *tag : "?", ")"));
  }
  ASSIGN_OR_RETURN(std::vector<SigstorePublicKey> keys, SigstoreKeys(requirement));
  std::vector<std::string> reasons;
  for (size_t i = 0; i < signatures->size(); ++i) {
    absl::Status checked =
        CheckSigstoreSignature(keys, requirement, image, manifest_digest, (*signatures)[i]);
    if (checked.ok()) return absl::OkStatus();
    reasons.push_back(absl::StrCat("sigstore signature ", i + 1, ": ", checked.message()));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no sigstore signature is accepted: ", absl::StrJoin(reasons, "; ")));
}

}  // namespace ocid
