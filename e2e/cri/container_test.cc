// critest's "Container" specs (cri-tools pkg/validate/container.go, v1.29):
// the container lifecycle, ExecSync (with and without a timeout), host path
// volumes (plain and through a symlink) and the CRI log file, including its
// reopening after a rename, and container stats (ContainerStats,
// ListContainerStats with and without filters).
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

// critest's defaults (pkg/validate/container.go, consts.go).
constexpr int64_t kExecSyncTimeout = 30;
constexpr char kDefaultLog[] = "hello World";
const std::vector<std::string> kPauseCmd = {"sh", "-c", "top"};
const std::vector<std::string> kEchoHelloCmd = {"echo", "-n", "hello"};
constexpr char kEchoHelloOutput[] = "hello";
const std::vector<std::string> kSleepCmd = {"sleep", "4321"};
const std::vector<std::string> kCheckSleepCmd = {"sh", "-c", "pgrep sleep || true"};
// critest's Eventually(..., time.Minute, ...) on container states.
constexpr absl::Duration kStateTimeout = absl::Minutes(1);

// One line of a CRI log file, as critest's parseCRILog reads it.
struct LogMessage {
  absl::Time timestamp;
  std::string stream;
  std::string log;  // the message with its newline put back
};

std::string Describe(const std::vector<std::string>& cmd, const absl::StatusOr<ExecResult>& r) {
  if (!r.ok()) return absl::StrCat("cmd [", absl::StrJoin(cmd, " "), "]: ", r.status().ToString());
  return absl::StrCat("cmd [", absl::StrJoin(cmd, " "), "] exit ", r->exit_code, ", stdout \"",
                      r->stdout_text, "\", stderr \"", r->stderr_text, "\"");
}

std::string Describe(const std::vector<LogMessage>& messages) {
  std::vector<std::string> lines;
  for (const LogMessage& m : messages) lines.push_back(m.stream + " \"" + m.log + "\"");
  return "[" + absl::StrJoin(lines, ", ") + "]";
}

// Every line of the CRI log at `path`, each "<RFC3339Nano time> <stream>
// <tag> <message>"; critest fails the spec on a line it cannot parse, so do
// we (DataLoss). NotFound when the file cannot be opened.
absl::StatusOr<std::vector<LogMessage>> ParseLog(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  std::vector<LogMessage> messages;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (fields.size() < 4) return absl::DataLossError("not a CRI log line: \"" + line + "\"");
    LogMessage message;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, fields[0], &message.timestamp, &error)) {
      return absl::DataLossError(
          absl::StrCat("bad timestamp \"", fields[0], "\" (", error, ") in \"", line, "\""));
    }
    message.stream = fields[1];
    message.log = fields[3] + "\n";
    messages.push_back(std::move(message));
  }
  return messages;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// A fresh directory named `prefix` + random suffix, as os.MkdirTemp makes.
absl::StatusOr<std::string> MakeTempDir(const std::string& parent, const std::string& prefix) {
  std::string pattern = absl::StrCat(parent, "/", prefix, "XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, "mkdtemp " + pattern);
  }
  return pattern;
}

class Container : public CriTest {
 protected:
  // CreatePodSandboxForContainer.
  void SetUpPod() {
    absl::StatusOr<Pod> pod = RunDefaultPod("create-PodSandbox-for-container-");
    ASSERT_TRUE(pod.ok()) << pod.status();
    pod_ = *pod;
  }

  // CreatePauseContainer: the default container running `sh -c top`.
  absl::StatusOr<std::string> CreatePauseContainer(const std::string& prefix) {
    v1::ContainerConfig config = DefaultContainerConfig(prefix);
    SetCommand(config, kPauseCmd);
    return CreateContainer(pod_, config);
  }

  static void SetCommand(v1::ContainerConfig& config, const std::vector<std::string>& cmd) {
    config.clear_command();
    for (const std::string& arg : cmd) config.add_command(arg);
  }

