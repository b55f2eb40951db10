#include "pkg/trust/image_trust.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/trust/testing/gpg_signer.h"
#include "pkg/trust/testing/sigstore_signer.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'f');

ImageReference Ref(const std::string& text) {
  absl::StatusOr<ImageReference> reference = ParseImageReference(text);
  EXPECT_TRUE(reference.ok()) << reference.status();
  return *reference;
}

class ImageTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/ocid-trust-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_.data()), nullptr);
    auto trusted = GpgSigner::Create("trusted@example.com");
    ASSERT_TRUE(trusted.ok()) << trusted.status();
    trusted_ = std::make_unique<GpgSigner>(std::move(*trusted));
    auto other = GpgSigner::Create("other@example.com");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = std::make_unique<GpgSigner>(std::move(*other));
    absl::StatusOr<std::string> key = trusted_->PublicKey(/*armored=*/true);
    ASSERT_TRUE(key.ok());
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/trusted.asc", *key).ok());
    ASSERT_TRUE(MakeDirs(dir_ + "/registries.d", 0755).ok());
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/registries.d/default.yaml",
                                    "default-docker:\n  lookaside: file://" + dir_ +
                                        "/sigs\n"
                                        "docker:\n  sigstore.io:\n    use-sigstore-attachments: "
                                        "true\n")
                    .ok());
    absl::StatusOr<SigstoreTestSigner> sigstore = SigstoreTestSigner::Generate();
    ASSERT_TRUE(sigstore.ok()) << sigstore.status();
    sigstore_ = std::make_unique<SigstoreTestSigner>(std::move(*sigstore));
    absl::StatusOr<std::string> sigstore_key = sigstore_->PublicPem();
    ASSERT_TRUE(sigstore_key.ok());
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/sigstore.pub", *sigstore_key).ok());
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/policy.json", absl::StrCat(R"({
      "default": [{"type": "insecureAcceptAnything"}],
      "transports": {"docker": {
        "blocked.io": [{"type": "reject"}],
        "signed.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": ")",
                                                                        dir_, R"(/trusted.asc"}],
        "sigstore.io": [{"type": "sigstoreSigned", "keyPath": ")",
                                                                        dir_, R"(/sigstore.pub"}],
        "noattach.io": [{"type": "sigstoreSigned", "keyPath": ")",
                                                                        dir_, R"(/sigstore.pub"}]
      }}})"))
                    .ok());
    absl::StatusOr<std::unique_ptr<ImageTrust>> trust =
        ImageTrust::Load(dir_ + "/policy.json", dir_ + "/registries.d");
    ASSERT_TRUE(trust.ok()) << trust.status();
    trust_ = std::move(*trust);
  }
  void TearDown() override { RemoveAll(dir_).IgnoreError(); }

  // Stores signature-N of the image's manifest kDigest.
  void PutSignature(const std::string& repository, int n, const std::string& bytes) {
    std::string sigs = absl::StrCat(dir_, "/sigs/", repository, "@sha256=", std::string(64, 'f'));
    ASSERT_TRUE(MakeDirs(sigs, 0755).ok());
    ASSERT_TRUE(WriteFileAtomically(absl::StrCat(sigs, "/signature-", n), bytes).ok());
  }
  std::string Sign(const GpgSigner& signer, const std::string& reference) {
    absl::StatusOr<std::string> signature = signer.Sign(GpgSigner::Payload(kDigest, reference));
    EXPECT_TRUE(signature.ok()) << signature.status();
    return signature.value_or("");
  }
  // Attachments served from `attached_` (an image's sigstore signatures).
  AttachmentSource Attachments() {
    AttachmentSource source;
    source.manifest = [this](const std::string& tag) -> absl::StatusOr<std::optional<std::string>> {
      ++attachment_reads_;
      if (attached_.empty()) return std::nullopt;
      std::string layers;
      for (const SigstoreSignature& signature : attached_) {
        absl::StrAppend(
            &layers, layers.empty() ? "" : ",", R"({"mediaType": ")", kSigstorePayloadMediaType,
            R"(", "digest": ")", Sha256Of(signature.payload).String(), R"(", "size": )",
            signature.payload.size(), R"(, "annotations": {")", kSigstoreSignatureAnnotation,
            R"(": ")", signature.base64_signature, R"("}})");
      }
      EXPECT_EQ(tag, "sha256-" + std::string(64, 'f') + ".sig");
      return absl::StrCat(R"({"schemaVersion": 2, "layers": [)", layers, "]}");
    };
    source.blob = [this](const SigstoreLayer& layer, size_t) -> absl::StatusOr<std::string> {
      for (const SigstoreSignature& signature : attached_) {
        if (Sha256Of(signature.payload) == layer.digest) return signature.payload;
      }
      return absl::NotFoundError("blob unknown");
    };
    return source;
  }
  SigstoreSignature SigstoreSign(const SigstoreTestSigner& signer, const std::string& reference,
                                 const std::string& digest = kDigest) {
    std::string payload = SigstoreTestSigner::Payload(digest, reference);
    absl::StatusOr<std::string> signature = signer.SignBase64(payload);
    EXPECT_TRUE(signature.ok()) << signature.status();
    return {payload, signature.value_or("")};
  }
  std::string Refused(const std::string& image, const AttachmentSource* attachments = nullptr) {
    absl::Status status = trust_->Check(Ref(image), kDigest, attachments);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("SignatureValidationFailed: image "));
    return std::string(status.message());
  }

  std::string dir_;
  std::unique_ptr<GpgSigner> trusted_;
  std::unique_ptr<GpgSigner> other_;
  std::unique_ptr<ImageTrust> trust_;
  std::unique_ptr<SigstoreTestSigner> sigstore_;
  std::vector<SigstoreSignature> attached_;
  int attachment_reads_ = 0;
};

