#include "pkg/trust/image_trust.h"

#include <stdlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/trust/testing/gpg_signer.h"

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
                                    "default-docker:\n  lookaside: file://" + dir_ + "/sigs\n")
                    .ok());
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/policy.json", absl::StrCat(R"({
      "default": [{"type": "insecureAcceptAnything"}],
      "transports": {"docker": {
        "blocked.io": [{"type": "reject"}],
        "signed.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": ")",
                                                                        dir_, R"(/trusted.asc"}],
        "sigstore.io": [{"type": "sigstoreSigned", "keyPath": "/k.pub"}]
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
  std::string Refused(const std::string& image) {
    absl::Status status = trust_->Check(Ref(image), kDigest);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("SignatureValidationFailed: image "));
    return std::string(status.message());
  }

  std::string dir_;
  std::unique_ptr<GpgSigner> trusted_;
  std::unique_ptr<GpgSigner> other_;
  std::unique_ptr<ImageTrust> trust_;
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

TEST_F(ImageTrustTest, SigstoreIsNotSupportedYet) {
  EXPECT_THAT(Refused("sigstore.io/a:1"),
              HasSubstr("sigstoreSigned requirements are not supported yet"));
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
