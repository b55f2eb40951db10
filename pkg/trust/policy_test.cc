#include "pkg/trust/policy.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/trust/testing/sigstore_signer.h"

namespace ocid {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Type = PolicyRequirement::Type;

ImageReference Ref(const std::string& text) {
  absl::StatusOr<ImageReference> reference = ParseImageReference(text);
  EXPECT_TRUE(reference.ok()) << reference.status();
  return *reference;
}

// The scope and first requirement type the policy gives `image`.
std::pair<std::string, Type> Lookup(const Policy& policy, const std::string& image) {
  absl::StatusOr<ScopedRequirements> found = policy.RequirementsFor("docker", Ref(image));
  EXPECT_TRUE(found.ok()) << found.status();
  if (!found.ok()) return {"", Type::kReject};
  return {found->scope, found->requirements->front().type};
}

std::string ParseError(const std::string& text) {
  absl::StatusOr<Policy> policy = ParsePolicy(text, "/etc/p.json");
  EXPECT_FALSE(policy.ok());
  if (policy.ok()) return "";
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << policy.status();
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("/etc/p.json"));
  return std::string(policy.status().message());
}

TEST(PolicyTest, DefaultOnly) {
  absl::StatusOr<Policy> policy =
      ParsePolicy(R"({"default": [{"type": "insecureAcceptAnything"}]})", "p.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(Lookup(*policy, "busybox"),
            std::make_pair(std::string("default"), Type::kInsecureAcceptAnything));
}

TEST(PolicyTest, MostSpecificScopeWins) {
  absl::StatusOr<Policy> policy = ParsePolicy(R"({
    "default": [{"type": "reject"}],
    "transports": {"docker": {
      "": [{"type": "reject"}],
      "example.com": [{"type": "insecureAcceptAnything"}],
      "example.com/team": [{"type": "reject"}],
      "example.com/team/app": [{"type": "insecureAcceptAnything"}],
      "example.com/team/app:v2": [{"type": "reject"}],
      "localhost:5000": [{"type": "insecureAcceptAnything"}],
      "*.example.org": [{"type": "insecureAcceptAnything"}],
      "*.b.example.org": [{"type": "reject"}]
    }}})",
                                              "p.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(Lookup(*policy, "example.com/team/app:v1").first,
            "transports.docker[\"example.com/team/app\"]");
  EXPECT_EQ(Lookup(*policy, "example.com/team/app:v2").first,
            "transports.docker[\"example.com/team/app:v2\"]");
  EXPECT_EQ(Lookup(*policy, "example.com/team/other").first,
            "transports.docker[\"example.com/team\"]");
  EXPECT_EQ(Lookup(*policy, "example.com/x/y").first, "transports.docker[\"example.com\"]");
  // "example.com/teamx" is not under "example.com/team".
  EXPECT_EQ(Lookup(*policy, "example.com/teamx/y").first, "transports.docker[\"example.com\"]");
  EXPECT_EQ(Lookup(*policy, "localhost:5000/a").first, "transports.docker[\"localhost:5000\"]");
  EXPECT_EQ(Lookup(*policy, "localhost:5001/a").first, "transports.docker[\"\"]");
  EXPECT_EQ(Lookup(*policy, "a.example.org/r").first, "transports.docker[\"*.example.org\"]");
  EXPECT_EQ(Lookup(*policy, "a.b.example.org/r").first, "transports.docker[\"*.b.example.org\"]");
  // A wildcard matches subdomains, not the domain itself.
  EXPECT_EQ(Lookup(*policy, "example.org/r").first, "transports.docker[\"\"]");
  EXPECT_EQ(Lookup(*policy, "quay.io/r").first, "transports.docker[\"\"]");
}