  // listContainerStats (a nil filter sends none) and statFound.
  std::vector<v1::ContainerStats> ListStats(const v1::ContainerStatsFilter* filter) {
    v1::ListContainerStatsRequest request;
    if (filter != nullptr) *request.mutable_filter() = *filter;
    v1::ListContainerStatsResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::ListContainerStats, request, &response);
    EXPECT_TRUE(status.ok()) << "failed to list container stats: " << status;
    return {response.stats().begin(), response.stats().end()};
  }
  static bool StatFound(const std::vector<v1::ContainerStats>& stats, const std::string& id) {
    for (const v1::ContainerStats& s : stats) {
      if (s.attributes().id() == id) return true;
    }
    return false;
  }

  // listContainerForID + containerFound.
  bool Listed(const std::string& container_id) {
    v1::ContainerFilter filter;
    filter.set_id(container_id);
    absl::StatusOr<std::vector<v1::Container>> containers = ListContainers(filter);
    EXPECT_TRUE(containers.ok()) << containers.status();
    if (!containers.ok()) return false;
    for (const v1::Container& container : *containers) {
      if (container.id() == container_id) return true;
    }
    return false;
  }

  // testStartContainer: start, then RUNNING within a minute.
  void TestStartContainer(const std::string& container_id) {
    OCID_ASSERT_OK(StartContainer(container_id));
    OCID_EXPECT_OK(WaitForContainerState(container_id, v1::CONTAINER_RUNNING, kStateTimeout));
  }

  // testStopContainer: StopContainer with critest's 60 s must return within
  // those 60 s, then EXITED within a minute.
  void TestStopContainer(const std::string& container_id) {
    absl::Time start = absl::Now();
    OCID_ASSERT_OK(StopContainer(container_id, kDefaultStopTimeout));
    absl::Duration took = absl::Now() - start;
    EXPECT_LT(took, absl::Seconds(kDefaultStopTimeout)) << "stop container timed out";
    OCID_EXPECT_OK(WaitForContainerState(container_id, v1::CONTAINER_EXITED, kStateTimeout));
  }

  // execSyncContainer: no error (a non-zero exit is one to critest's
  // client), nothing on stderr; returns stdout.
  std::string ExecSyncContainer(const std::string& container_id,
                                const std::vector<std::string>& cmd) {
    absl::StatusOr<ExecResult> result = ExecSync(container_id, cmd, kExecSyncTimeout);
    EXPECT_TRUE(result.ok() && result->exit_code == 0) << Describe(cmd, result);
    if (!result.ok()) return "";
    EXPECT_EQ(result->stderr_text, "") << Describe(cmd, result);
    return result->stdout_text;
  }

  // createVolumeContainer + the spec's checks: `host_path` mounted at
  // itself into a `sh -c top` container, which must start and list the
  // directory's flag file there.
  void CheckVolume(const std::string& prefix, const std::string& host_path) {
    v1::ContainerConfig config = DefaultContainerConfig(prefix);
    config.clear_linux();  // critest's volume container has no Linux config
    SetCommand(config, kPauseCmd);
    v1::Mount* mount = config.add_mounts();
    mount->set_host_path(host_path);
    mount->set_container_path(host_path);
    mount->set_selinux_relabel(true);
    OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod_, config));
    TestStartContainer(id);
    if (HasFailure()) return;
    // critest: `ls -A PATH` prints something. It can only print the flag
    // file, which says the mount shows the host's directory.
    std::string output = ExecSyncContainer(id, {"ls", "-A", host_path});
    EXPECT_FALSE(output.empty()) << "ls -A " << host_path << " printed nothing";
    EXPECT_TRUE(absl::StrContains(output, kFlagFile)) << "ls -A " << host_path << ": " << output;
  }

  // createHostPath: a temp dir (in the run's scratch dir) with a flag file.
  absl::StatusOr<std::string> CreateHostPath() {
    absl::StatusOr<std::string> dir = MakeTempDir(Info().scratch_dir, "test" + pod_.id);
    if (!dir.ok()) return dir.status();
    std::ofstream flag(*dir + "/" + kFlagFile);
    if (!flag) return absl::ErrnoToStatus(errno, "create " + *dir + "/" + kFlagFile);
    return dir;
  }

  // createPodSandboxWithLogDirectory: the pod's log directory is
  // <temp dir>/<pod name>, made 0777 before the pod.
  void SetUpPodWithLogDirectory() {
    v1::PodSandboxConfig config = DefaultPodConfig("PodSandbox-with-log-directory-");
    absl::StatusOr<std::string> host_path = MakeTempDir(Info().pod_log_root, "podLogTest");
    ASSERT_TRUE(host_path.ok()) << host_path.status();
    log_host_path_ = *host_path;
    std::string log_dir = absl::StrCat(*host_path, "/", config.metadata().name());
    ASSERT_EQ(mkdir(log_dir.c_str(), 0777), 0)
        << "mkdir " << log_dir << ": " << std::strerror(errno);
    config.set_log_directory(log_dir);
    absl::StatusOr<Pod> pod = RunPod(config);
    ASSERT_TRUE(pod.ok()) << pod.status();
    pod_ = *pod;
  }

  // createLogContainer / createKeepLoggingContainer: `cmd` logging to
  // <name>.log in the pod's log directory; returns that log path.
  absl::StatusOr<std::string> CreateLogContainer(const std::string& prefix,
                                                 const std::vector<std::string>& cmd,
                                                 std::string* container_id) {
    v1::ContainerConfig config = DefaultContainerConfig(prefix);
    config.clear_linux();  // as critest's log containers
    SetCommand(config, cmd);
    config.set_log_path(config.metadata().name() + ".log");
    absl::StatusOr<std::string> id = CreateContainer(pod_, config);
    if (!id.ok()) return id.status();
    *container_id = *id;
    return config.log_path();
  }

  std::string LogFile(const std::string& log_path) const {
    return pod_.config.log_directory() + "/" + log_path;
  }

  // parseLogLine polled as critest's Eventually(...).ShouldNot(BeEmpty()):
  // every second for a minute; a missing or malformed file fails at once.
  absl::StatusOr<std::vector<LogMessage>> WaitForLogMessages(const std::string& path) {
    absl::Time deadline = absl::Now() + absl::Minutes(1);
    while (true) {
      absl::StatusOr<std::vector<LogMessage>> messages = ParseLog(path);
      if (!messages.ok() || !messages->empty()) return messages;
      if (absl::Now() > deadline) return absl::DeadlineExceededError("nothing logged to " + path);
      absl::SleepFor(absl::Seconds(1));
    }
  }

  void TearDown() override {
    CriTest::TearDown();  // the pod goes first, then its log directory
    if (!log_host_path_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(log_host_path_, ignored);
    }
  }

  static constexpr char kFlagFile[] = "testVolume.file";
  Pod pod_;
  std::string log_host_path_;
};

