#include "pkg/trust/simple_signing.h"

#include <sys/stat.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/trust/testing/gpg_signer.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'b');

ImageReference Ref(const std::string& text) {
  absl::StatusOr<ImageReference> reference = ParseImageReference(text);
  EXPECT_TRUE(reference.ok()) << reference.status();
  return *reference;
}

TEST(SimpleSigningPayloadTest, Parses) {
  absl::StatusOr<SimpleSigningClaims> claims =
      ParseSimpleSigningPayload(GpgSigner::Payload(kDigest, "quay.io/a/b:v1"));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->manifest_digest, kDigest);
  EXPECT_EQ(claims->docker_reference, "quay.io/a/b:v1");
}

TEST(SimpleSigningPayloadTest, RefusesOtherShapes) {
  for (const std::string& bad : {
           std::string("not json"),
           std::string("[]"),
           std::string(R"({"optional": {}})"),
           std::string(R"({"critical": {"type": "other", "image": {"docker-manifest-digest": "x"},
                        "identity": {"docker-reference": "a/b:c"}}})"),
           std::string(R"({"critical": {"type": "atomic container signature",
                        "image": {"docker-manifest-digest": "x"},
                        "identity": {"docker-reference": "a/b:c"}, "new": 1}})"),
           std::string(R"({"critical": {"type": "atomic container signature",
                        "image": {"docker-manifest-digest": 7},
                        "identity": {"docker-reference": "a/b:c"}}})"),
           std::string(R"({"critical": {"type": "atomic container signature",
                        "image": {"docker-manifest-digest": "x"}}})"),
           std::string(R"({"critical": {"type": "atomic container signature",
                        "image": {"docker-manifest-digest": "x"},
                        "identity": {"docker-reference": "a/b:c"}}, "extra": {}})"),
       }) {
    absl::StatusOr<SimpleSigningClaims> claims = ParseSimpleSigningPayload(bad);
    EXPECT_FALSE(claims.ok()) << bad;
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

struct IdentityCase {
  SignedIdentity rule;
  std::string image;
  std::string signed_reference;
  bool accepted;
};

SignedIdentity Rule(SignedIdentity::Type type) {
  SignedIdentity rule;
  rule.type = type;
  return rule;
}

TEST(SignedIdentityTest, Rules) {
  using Type = SignedIdentity::Type;
  const std::string at = "@" + kDigest;
  SignedIdentity exact_reference = Rule(Type::kExactReference);
  exact_reference.docker_reference = "y.io/app:1";
  SignedIdentity exact_repository = Rule(Type::kExactRepository);
  exact_repository.docker_repository = "y.io/app";
  SignedIdentity remap = Rule(Type::kRemapIdentity);
  remap.prefix = "mirror.local/proxy";
  remap.signed_prefix = "quay.io";
  const IdentityCase cases[] = {
      {Rule(Type::kMatchRepoDigestOrExact), "x.io/a:1", "x.io/a:1", true},
      {Rule(Type::kMatchRepoDigestOrExact), "x.io/a:1", "x.io/a:2", false},
      {Rule(Type::kMatchRepoDigestOrExact), "x.io/a:1", "x.io/a", false},
      {Rule(Type::kMatchRepoDigestOrExact), "x.io/a" + at, "x.io/a:9", true},
      {Rule(Type::kMatchRepoDigestOrExact), "x.io/a" + at, "x.io/b:9", false},
      {Rule(Type::kMatchExact), "x.io/a:1", "x.io/a:1", true},
      {Rule(Type::kMatchExact), "x.io/a" + at, "x.io/a:1", false},
      {Rule(Type::kMatchExact), "x.io/a" + at, "x.io/a" + at, true},
      {Rule(Type::kMatchRepository), "x.io/a:1", "x.io/a:7", true},
      {Rule(Type::kMatchRepository), "x.io/a:1", "x.io/ab:1", false},
      // Names are normalized as docker does.
      {Rule(Type::kMatchRepository), "docker.io/library/busybox:1", "busybox:2", true},
      {exact_reference, "x.io/anything:1", "y.io/app:1", true},
      {exact_reference, "x.io/anything:1", "y.io/app:2", false},
      {exact_repository, "x.io/anything:1", "y.io/app:5", true},
      {exact_repository, "x.io/anything:1", "y.io/other:5", false},
      {remap, "mirror.local/proxy/ns/app:1", "quay.io/ns/app:1", true},
      {remap, "mirror.local/proxy/ns/app:1", "mirror.local/proxy/ns/app:1", false},
      {remap, "mirror.local/proxyx/app:1", "mirror.local/proxyx/app:1", true},
      {remap, "other.io/app:1", "other.io/app:1", true},
  };
  for (const IdentityCase& c : cases) {
    absl::Status status = CheckSignedIdentity(c.rule, Ref(c.image), c.signed_reference);
    EXPECT_EQ(status.ok(), c.accepted) << static_cast<int>(c.rule.type) << " " << c.image << " <- "
                                       << c.signed_reference << ": " << status;
  }
  absl::Status bad = CheckSignedIdentity(Rule(Type::kMatchRepository), Ref("x.io/a"), "UPPER/x");
  EXPECT_THAT(std::string(bad.message()), HasSubstr("not a reference"));
}

class GpgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(std::system("command -v gpg >/dev/null"), 0) << "gpg (gnupg) is not installed";
    auto a = GpgSigner::Create("a@example.com");
    ASSERT_TRUE(a.ok()) << a.status();
    signer_a_ = new GpgSigner(std::move(*a));
    auto b = GpgSigner::Create("b@example.com");
    ASSERT_TRUE(b.ok()) << b.status();
    signer_b_ = new GpgSigner(std::move(*b));
  }
  static void TearDownTestSuite() {
    delete signer_a_;
    delete signer_b_;
  }

  static GpgKeyring KeyringOf(const GpgSigner& signer, bool armored = false) {
    absl::StatusOr<std::string> key = signer.PublicKey(armored);
    EXPECT_TRUE(key.ok()) << key.status();
    absl::StatusOr<GpgKeyring> keyring = GpgKeyring::Create({*key});
    EXPECT_TRUE(keyring.ok()) << keyring.status();
    return std::move(*keyring);
  }

  static std::string Signed(const GpgSigner& signer, const std::string& reference,
                            const std::string& digest = kDigest) {
    absl::StatusOr<std::string> signature = signer.Sign(GpgSigner::Payload(digest, reference));
    EXPECT_TRUE(signature.ok()) << signature.status();
    return signature.value_or("");
  }

  static PolicyRequirement SignedBy() {
    PolicyRequirement requirement;
    requirement.type = PolicyRequirement::Type::kSignedBy;
    return requirement;
  }

  static GpgSigner* signer_a_;
  static GpgSigner* signer_b_;
};

