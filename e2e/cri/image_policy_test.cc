// Per-namespace trust policies (signature_policy_dir/<namespace>.json, as
// cri-o's) on PullImage, and the policy checked again at CreateContainer for
// an image pulled before it changed (not in specs.txt).
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

constexpr char kRejectAll[] = R"({"default": [{"type": "reject"}]})";

class ImagePolicy : public CriTest {
 protected:
  void TearDown() override {
    for (const std::string& file : policies_) unlink(file.c_str());
    CriTest::TearDown();
  }

  // Holds pods of `pod_namespace` to `policy` from now on.
  std::string WritePolicy(const std::string& pod_namespace, const std::string& policy) {
    std::string file = absl::StrCat(Info().policy_dir, "/", pod_namespace, ".json");
    std::ofstream(file) << policy;
    policies_.push_back(file);
    return file;
  }

  absl::Status PullFor(const std::string& image, const v1::PodSandboxConfig* pod) {
    v1::PullImageRequest request;
    request.mutable_image()->set_image(image);
    if (pod != nullptr) *request.mutable_sandbox_config() = *pod;
    v1::PullImageResponse response;
    return Call(&v1::ImageService::Stub::PullImage, request, &response, absl::Minutes(5));
  }

  std::vector<std::string> policies_;
};

TEST_F(ImagePolicy, ANamespacePolicyReplacesTheGlobalOneForItsPodsPulls) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("ns-policy-pull-"));
  const std::string file = WritePolicy(pod.config.metadata().namespace_(), kRejectAll);

  absl::Status refused = PullFor(kHttpdImage, &pod.config);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(absl::StrContains(
      refused.message(), absl::StrCat("SignatureValidationFailed: image ", kHttpdImage, " (policy ",
                                      file, ", scope ")))
      << refused;
  EXPECT_TRUE(absl::IsNotFound(ImageStatus(kHttpdImage).status())) << "stored though refused";

  // Another namespace, and a pull for no pod, keep the global policy.
  OCID_ASSERT_OK_AND_ASSIGN(Pod other, RunDefaultPod("ns-policy-other-"));
  OCID_EXPECT_OK(PullFor(kHttpdImage, &other.config));
  OCID_EXPECT_OK(RemoveImage(kHttpdImage));
  OCID_EXPECT_OK(PullFor(kHttpdImage, nullptr));
  OCID_EXPECT_OK(RemoveImage(kHttpdImage));
}

TEST_F(ImagePolicy, ANamespaceThatIsNoNameIsRefusedNotJoinedToThePath) {
  // What "../escape" would reach from the policy dir: never read.
  const std::string outside = Info().policy_dir + "/../escape.json";
  std::ofstream(outside) << kRejectAll;
  policies_.push_back(outside);
  v1::PodSandboxConfig config = DefaultPodConfig("ns-policy-bad-");
  config.mutable_metadata()->set_namespace_("../escape");
  absl::Status refused = PullFor(kHttpdImage, &config);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "not a Kubernetes namespace name")) << refused;
  EXPECT_TRUE(absl::IsNotFound(ImageStatus(kHttpdImage).status()));
}

TEST_F(ImagePolicy, CreateContainerRefusesAnImagePulledBeforeThePolicyChanged) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("ns-policy-create-"));
  OCID_ASSERT_OK(PullFor(kDefaultImage, &pod.config));  // accepted then
  const std::string file = WritePolicy(pod.config.metadata().namespace_(), kRejectAll);

  v1::ContainerConfig config = DefaultContainerConfig("refused-");
  absl::StatusOr<std::string> refused = CreateContainer(pod, config);
  ASSERT_FALSE(refused.ok()) << "created " << *refused;
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                absl::StrCat("SignatureValidationFailed: image ", kDefaultImage,
                                             " (policy ", file, ", scope ")))
      << refused.status();
  v1::ContainerFilter in_pod;
  in_pod.set_pod_sandbox_id(pod.id);
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> listed, ListContainers(in_pod));
  EXPECT_TRUE(listed.empty()) << "a refused create left a container";

  // Nothing holds its name: the same create passes once the policy allows
  // it (and the image stayed: the refusal removes nothing).
  ASSERT_EQ(unlink(file.c_str()), 0);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_EXPECT_OK(StartContainer(id));
}

}  // namespace
}  // namespace ocid::e2e