// ---- runtime should support basic operations on container -----------------

TEST_F(Container, RuntimeShouldSupportCreatingContainer) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod_, "container-for-create-"));
  EXPECT_TRUE(Listed(id)) << "Container should be created";
}

TEST_F(Container, RuntimeShouldSupportStartingContainer) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateDefaultContainer(pod_, "container-for-start-test-"));
  TestStartContainer(id);
}

TEST_F(Container, RuntimeShouldSupportStoppingContainer) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateDefaultContainer(pod_, "container-for-stop-test-"));
  OCID_ASSERT_OK(StartContainer(id));
  TestStopContainer(id);
}

TEST_F(Container, RuntimeShouldSupportRemovingCreatedContainer) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreatePauseContainer("container-for-remove-created-test-"));
  OCID_ASSERT_OK(RemoveContainer(id));
  EXPECT_FALSE(Listed(id)) << "Container should be removed";
}

TEST_F(Container, RuntimeShouldSupportRemovingRunningContainer) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreatePauseContainer("container-for-remove-running-test-"));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK(RemoveContainer(id));
  EXPECT_FALSE(Listed(id)) << "Container should be removed";
}

TEST_F(Container, RuntimeShouldSupportRemovingStoppedContainer) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreatePauseContainer("container-for-remove-stopped-test-"));
  OCID_ASSERT_OK(StartContainer(id));
  ASSERT_NO_FATAL_FAILURE(TestStopContainer(id));
  OCID_ASSERT_OK(RemoveContainer(id));
  EXPECT_FALSE(Listed(id)) << "Container should be removed";
}

