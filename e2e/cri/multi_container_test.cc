// critest's "Multiple Containers" specs (cri-tools pkg/validate/
// multi_container_linux.go, v1.29): one pod with a log directory and a
// container port, running an httpd and a busybox container side by side;
// each spec checks that both work at once (network, logs, exec).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e/cri/cri_suite.h"
#include "pkg/base/fs.h"

namespace ocid::e2e {
namespace {

// critest's defaultExecSyncTimeout, in seconds.
constexpr int64_t kExecSyncTimeout = 30;
constexpr int32_t kHttpdContainerPort = 80;
// critest's defaultLog: what the busybox container echoes.
constexpr char kDefaultLog[] = "hello World";
// What httpd logs at start (its "Command line: ..." notice).
constexpr char kHttpdLog[] = "httpd -D FOREGROUND";

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The spec's BeforeEach runs in SetUp (a fatal failure there skips the
// body), its AfterEach in TearDown.
class MultipleContainers : public CriTest {
 protected:
  void SetUp() override {
    CriTest::SetUp();
    if (HasFatalFailure()) return;
    RunPodWithTwoContainers();
  }

  void TearDown() override {
    // critest wants the pod's stop and removal to succeed.
    if (!pod_.id.empty()) {
      OCID_EXPECT_OK(StopPod(pod_.id));
      OCID_EXPECT_OK(RemovePod(pod_.id));
    }
    CriTest::TearDown();
    if (!log_dir_.empty()) {
      absl::Status removed = RemoveAll(log_dir_);
      EXPECT_TRUE(removed.ok()) << removed;
    }
  }

  // createMultiContainerTestPodSandbox + the httpd and busybox containers,
  // each started and seen running.
  void RunPodWithTwoContainers() {
    v1::PodSandboxConfig config = DefaultPodConfig("PodSandbox-for-multi-container-test-");
    log_dir_ = absl::StrCat(Info().pod_log_root, "/", config.metadata().name());
    ASSERT_EQ(mkdir(log_dir_.c_str(), 0777), 0) << "mkdir " << log_dir_ << ": " << strerror(errno);
    config.set_log_directory(log_dir_);
    config.add_port_mappings()->set_container_port(kHttpdContainerPort);
    OCID_ASSERT_OK_AND_ASSIGN(pod_, RunPod(config));

    // httpd runs its image's own entrypoint.
    v1::ContainerConfig httpd = DefaultContainerConfig("httpd");
    httpd.mutable_image()->set_image(kHttpdImage);
    httpd.clear_command();
    httpd.set_log_path(httpd.metadata().name() + ".log");
    OCID_ASSERT_OK_AND_ASSIGN(httpd_id_, CreateContainer(pod_, httpd));
    ASSERT_NO_FATAL_FAILURE(StartAndExpectRunning(httpd_id_));

    v1::ContainerConfig busybox = DefaultContainerConfig("busybox");
    busybox.clear_command();
    for (const char* arg : {"sh", "-c"}) busybox.add_command(arg);
    busybox.add_command(absl::StrCat("echo ", kDefaultLog, "; sleep 1000"));
    busybox.clear_linux();  // critest gives this one no Linux config
    busybox.set_log_path(busybox.metadata().name() + ".log");
    OCID_ASSERT_OK_AND_ASSIGN(busybox_id_, CreateContainer(pod_, busybox));
    ASSERT_NO_FATAL_FAILURE(StartAndExpectRunning(busybox_id_));
  }

  // testStartContainer.
  void StartAndExpectRunning(const std::string& id) {
    OCID_ASSERT_OK(StartContainer(id));
    OCID_ASSERT_OK(WaitForContainerState(id, v1::CONTAINER_RUNNING));
  }

  // critest's execSyncContainer: succeeds, nothing on stderr; the stdout.
  std::string ExecOk(const std::string& id, const std::vector<std::string>& cmd) {
    absl::StatusOr<ExecResult> result = ExecSync(id, cmd, kExecSyncTimeout);
    if (!result.ok()) {
      ADD_FAILURE() << "ExecSync in " << id << ": " << result.status();
      return "";
    }
    EXPECT_EQ(result->exit_code, 0) << result->stderr_text;
    EXPECT_EQ(result->stderr_text, "") << "The stderr should be empty.";
    return result->stdout_text;
  }

  // Polls the log file the container's status names until it holds
  // `expected` (critest: a minute, every 100 ms).
  void ExpectLogContains(const std::string& id, const std::string& expected) {
    OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
    const std::string path = status.status().log_path();
    ASSERT_FALSE(path.empty()) << "container " << id << " reports no log path";
    absl::Time deadline = absl::Now() + absl::Minutes(1);
    std::string content = ReadWholeFile(path);
    while (!absl::StrContains(content, expected) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      content = ReadWholeFile(path);
    }
    EXPECT_TRUE(absl::StrContains(content, expected))
        << "log " << path << " of " << id << " should contain \"" << expected << "\", has:\n"
        << content;
  }

  Pod pod_;
  std::string log_dir_;
  std::string httpd_id_;
  std::string busybox_id_;
};

TEST_F(MultipleContainers, ShouldSupportNetwork) {
  // checkMainPage with no host port: the pod's IP, on the suite's bridge.
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse status, PodStatus(pod_.id));
  ASSERT_TRUE(status.status().has_network()) << "The network in status should not be nil.";
  const std::string ip = status.status().network().ip();
  ASSERT_FALSE(ip.empty()) << "The IP should not be nil.";

  absl::Time deadline = absl::Now() + absl::Minutes(1);
  absl::StatusOr<int> code = HttpGetStatus(ip, kHttpdContainerPort);
  while (!code.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Seconds(1));
    code = HttpGetStatus(ip, kHttpdContainerPort);
  }
  ASSERT_TRUE(code.ok()) << "GET http://" << ip << ":" << kHttpdContainerPort
                         << "/: " << code.status();
  EXPECT_EQ(*code, 200) << "The status code of response should be 200.";
}

TEST_F(MultipleContainers, ShouldSupportContainerLog) {
  ExpectLogContains(httpd_id_, kHttpdLog);
  ExpectLogContains(busybox_id_, kDefaultLog);
}

TEST_F(MultipleContainers, ShouldSupportContainerExec) {
  EXPECT_EQ(ExecOk(httpd_id_, {"echo", "httpd"}), "httpd\n");
  EXPECT_EQ(ExecOk(busybox_id_, {"echo", "busybox"}), "busybox\n");
}

}  // namespace
}  // namespace ocid::e2e
