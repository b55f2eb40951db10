// The check a pull runs before it stores anything: the policy's
// requirements for the image, with its GPG signatures from registries.d's
// lookaside and its sigstore signatures from the registry's attachments.
#ifndef OCID_PKG_TRUST_IMAGE_TRUST_H_
#define OCID_PKG_TRUST_IMAGE_TRUST_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pkg/image/reference.h"
#include "pkg/trust/policy.h"
#include "pkg/trust/registries_d.h"
#include "pkg/trust/sigstore_attachments.h"
#include "pkg/trust/simple_signing.h"

namespace ocid {

// What every refusal's message begins with (cri-o's and kubelet's word).
inline constexpr char kSignatureValidationFailed[] = "SignatureValidationFailed: ";

class ImageTrust {
 public:
  // `policy_file` only labels messages. signedBy checks make their GnuPG
  // homes under `keyring_dir`; they are removed with the object.
  ImageTrust(Policy policy, RegistriesD registries_d, std::string policy_file,
             std::string keyring_dir = "/tmp");

  // Loads `policy_file` and the registries.d dir. A missing policy at the
  // default path (kDefaultPolicyFile) accepts every image, as ocid did
  // before it read policies (cri-o fails every pull then); a missing file
  // anywhere else, or any malformed file, is an error naming it.
  static absl::StatusOr<std::unique_ptr<ImageTrust>> Load(const std::string& policy_file,
                                                          const std::string& registries_dir,
                                                          const std::string& keyring_dir = "/tmp");
  // Load with the policy's text already read (`text`: ReadFileToString's
  // result for `policy_file`, NotFound for a missing file), so that
  // ocid-pull checks against exactly the text ocid loaded.
  static absl::StatusOr<std::unique_ptr<ImageTrust>> LoadText(
      const std::string& policy_file, const absl::StatusOr<std::string>& text,
      const std::string& registries_dir, const std::string& keyring_dir = "/tmp");
  // Reads the policy file as Load does: its text, or NotFound.
  static absl::StatusOr<std::string> ReadPolicyText(const std::string& policy_file);

  // OK when `image` (the reference pulled, before registries.conf rewrites
  // it to a mirror or location), whose image manifest has `manifest_digest`,
  // meets every requirement of its policy scope. Otherwise
  // FailedPrecondition "SignatureValidationFailed: image I (policy P,
  // scope S): why" (rejected, no signature, wrong key, identity or digest
  // mismatch, a bad signature). sigstoreSigned requirements read the
  // image's signatures from `attachments` (the registry the manifest came
  // from) when registries.d enables use-sigstore-attachments for it; without
  // a source they are refused.
  absl::Status Check(const ImageReference& image, const std::string& manifest_digest,
                     const AttachmentSource* attachments = nullptr) const;

  const std::string& policy_file() const { return policy_file_; }

  // Whether Check of `image` verifies a signature (signedBy: gpgme and
  // lookasides; sigstoreSigned: registry attachments), rather than only
  // accepting or rejecting: what ocid leaves to ocid-pull.
  bool NeedsSignatures(const ImageReference& image) const;

  // The same trust with `policy` (read from `policy_file`) in place of this
  // one's: the same registries.d and everything else.
  std::unique_ptr<ImageTrust> WithPolicy(Policy policy, std::string policy_file) const;

 private:
  absl::Status CheckSignedBy(const PolicyRequirement& requirement, const ImageReference& image,
                             const std::string& manifest_digest) const;
  // `signatures` holds the attachments once read (shared by the
  // requirements of one check).
  absl::Status CheckSigstoreSigned(const PolicyRequirement& requirement,
                                   const ImageReference& image, const std::string& manifest_digest,
                                   const AttachmentSource* attachments,
                                   std::optional<std::vector<SigstoreSignature>>& signatures) const;

  // A keyring for `requirement` from the pool, or a new one; give it back
  // with ReturnKeyring. Making one runs gpg twice, so checks reuse them
  // (each is used by one check at a time: GpgKeyring::Verify is not
  // thread-safe, and no lock is held while gpg runs).
  absl::StatusOr<std::unique_ptr<GpgKeyring>> TakeKeyring(
      const PolicyRequirement& requirement) const;
  void ReturnKeyring(const PolicyRequirement& requirement,
                     std::unique_ptr<GpgKeyring> keyring) const;

  const Policy policy_;
  const RegistriesD registries_d_;
  const std::string policy_file_;
  const std::string keyring_dir_;
  // Idle keyrings by requirement (an element of policy_, which never changes).
  mutable absl::Mutex keyrings_mu_;
  mutable std::map<const PolicyRequirement*, std::vector<std::unique_ptr<GpgKeyring>>> keyrings_
      ABSL_GUARDED_BY(keyrings_mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_TRUST_IMAGE_TRUST_H_