TEST_F(Container, RuntimeShouldSupportExecSync) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateDefaultContainer(pod_, "container-for-execSync-test-"));
  OCID_ASSERT_OK(StartContainer(id));
  EXPECT_EQ(ExecSyncContainer(id, kEchoHelloCmd), kEchoHelloOutput)
      << "the stdout of execSync should be " << kEchoHelloOutput;
}

TEST_F(Container, RuntimeShouldSupportExecSyncWithTimeout) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateDefaultContainer(pod_, "container-for-execSync-timeout-test-"));
  OCID_ASSERT_OK(StartContainer(id));

  // critest only needs an error; kubelet's client reads a timed-out probe
  // from DEADLINE_EXCEEDED, and it must be ocid's answer, well before the
  // client's own deadline (timeout + 2 min) would give the same code.
  absl::Time start = absl::Now();
  absl::StatusOr<ExecResult> timed_out = ExecSync(id, kSleepCmd, /*timeout_s=*/1);
  absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(timed_out.ok() && timed_out->exit_code == 0) << "execSync should timeout";
  EXPECT_TRUE(absl::IsDeadlineExceeded(timed_out.status())) << Describe(kSleepCmd, timed_out);
  EXPECT_LT(took, absl::Seconds(30)) << "ExecSync waited for the command, not its 1 s timeout";

  // The timed-out sleep must be gone.
  absl::StatusOr<ExecResult> check = ExecSync(id, kCheckSleepCmd, kExecSyncTimeout);
  ASSERT_TRUE(check.ok() && check->exit_code == 0) << Describe(kCheckSleepCmd, check);
  EXPECT_EQ(check->stderr_text, "");
  EXPECT_EQ(absl::StripAsciiWhitespace(check->stdout_text), "")
      << "the timed-out exec's sleep is still running";
}

// listContainerStatsForID: ContainerStats of one container.
TEST_F(Container, RuntimeShouldSupportListingContainerStats) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod_, "container-for-stats-"));
  OCID_ASSERT_OK(StartContainer(id));
  v1::ContainerStatsRequest request;
  request.set_container_id(id);
  v1::ContainerStatsResponse response;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::ContainerStats, request, &response));
  const v1::ContainerStats& stats = response.stats();
  EXPECT_EQ(stats.attributes().id(), id);
  EXPECT_TRUE(absl::StrContains(stats.attributes().metadata().name(), "container-for-stats-"))
      << stats.attributes().metadata().name();
  EXPECT_NE(stats.cpu().timestamp(), 0);
  EXPECT_NE(stats.memory().timestamp(), 0);
}

TEST_F(Container, RuntimeShouldSupportListingStatsForStartedContainers) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod_, "container-for-stats-"));
  OCID_ASSERT_OK(StartContainer(id));
  v1::ContainerStatsFilter filter;
  filter.set_id(id);
  EXPECT_TRUE(StatFound(ListStats(&filter), id)) << "Container should be created";
}

TEST_F(Container, RuntimeShouldSupportListingStatsForStartedContainersWhenFilterIsNil) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateDefaultContainer(pod_, "container-for-stats-with-nil-filter-"));
  OCID_ASSERT_OK(StartContainer(id));
  EXPECT_TRUE(StatFound(ListStats(nullptr), id)) << "Stats should be found";
}

TEST_F(Container, RuntimeShouldSupportListingStatsForThreeCreatedContainersWhenFilterIsNil) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                              CreateDefaultContainer(pod_, "container-for-stats-with-nil-filter-"));
    ids.push_back(id);
  }
  for (const std::string& id : ids) OCID_ASSERT_OK(StartContainer(id));
  std::vector<v1::ContainerStats> stats = ListStats(nullptr);
  for (const std::string& id : ids) EXPECT_TRUE(StatFound(stats, id)) << "Stats should be found";
}