TEST_F(ImageTrustTest, AcceptAndReject) {
  EXPECT_TRUE(trust_->Check(Ref("quay.io/a/b:1"), kDigest).ok());
  std::string message = Refused("blocked.io/a/b:1");
  EXPECT_THAT(message, HasSubstr("blocked.io/a/b:1"));
  EXPECT_THAT(message, HasSubstr("transports.docker[\"blocked.io\"]"));
  EXPECT_THAT(message, HasSubstr("rejects it"));
}

TEST_F(ImageTrustTest, SignedImageIsAccepted) {
  PutSignature("team/app", 1, Sign(*other_, "signed.io/team/app:1"));  // skipped: wrong key
  PutSignature("team/app", 2, Sign(*trusted_, "signed.io/team/app:1"));
  EXPECT_TRUE(trust_->Check(Ref("signed.io/team/app:1"), kDigest).ok());
}

TEST_F(ImageTrustTest, SignedByChecksReuseTheirKeyring) {
  ASSERT_TRUE(MakeDirs(dir_ + "/keyrings", 0700).ok());
  absl::StatusOr<std::unique_ptr<ImageTrust>> trust =
      ImageTrust::Load(dir_ + "/policy.json", dir_ + "/registries.d", dir_ + "/keyrings");
  ASSERT_TRUE(trust.ok()) << trust.status();
  PutSignature("team/app", 1, Sign(*trusted_, "signed.io/team/app:1"));
  PutSignature("team/other", 1, Sign(*trusted_, "signed.io/team/app:1"));  // wrong identity
  for (int i = 0; i < 3; ++i) {
    absl::Status status = (*trust)->Check(Ref("signed.io/team/app:1"), kDigest);
    EXPECT_TRUE(status.ok()) << status;
    // A refusal gives its keyring back too.
    EXPECT_FALSE((*trust)->Check(Ref("signed.io/team/other:1"), kDigest).ok());
  }
  absl::StatusOr<std::vector<std::string>> homes = ListDir(dir_ + "/keyrings");
  ASSERT_TRUE(homes.ok());
  EXPECT_EQ(homes->size(), 1u);
  trust->reset();
  homes = ListDir(dir_ + "/keyrings");
  ASSERT_TRUE(homes.ok());
  EXPECT_TRUE(homes->empty());
}

TEST_F(ImageTrustTest, UnsignedWrongKeyWrongIdentityAreRefused) {
  EXPECT_THAT(Refused("signed.io/team/app:1"), HasSubstr("has none for " + kDigest));
  PutSignature("team/app", 1, Sign(*other_, "signed.io/team/app:1"));
  EXPECT_THAT(Refused("signed.io/team/app:1"), HasSubstr("not one of the policy's keys"));
  PutSignature("team/app", 2, Sign(*trusted_, "signed.io/team/app:2"));
  std::string message = Refused("signed.io/team/app:1");
  EXPECT_THAT(message, HasSubstr("signature-2: the signature is for \"signed.io/team/app:2\""));
  PutSignature("team/app", 3, "tampered");
  EXPECT_THAT(Refused("signed.io/team/app:1"), HasSubstr("signature-3: not a valid signature"));
}