TEST(PolicyTest, DigestScope) {
  const std::string digest = "sha256:" + std::string(64, 'a');
  absl::StatusOr<Policy> policy =
      ParsePolicy(absl::StrCat(R"({"default": [{"type": "reject"}], "transports": {"docker": {
        "quay.io/a/b@)",
                               digest, R"(": [{"type": "insecureAcceptAnything"}]}}})"),
                  "p.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(Lookup(*policy, "quay.io/a/b@" + digest).second, Type::kInsecureAcceptAnything);
  EXPECT_EQ(Lookup(*policy, "quay.io/a/b:latest").second, Type::kReject);
}

TEST(PolicyTest, ScopeCandidatesOrder) {
  EXPECT_THAT(DockerScopeCandidates(Ref("a.example.com/ns/repo:tag")),
              ElementsAre("a.example.com/ns/repo:tag", "a.example.com/ns/repo", "a.example.com/ns",
                          "a.example.com", "*.example.com", "*.com"));
  EXPECT_THAT(DockerScopeCandidates(Ref("127.0.0.1:5000/r:t")),
              ElementsAre("127.0.0.1:5000/r:t", "127.0.0.1:5000/r", "127.0.0.1:5000"));
}

TEST(PolicyTest, OtherTransportsParseButAreNotPulled) {
  absl::StatusOr<Policy> policy = ParsePolicy(R"({
    "default": [{"type": "insecureAcceptAnything"}],
    "transports": {"docker-daemon": {"": [{"type": "insecureAcceptAnything"}]},
                   "atomic": {"whatever/x": [{"type": "reject"}]}}})",
                                              "p.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  absl::StatusOr<ScopedRequirements> found = policy->RequirementsFor("docker-daemon", Ref("a/b"));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(found.status().message()), HasSubstr("not supported"));
  EXPECT_EQ(Lookup(*policy, "a/b").first, "default");
}

TEST(PolicyTest, SignedByKeySources) {
  char dir_template[] = "/tmp/ocid-policy-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  ASSERT_TRUE(WriteFileAtomically(dir + "/a.gpg", "key-a").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/b.gpg", "key-b").ok());
  absl::StatusOr<Policy> policy =
      ParsePolicy(absl::StrCat(R"({"default": [{"type": "reject"}], "transports": {"docker": {
        "x.io/one": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": ")",
                               dir, R"(/a.gpg"}],
        "x.io/two": [{"type": "signedBy", "keyType": "GPGKeys",
                      "keyPaths": [")",
                               dir, R"(/a.gpg", ")", dir, R"(/b.gpg"],
                      "signedIdentity": {"type": "matchRepository"}}],
        "x.io/three": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": ")",
                               absl::Base64Escape("key-c"), R"(",
                      "signedIdentity": {"type": "remapIdentity", "prefix": "x.io",
                                         "signedPrefix": "y.io/mirror"}}],
        "x.io/four": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "a2V5",
                      "signedIdentity": {"type": "exactReference",
                                         "dockerReference": "y.io/app:1"}}],
        "x.io/five": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "a2V5",
                      "signedIdentity": {"type": "exactRepository",
                                         "dockerRepository": "y.io/app"}}],
        "x.io/six": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "a2V5",
                      "signedIdentity": {"type": "matchExact"}}]
      }}})"),
                  "p.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto requirement = [&](const std::string& image) {
    absl::StatusOr<ScopedRequirements> found = policy->RequirementsFor("docker", Ref(image));
    EXPECT_TRUE(found.ok());
    return found->requirements->front();
  };
  PolicyRequirement one = requirement("x.io/one");
  EXPECT_EQ(one.type, Type::kSignedBy);
  EXPECT_THAT(one.keys, ElementsAre("key-a"));
  EXPECT_EQ(one.identity.type, SignedIdentity::Type::kMatchRepoDigestOrExact);
  PolicyRequirement two = requirement("x.io/two");
  EXPECT_THAT(two.keys, ElementsAre("key-a", "key-b"));
  EXPECT_EQ(two.identity.type, SignedIdentity::Type::kMatchRepository);
  PolicyRequirement three = requirement("x.io/three");
  EXPECT_THAT(three.keys, ElementsAre("key-c"));
  EXPECT_EQ(three.keys_source, "keyData");
  EXPECT_EQ(three.identity.type, SignedIdentity::Type::kRemapIdentity);
  EXPECT_EQ(three.identity.prefix, "x.io");
  EXPECT_EQ(three.identity.signed_prefix, "y.io/mirror");
  EXPECT_EQ(requirement("x.io/four").identity.docker_reference, "y.io/app:1");
  EXPECT_EQ(requirement("x.io/five").identity.docker_repository, "y.io/app");
  EXPECT_EQ(requirement("x.io/six").identity.type, SignedIdentity::Type::kMatchExact);
  ASSERT_TRUE(RemoveAll(dir).ok());
}