// ---- runtime should support adding volume and device ----------------------

TEST_F(Container, RuntimeShouldSupportStartingContainerWithVolume) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string host_path, CreateHostPath());
  absl::Cleanup remove = [&] {
    std::error_code ignored;
    std::filesystem::remove_all(host_path, ignored);
  };
  CheckVolume("container-with-volume-test-", host_path);
}

TEST_F(Container, RuntimeShouldSupportStartingContainerWithVolumeWhenHostPathIsASymlink) {
  ASSERT_NO_FATAL_FAILURE(SetUpPod());
  OCID_ASSERT_OK_AND_ASSIGN(std::string host_path, CreateHostPath());
  const std::string symlink_path = host_path + "-symlink";
  absl::Cleanup remove = [&] {
    std::error_code ignored;
    std::filesystem::remove(symlink_path, ignored);
    std::filesystem::remove_all(host_path, ignored);
  };
  ASSERT_EQ(symlink(host_path.c_str(), symlink_path.c_str()), 0)
      << "symlink " << symlink_path << ": " << std::strerror(errno);
  CheckVolume("container-with-symlink-host-path-test-", symlink_path);
}

// ---- runtime should support log --------------------------------------------

TEST_F(Container, RuntimeShouldSupportStartingContainerWithLog) {
  ASSERT_NO_FATAL_FAILURE(SetUpPodWithLogDirectory());
  std::string id;
  OCID_ASSERT_OK_AND_ASSIGN(std::string log_path, CreateLogContainer("container-with-log-test-",
                                                                     {"echo", kDefaultLog}, &id));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK(WaitForContainerState(id, v1::CONTAINER_EXITED, kStateTimeout));

  // verifyLogContents: a stdout line "hello World".
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<LogMessage> messages, ParseLog(LogFile(log_path)));
  bool found = false;
  for (const LogMessage& message : messages) {
    if (message.log == absl::StrCat(kDefaultLog, "\n") && message.stream == "stdout") found = true;
  }
  EXPECT_TRUE(found) << "expected log \"" << kDefaultLog << "\\n\" (stream=stdout) not found in "
                     << Describe(messages);
}

TEST_F(Container, RuntimeShouldSupportReopeningContainerLog) {
  ASSERT_NO_FATAL_FAILURE(SetUpPodWithLogDirectory());
  std::string id;
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string log_path,
      CreateLogContainer(
          "container-reopen-log-test-",
          {"sh", "-c", absl::StrCat("while true; do echo ", kDefaultLog, "; sleep 1; done")}, &id));
  OCID_ASSERT_OK(StartContainer(id));
  const std::string old_file = LogFile(log_path);
  absl::Status logged = WaitForLogMessages(old_file).status();
  ASSERT_TRUE(logged.ok()) << "container log should be generated: " << logged;

  const std::string renamed = LogFile(log_path + ".new");
  ASSERT_EQ(rename(old_file.c_str(), renamed.c_str()), 0)
      << "rename " << old_file << ": " << std::strerror(errno);
  v1::ReopenContainerLogRequest request;
  request.set_container_id(id);
  v1::ReopenContainerLogResponse response;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::ReopenContainerLog, request, &response));

  ASSERT_TRUE(PathExists(old_file)) << "new container log file should be created";
  logged = WaitForLogMessages(old_file).status();
  ASSERT_TRUE(logged.ok()) << "new container log should be generated: " << logged;
  // critest's Consistently: the renamed file takes no more lines, checked
  // each second for 5 s.
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<LogMessage> old_messages, ParseLog(renamed));
  for (int i = 0; i < 5; ++i) {
    absl::SleepFor(absl::Seconds(1));
    OCID_ASSERT_OK_AND_ASSIGN(std::vector<LogMessage> now, ParseLog(renamed));
    ASSERT_EQ(now.size(), old_messages.size()) << "old container log should not change";
  }
}

}  // namespace
}  // namespace ocid::e2e