TEST_F(ImageTrustTest, SigstoreSignedImageIsAccepted) {
  absl::StatusOr<SigstoreTestSigner> other = SigstoreTestSigner::Generate();
  ASSERT_TRUE(other.ok());
  attached_.push_back(SigstoreSign(*other, "sigstore.io/team/app:1"));  // skipped: wrong key
  attached_.push_back(SigstoreSign(*sigstore_, "sigstore.io/team/app:1"));
  AttachmentSource attachments = Attachments();
  absl::Status status = trust_->Check(Ref("sigstore.io/team/app:1"), kDigest, &attachments);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(attachment_reads_, 1);
}

TEST_F(ImageTrustTest, SigstoreUnsignedWrongKeyTamperedWrongIdentityAreRefused) {
  AttachmentSource attachments = Attachments();
  EXPECT_THAT(Refused("sigstore.io/team/app:1", &attachments),
              HasSubstr("the registry has none for " + kDigest + " (no tag sha256-"));
  absl::StatusOr<SigstoreTestSigner> other = SigstoreTestSigner::Generate();
  ASSERT_TRUE(other.ok());
  attached_ = {SigstoreSign(*other, "sigstore.io/team/app:1")};
  std::string message = Refused("sigstore.io/team/app:1", &attachments);
  EXPECT_THAT(message, HasSubstr("scope transports.docker[\"sigstore.io\"]"));
  EXPECT_THAT(message, HasSubstr("sigstore signature 1: the signature does not verify"));
  SigstoreSignature tampered = SigstoreSign(*sigstore_, "sigstore.io/team/app:1");
  tampered.payload[tampered.payload.find("app:1")] = 'A';
  attached_ = {tampered};
  EXPECT_THAT(Refused("sigstore.io/team/app:1", &attachments), HasSubstr("does not verify"));
  attached_ = {SigstoreSign(*sigstore_, "sigstore.io/team/other:1")};
  EXPECT_THAT(Refused("sigstore.io/team/app:1", &attachments),
              HasSubstr("the signature is for \"sigstore.io/team/other:1\""));
  attached_ = {
      SigstoreSign(*sigstore_, "sigstore.io/team/app:1", "sha256:" + std::string(64, '0'))};
  EXPECT_THAT(Refused("sigstore.io/team/app:1", &attachments),
              HasSubstr("the signature is for manifest sha256:000"));
  attached_ = {{"{}", "%%%"}};
  EXPECT_THAT(Refused("sigstore.io/team/app:1", &attachments), HasSubstr("not base64"));
}

TEST_F(ImageTrustTest, SigstoreNeedsAttachmentsEnabledAndReadable) {
  attached_.push_back(SigstoreSign(*sigstore_, "noattach.io/app:1"));
  AttachmentSource attachments = Attachments();
  EXPECT_THAT(Refused("noattach.io/app:1", &attachments),
              HasSubstr("registries.d does not set use-sigstore-attachments: true"));
  EXPECT_EQ(attachment_reads_, 0);
  EXPECT_THAT(Refused("sigstore.io/app:1"), HasSubstr("can not be read here"));
  AttachmentSource broken = Attachments();
  broken.manifest = [](const std::string&) -> absl::StatusOr<std::optional<std::string>> {
    return absl::UnavailableError("connection refused");
  };
  EXPECT_THAT(Refused("sigstore.io/app:1", &broken), HasSubstr("connection refused"));
}

TEST_F(ImageTrustTest, LoadErrors) {
  absl::StatusOr<std::unique_ptr<ImageTrust>> missing =
      ImageTrust::Load(dir_ + "/nope.json", dir_ + "/registries.d");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/bad.json", R"({"default": [{"type": "maybe"}]})").ok());
  absl::StatusOr<std::unique_ptr<ImageTrust>> bad =
      ImageTrust::Load(dir_ + "/bad.json", dir_ + "/registries.d");
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(dir_ + "/bad.json"));
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/registries.d/x.yaml", "bogus: 1\n").ok());
  absl::StatusOr<std::unique_ptr<ImageTrust>> bad_dir =
      ImageTrust::Load(dir_ + "/policy.json", dir_ + "/registries.d");
  EXPECT_THAT(std::string(bad_dir.status().message()), HasSubstr("x.yaml"));
}

}  // namespace
}  // namespace ocid