GpgSigner* GpgTest::signer_a_ = nullptr;
GpgSigner* GpgTest::signer_b_ = nullptr;

TEST_F(GpgTest, GoodSignatureIsAccepted) {
  GpgKeyring keyring = KeyringOf(*signer_a_, /*armored=*/true);
  EXPECT_EQ(keyring.Fingerprints().size(), 1u);
  std::string signature = Signed(*signer_a_, "x.io/app:1");
  absl::StatusOr<std::string> payload = keyring.Verify(signature);
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_THAT(*payload, HasSubstr(kDigest));
  EXPECT_TRUE(
      CheckSimpleSignature(keyring, SignedBy(), Ref("x.io/app:1"), kDigest, signature).ok());
}

TEST_F(GpgTest, KeyringIsPrivateAndRemoved) {
  std::string home;
  {
    GpgKeyring keyring = KeyringOf(*signer_a_);
    home = keyring.home();
    EXPECT_NE(home.find("/tmp/ocid-gpg-"), std::string::npos);
    struct stat st;
    ASSERT_EQ(::stat(home.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
  }
  struct stat st;
  EXPECT_NE(::stat(home.c_str(), &st), 0);
}

TEST_F(GpgTest, OtherKeyIsRefused) {
  GpgKeyring keyring = KeyringOf(*signer_a_);
  absl::Status status = CheckSimpleSignature(keyring, SignedBy(), Ref("x.io/app:1"), kDigest,
                                             Signed(*signer_b_, "x.io/app:1"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not one of the policy's keys"));
}

TEST_F(GpgTest, EitherOfTwoKeys) {
  absl::StatusOr<std::string> a = signer_a_->PublicKey();
  absl::StatusOr<std::string> b = signer_b_->PublicKey(/*armored=*/true);
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<GpgKeyring> keyring = GpgKeyring::Create({*a, *b});
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_EQ(keyring->Fingerprints().size(), 2u);
  EXPECT_TRUE(CheckSimpleSignature(*keyring, SignedBy(), Ref("x.io/app:1"), kDigest,
                                   Signed(*signer_b_, "x.io/app:1"))
                  .ok());
}

TEST_F(GpgTest, WrongDigestOrIdentityIsRefused) {
  GpgKeyring keyring = KeyringOf(*signer_a_);
  absl::Status digest =
      CheckSimpleSignature(keyring, SignedBy(), Ref("x.io/app:1"), "sha256:" + std::string(64, 'c'),
                           Signed(*signer_a_, "x.io/app:1"));
  EXPECT_THAT(std::string(digest.message()), HasSubstr("is for manifest " + kDigest));
  absl::Status identity = CheckSimpleSignature(keyring, SignedBy(), Ref("x.io/app:1"), kDigest,
                                               Signed(*signer_a_, "x.io/other:1"));
  EXPECT_THAT(std::string(identity.message()), HasSubstr("matchRepoDigestOrExact"));
}

TEST_F(GpgTest, TamperedOrGarbageSignatureIsRefused) {
  GpgKeyring keyring = KeyringOf(*signer_a_);
  std::string signature = Signed(*signer_a_, "x.io/app:1");
  // The payload sits inside the (uncompressed for short input or not)
  // message; flipping any byte past the header breaks the signature.
  for (size_t at : {signature.size() / 2, signature.size() - 5}) {
    std::string tampered = signature;
    tampered[at] ^= 0x20;
    EXPECT_FALSE(
        CheckSimpleSignature(keyring, SignedBy(), Ref("x.io/app:1"), kDigest, tampered).ok())
        << at;
  }
  EXPECT_FALSE(keyring.Verify("garbage").ok());
  EXPECT_FALSE(keyring.Verify("").ok());
  absl::Status big = keyring.Verify(std::string(kMaxSignatureBytes + 1, 'x')).status();
  EXPECT_THAT(std::string(big.message()), HasSubstr("larger than 4 MiB"));
}

// The keyring's one gpgme context serves check after check: each result
// is the last signature's own, whatever the one before it was.
TEST_F(GpgTest, OneKeyringChecksManyInARow) {
  GpgKeyring first = KeyringOf(*signer_a_);
  GpgKeyring keyring(std::move(first));
  std::string good = Signed(*signer_a_, "x.io/app:1");
  std::string other = Signed(*signer_b_, "x.io/app:1");
  for (int round = 0; round < 3; ++round) {
    EXPECT_TRUE(keyring.Verify(good).ok()) << round;
    EXPECT_FALSE(keyring.Verify(other).ok()) << round;
    EXPECT_FALSE(keyring.Verify("garbage").ok()) << round;
    absl::StatusOr<std::string> again = keyring.Verify(good);
    ASSERT_TRUE(again.ok()) << round << ": " << again.status();
    EXPECT_THAT(*again, HasSubstr(kDigest));
  }
}

TEST_F(GpgTest, BadKeyIsRefused) {
  absl::StatusOr<GpgKeyring> keyring = GpgKeyring::Create({"not a key"});
  ASSERT_FALSE(keyring.ok());
  EXPECT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ocid
