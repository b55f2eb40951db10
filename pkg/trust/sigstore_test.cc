#include "pkg/trust/sigstore.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/trust/testing/sigstore_signer.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'c');

ImageReference Ref(const std::string& text) {
  absl::StatusOr<ImageReference> reference = ParseImageReference(text);
  EXPECT_TRUE(reference.ok()) << reference.status();
  return *reference;
}

TEST(SigstorePayloadTest, ParsesWhatTheSignerWrites) {
  absl::StatusOr<SimpleSigningClaims> claims =
      ParseSigstorePayload(SigstoreTestSigner::Payload(kDigest, "quay.io/a/b:v1"));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->manifest_digest, kDigest);
  EXPECT_EQ(claims->docker_reference, "quay.io/a/b:v1");
  // containers' signers write creator and timestamp in "optional".
  claims = ParseSigstorePayload(R"({"critical": {"identity": {"docker-reference": "a.io/b:c"},
      "image": {"docker-manifest-digest": "sha256:x"}, "type": "cosign container image signature"},
      "optional": {"creator": "containers/image", "timestamp": 1700000000, "other": [1]}})");
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->docker_reference, "a.io/b:c");
}

TEST(SigstorePayloadTest, RefusesOtherShapes) {
  const std::string critical =
      R"("critical": {"identity": {"docker-reference": "a.io/b:c"},
         "image": {"docker-manifest-digest": "sha256:x"},
         "type": "cosign container image signature"})";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not a JSON object"},
      {"[]", "not a JSON object"},
      {"{" + critical + "}", "optional is missing"},
      {R"({"optional": null})", "critical is missing"},
      {"{" + critical + R"(, "optional": null, "extra": 1})", "unknown key \"extra\""},
      {"{" + critical + R"(, "optional": 5})", "\"optional\" must be an object or null"},
      {"{" + critical + R"(, "optional": {"creator": 5}})", "optional.creator"},
      {"{" + critical + R"(, "optional": {"timestamp": 1.5}})", "optional.timestamp"},
      {R"({"critical": {"identity": {"docker-reference": "a.io/b:c"},
          "image": {"docker-manifest-digest": "sha256:x"},
          "type": "atomic container signature"}, "optional": null})",
       "not \"cosign container image signature\""},
      {R"({"critical": {"identity": {"docker-reference": "a.io/b:c"},
          "image": {"docker-manifest-digest": "sha256:x"}}, "optional": null})",
       "critical.type is missing"},
      {R"({"critical": {"identity": {"docker-reference": "a.io/b:c"},
          "image": {"docker-manifest-digest": "sha256:x", "more": 1},
          "type": "cosign container image signature"}, "optional": null})",
       "critical.image has unknown key \"more\""},
      {R"({"critical": {"identity": {"docker-reference": 7},
          "image": {"docker-manifest-digest": "sha256:x"},
          "type": "cosign container image signature"}, "optional": null})",
       "critical.identity.docker-reference must be a string"},
      {R"({"critical": {"identity": "a.io/b:c",
          "image": {"docker-manifest-digest": "sha256:x"},
          "type": "cosign container image signature"}, "optional": null})",
       "critical.identity must be an object"},
  };
  for (const auto& [payload, why] : cases) {
    absl::StatusOr<SimpleSigningClaims> claims = ParseSigstorePayload(payload);
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kInvalidArgument) << payload;
    EXPECT_THAT(std::string(claims.status().message()), HasSubstr(why)) << payload;
  }
}

class SigstoreSignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<SigstoreTestSigner> signer = SigstoreTestSigner::Generate();
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = std::make_unique<SigstoreTestSigner>(std::move(*signer));
    absl::StatusOr<std::string> pem = signer_->PublicPem();
    ASSERT_TRUE(pem.ok());
    requirement_.type = PolicyRequirement::Type::kSigstoreSigned;
    requirement_.keys = {*pem};
    requirement_.keys_source = "/k.pub";
    absl::StatusOr<std::vector<SigstorePublicKey>> keys = SigstoreKeys(requirement_);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = std::move(*keys);
  }

  SigstoreSignature Sign(const std::string& payload) {
    absl::StatusOr<std::string> signature = signer_->SignBase64(payload);
    EXPECT_TRUE(signature.ok()) << signature.status();
    return {payload, signature.value_or("")};
  }
  absl::Status Check(const std::string& image, const SigstoreSignature& signature) {
    return CheckSigstoreSignature(keys_, requirement_, Ref(image), kDigest, signature);
  }
  std::string Refused(const std::string& image, const SigstoreSignature& signature) {
    absl::Status status = Check(image, signature);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    return std::string(status.message());
  }

  std::unique_ptr<SigstoreTestSigner> signer_;
  PolicyRequirement requirement_;
  std::vector<SigstorePublicKey> keys_;
};

TEST_F(SigstoreSignatureTest, AcceptsAGoodSignature) {
  EXPECT_TRUE(
      Check("a.io/team/app:1", Sign(SigstoreTestSigner::Payload(kDigest, "a.io/team/app:1"))).ok());
}

TEST_F(SigstoreSignatureTest, RefusesTamperedWrongDigestWrongIdentityAndOtherKeys) {
  SigstoreSignature good = Sign(SigstoreTestSigner::Payload(kDigest, "a.io/team/app:1"));
  SigstoreSignature tampered = good;
  tampered.payload = SigstoreTestSigner::Payload(kDigest, "a.io/team/evil:1");
  EXPECT_THAT(Refused("a.io/team/evil:1", tampered), HasSubstr("does not verify"));
  EXPECT_THAT(Refused("a.io/team/evil:1", tampered), HasSubstr("keys from /k.pub"));

  const std::string other_digest = "sha256:" + std::string(64, 'd');
  EXPECT_THAT(Refused("a.io/team/app:1",
                      Sign(SigstoreTestSigner::Payload(other_digest, "a.io/team/app:1"))),
              HasSubstr("the signature is for manifest " + other_digest));
  EXPECT_THAT(Refused("a.io/team/app:2", good),
              HasSubstr("the signature is for \"a.io/team/app:1\""));
  // signedIdentity is honoured as for signedBy.
  requirement_.identity.type = SignedIdentity::Type::kMatchRepository;
  EXPECT_TRUE(Check("a.io/team/app:2", good).ok());

  absl::StatusOr<SigstoreTestSigner> other = SigstoreTestSigner::Generate();
  ASSERT_TRUE(other.ok());
  absl::StatusOr<std::string> other_signature = other->SignBase64(good.payload);
  ASSERT_TRUE(other_signature.ok());
  EXPECT_THAT(Refused("a.io/team/app:1", {good.payload, *other_signature}),
              HasSubstr("does not verify"));

  // A well-signed payload that is not a cosign payload.
  EXPECT_THAT(Refused("a.io/team/app:1", Sign("{}")), HasSubstr("sigstore payload"));
}

TEST_F(SigstoreSignatureTest, RefusesMalformedBase64AndDer) {
  SigstoreSignature good = Sign(SigstoreTestSigner::Payload(kDigest, "a.io/team/app:1"));
  for (const std::string& bad : {std::string(), std::string("not base64!"), std::string("%%%%")}) {
    EXPECT_THAT(Refused("a.io/team/app:1", {good.payload, bad}), HasSubstr("not base64"));
  }
  EXPECT_THAT(Refused("a.io/team/app:1", {good.payload, absl::Base64Escape("not DER")}),
              HasSubstr("not an ASN.1 DER ECDSA signature"));
}

TEST(SigstoreKeysTest, NamesTheBadKey) {
  PolicyRequirement requirement;
  requirement.keys = {"junk"};
  requirement.keys_source = "/etc/k.pub";
  absl::StatusOr<std::vector<SigstorePublicKey>> keys = SigstoreKeys(requirement);
  EXPECT_THAT(std::string(keys.status().message()), HasSubstr("key 1 of /etc/k.pub"));
}

}  // namespace
}  // namespace ocid
