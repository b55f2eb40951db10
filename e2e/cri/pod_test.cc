// critest's "PodSandbox" specs (cri-tools pkg/validate/pod.go, pod_linux.go).
#include "absl/strings/ascii.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

class PodSandbox : public CriTest {
 protected:
  // listPodSandboxForID: is the pod listed under an id filter?
  bool Listed(const std::string& pod_id) {
    v1::PodSandboxFilter filter;
    filter.set_id(pod_id);
    auto pods = ListPods(filter);
    EXPECT_TRUE(pods.ok()) << pods.status();
    if (!pods.ok()) return false;
    for (const v1::PodSandbox& pod : *pods) {
      if (pod.id() == pod_id) return true;
    }
    return false;
  }

  void ExpectPodState(const std::string& pod_id, v1::PodSandboxState state) {
    auto status = PodStatus(pod_id);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(status->status().state(), state) << status->status().ShortDebugString();
  }

  // createSandboxWithSysctls + a default container + checkSetSysctls.
  void CheckSysctl(const std::string& key, const std::string& value, const std::string& path) {
    v1::PodSandboxConfig config = DefaultPodConfig("pod-sandbox-with-sysctls-");
    (*config.mutable_linux()->mutable_sysctls())[key] = value;
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(config));
    OCID_ASSERT_OK_AND_ASSIGN(std::string container,
                              CreateDefaultContainer(pod, "container-" + key + "-"));
    OCID_ASSERT_OK(StartContainer(container));
    OCID_ASSERT_OK_AND_ASSIGN(ExecResult result, ExecSync(container, {"cat", path}, 60));
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
    EXPECT_EQ(absl::StripAsciiWhitespace(result.stdout_text), value);
  }
};

TEST_F(PodSandbox, RuntimeShouldSupportRunningPodSandbox) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-test-"));
  ExpectPodState(pod.id, v1::SANDBOX_READY);
  EXPECT_TRUE(Listed(pod.id)) << "PodSandbox should be listed";
}

TEST_F(PodSandbox, RuntimeShouldSupportStoppingPodSandbox) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-test-stop-"));
  OCID_ASSERT_OK(StopPod(pod.id));
  ExpectPodState(pod.id, v1::SANDBOX_NOTREADY);
}

TEST_F(PodSandbox, RuntimeShouldSupportRemovingPodSandbox) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-test-remove-"));
  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK(RemovePod(pod.id));
  EXPECT_FALSE(Listed(pod.id)) << "PodSandbox should be removed";
}

TEST_F(PodSandbox, ShouldSupportSafeSysctls) {
  CheckSysctl("kernel.shm_rmid_forced", "1", "/proc/sys/kernel/shm_rmid_forced");
}

TEST_F(PodSandbox, ShouldSupportUnsafeSysctls) {
  CheckSysctl("fs.mqueue.msg_max", "100", "/proc/sys/fs/mqueue/msg_max");
}

}  // namespace
}  // namespace ocid::e2e