// A P-256 public key (PEM) of a new test key, and one on another curve.
std::string PublicPem(const std::string& curve = "P-256") {
  absl::StatusOr<SigstoreTestSigner> signer = SigstoreTestSigner::Generate(curve);
  EXPECT_TRUE(signer.ok()) << signer.status();
  absl::StatusOr<std::string> pem = signer->PublicPem();
  EXPECT_TRUE(pem.ok());
  return pem.value_or("");
}

TEST(PolicyTest, SigstoreSignedParses) {
  std::string dir = "/tmp/ocid-policy-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string pem = PublicPem();
  ASSERT_TRUE(WriteFileAtomically(dir + "/k.pub", pem).ok());
  absl::StatusOr<Policy> policy =
      ParsePolicy(absl::StrCat(R"({"default": [{"type": "sigstoreSigned", "keyPath": ")", dir,
                               R"(/k.pub", "signedIdentity": {"type": "matchRepository"}}],
          "transports": {"docker": {"x.io": [{"type": "sigstoreSigned", "keyDatas": [")",
                               absl::Base64Escape(pem), R"(", ")", absl::Base64Escape(PublicPem()),
                               R"("]}]}}})"),
                  "p.json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const PolicyRequirement& from_path = policy->default_requirements[0];
  EXPECT_EQ(from_path.type, Type::kSigstoreSigned);
  EXPECT_THAT(from_path.keys, ElementsAre(pem));
  EXPECT_EQ(from_path.keys_source, dir + "/k.pub");
  EXPECT_EQ(from_path.identity.type, SignedIdentity::Type::kMatchRepository);
  const PolicyRequirement& from_data = policy->transports["docker"]["x.io"][0];
  EXPECT_EQ(from_data.keys.size(), 2u);
  EXPECT_EQ(from_data.keys[0], pem);
  EXPECT_EQ(from_data.identity.type, SignedIdentity::Type::kMatchRepoDigestOrExact);
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(PolicyTest, SigstoreSignedRefusesWhatItCannotCheck) {
  const std::string key_data = absl::Base64Escape(PublicPem());
  auto sigstore = [&](const std::string& fields) {
    return absl::StrCat(R"({"default": [{"type": "sigstoreSigned", )", fields, "}]}");
  };
  for (const std::string& unsupported :
       {std::string(R"("fulcio": {"caPath": "/ca.pem", "oidcIssuer": "https://x",
           "subjectEmail": "a@b"}, "rekorPublicKeyPath": "/rekor.pub")"),
        absl::StrCat(R"("keyData": ")", key_data, R"(", "rekorPublicKeyData": "a2V5")"),
        absl::StrCat(R"("keyData": ")", key_data, R"(", "pki": {})")}) {
    EXPECT_THAT(ParseError(sigstore(unsupported)), HasSubstr("is not supported"));
  }
  EXPECT_THAT(ParseError(sigstore(R"("signedIdentity": {"type": "matchExact"})")),
              HasSubstr("exactly one of keyPath, keyPaths, keyData and keyDatas"));
  EXPECT_THAT(
      ParseError(sigstore(absl::StrCat(R"("keyData": ")", key_data, R"(", "keyPath": "/k")"))),
      HasSubstr("exactly one of"));
  EXPECT_THAT(ParseError(sigstore(R"("keyData": "a2V5")")),
              HasSubstr("default[0]: keyData 1: not a PEM public key"));
  EXPECT_THAT(ParseError(sigstore(
                  absl::StrCat(R"("keyData": ")", absl::Base64Escape(PublicPem("P-384")), R"(")"))),
              HasSubstr("not P-256"));
  EXPECT_THAT(ParseError(sigstore(R"("keyDatas": [])")), HasSubstr("non-empty array of strings"));
  EXPECT_THAT(ParseError(sigstore(R"("keyPaths": ["/k", 3])")),
              HasSubstr("non-empty array of strings"));
  EXPECT_THAT(ParseError(sigstore(R"("keyPath": "/nonexistent/k.pub")")),
              HasSubstr("key file /nonexistent/k.pub"));
  EXPECT_THAT(ParseError(sigstore(absl::StrCat(R"("keyData": ")", key_data,
                                               R"(", "signedIdentity": {"type": "nope"})"))),
              HasSubstr("default[0].signedIdentity: unknown signedIdentity type"));
}

