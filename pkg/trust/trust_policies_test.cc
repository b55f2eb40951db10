#include "pkg/trust/trust_policies.h"

#include <stdlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'e');

ImageReference Ref(const std::string& text) {
  absl::StatusOr<ImageReference> reference = ParseImageReference(text);
  EXPECT_TRUE(reference.ok()) << reference.status();
  return *reference;
}

class TrustPoliciesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/ocid-trust-policies-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_.data()), nullptr);
    ASSERT_TRUE(MakeDirs(dir_ + "/policies", 0755).ok());
    Write("/policy.json", R"({"default": [{"type": "insecureAcceptAnything"}]})");
    Write("/policies/strict.json", R"({"default": [{"type": "reject"}]})");
    // Outside the dir, where "../x" would lead.
    Write("/x.json", R"({"default": [{"type": "reject"}]})");
    absl::StatusOr<std::shared_ptr<const TrustPolicies>> policies =
        TrustPolicies::Load(dir_ + "/policy.json", dir_ + "/registries.d", dir_ + "/policies");
    ASSERT_TRUE(policies.ok()) << policies.status();
    policies_ = *policies;
  }
  void TearDown() override { RemoveAll(dir_).IgnoreError(); }

  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(dir_ + name, text).ok());
  }
  absl::Status CheckIn(const std::string& pod_namespace) {
    absl::StatusOr<std::shared_ptr<const ImageTrust>> trust = policies_->For(pod_namespace);
    if (!trust.ok()) return trust.status();
    return (*trust)->Check(Ref("quay.io/a/b:1"), kDigest);
  }

  std::string dir_;
  std::shared_ptr<const TrustPolicies> policies_;
};

TEST_F(TrustPoliciesTest, ANamespaceFileReplacesTheGlobalPolicy) {
  EXPECT_TRUE(CheckIn("").ok()) << "no pod: the global policy";
  EXPECT_TRUE(CheckIn("default").ok()) << "no default.json: the global policy";
  absl::Status strict = CheckIn("strict");
  EXPECT_EQ(strict.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(strict.message()),
              HasSubstr("SignatureValidationFailed: image quay.io/a/b:1 (policy " + dir_ +
                        "/policies/strict.json, scope "));
  // Read at each call: a new file applies at once.
  Write("/policies/default.json", R"({"default": [{"type": "reject"}]})");
  EXPECT_EQ(CheckIn("default").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrustPoliciesTest, NamesThatAreNoNamespaceNeverLeaveTheDir) {
  for (const char* bad : {"../x", "..", ".", "a/b", "/etc/x", "Strict", "-a", "a-", "a..b", ".a",
                          "a.", "a\n", "\xff", "a_b"}) {
    absl::Status status = CheckIn(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr("not a Kubernetes namespace name")) << bad;
  }
  EXPECT_EQ(CheckIn(std::string(64, 'a')).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckIn(std::string(63, 'a')).ok());
  EXPECT_TRUE(IsNamespaceName("kube-system"));
  EXPECT_TRUE(IsNamespaceName("0"));
  EXPECT_TRUE(IsNamespaceName("redhat.test.ocid"));
  EXPECT_FALSE(IsNamespaceName(std::string(254, 'a')));
}

TEST_F(TrustPoliciesTest, ABrokenNamespaceFileIsAnErrorNotTheGlobalPolicy) {
  Write("/policies/broken.json", R"({"default": [{"type": "rejectish"}]})");
  absl::Status broken = CheckIn("broken");
  EXPECT_EQ(broken.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(broken.message()), HasSubstr("the trust policy of namespace broken"));
  EXPECT_THAT(std::string(broken.message()), HasSubstr(dir_ + "/policies/broken.json"));
  // A key file it names is missing: still not the (lenient) global policy.
  Write("/policies/nokey.json", R"({"default": [{"type": "signedBy", "keyType": "GPGKeys",
      "keyPath": "/no/such/key.gpg"}]})");
  EXPECT_EQ(CheckIn("nokey").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrustPoliciesTest, NoDirMeansTheGlobalPolicyForEveryNamespace) {
  absl::StatusOr<std::shared_ptr<const TrustPolicies>> none =
      TrustPolicies::Load(dir_ + "/policy.json", dir_ + "/registries.d", "");
  ASSERT_TRUE(none.ok());
  absl::StatusOr<std::shared_ptr<const ImageTrust>> trust = (*none)->For("strict");
  ASSERT_TRUE(trust.ok());
  EXPECT_EQ((*trust)->policy_file(), dir_ + "/policy.json");
  absl::StatusOr<std::shared_ptr<const TrustPolicies>> missing =
      TrustPolicies::Load(dir_ + "/policy.json", dir_ + "/registries.d", dir_ + "/no-such-dir");
  ASSERT_TRUE(missing.ok());
  trust = (*missing)->For("strict");
  ASSERT_TRUE(trust.ok());
  EXPECT_EQ((*trust)->policy_file(), dir_ + "/policy.json");
}

}  // namespace
}  // namespace ocid