TEST(PolicyTest, BadPoliciesNameFileAndEntry) {
  EXPECT_THAT(ParseError("{"), HasSubstr("not valid JSON"));
  EXPECT_THAT(ParseError("[]"), HasSubstr("object"));
  EXPECT_THAT(ParseError(R"({"transports": {}})"), HasSubstr("\"default\" is missing"));
  EXPECT_THAT(ParseError(R"({"default": []})"), HasSubstr("default: must list at least one"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "reject"}], "extra": 1})"),
              HasSubstr("unknown key \"extra\""));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "trustMe"}]})"),
              HasSubstr("default[0]: unknown requirement type \"trustMe\""));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "reject", "keyPath": "/k"}]})"),
              HasSubstr("default[0]: unknown key \"keyPath\""));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "reject"}],
      "transports": {"docker": {"library/busybox": [{"type": "reject"}]}}})"),
              HasSubstr("transports.docker[\"library/busybox\"]: invalid scope"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "reject"}],
      "transports": {"docker": {"docker.io/busybox": [{"type": "reject"}]}}})"),
              HasSubstr("canonical form (docker.io/library/busybox)"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "reject"}],
      "transports": {"docker": {"*.": [{"type": "reject"}]}}})"),
              HasSubstr("wildcard"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "reject"}],
      "transports": {"docker": {"x.io": [{"type": "bogus"}]}}})"),
              HasSubstr("transports.docker[\"x.io\"][0]: unknown requirement type"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "X509Certificates",
      "keyData": "a2V5"}]})"),
              HasSubstr("keyType \"X509Certificates\" is not supported"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys"}]})"),
              HasSubstr("exactly one of keyPath, keyPaths and keyData"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
      "keyData": "!!!"}]})"),
              HasSubstr("not base64"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
      "keyPath": "/nonexistent/key.gpg"}]})"),
              HasSubstr("key file /nonexistent/key.gpg"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
      "keyPath": "/dev/null"}]})"),
              HasSubstr("not a regular file"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
      "keyPath": "relative.gpg"}]})"),
              HasSubstr("absolute"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
      "keyData": "a2V5", "signedIdentity": {"type": "matchSomething"}}]})"),
              HasSubstr("default[0].signedIdentity: unknown signedIdentity type"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
      "keyData": "a2V5", "signedIdentity": {"type": "exactReference",
      "dockerReference": "y.io/app"}}]})"),
              HasSubstr("with a tag or digest"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
      "keyData": "a2V5", "signedIdentity": {"type": "remapIdentity", "prefix": "x.io"}}]})"),
              HasSubstr("\"signedPrefix\" is missing"));
  EXPECT_THAT(ParseError(R"({"default": [{"type": "sigstoreSigned", "keyTypo": "x"}]})"),
              HasSubstr("unknown key \"keyTypo\""));
}

TEST(PolicyTest, LoadMissingFileIsNotFound) {
  absl::StatusOr<Policy> policy = LoadPolicyFile("/nonexistent/policy.json");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ocid
