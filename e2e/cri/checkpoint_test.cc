// CheckpointContainer and restores from checkpoint archives (issue 14; not
// in specs.txt): the refusals, which run on every host, and a busybox
// counter checkpointed and restored into a new container that counts on,
// skipped with criu's reason where `criu check` fails.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "e2e/cri/cri_suite.h"
#include "pkg/base/subprocess.h"

namespace ocid::e2e {
namespace {

class Checkpoint : public CriTest {
 protected:
  // One of the dirs ocid writes checkpoints below (<root>/checkpoints).
  static std::string Dir() { return Info().root_dir + "/checkpoints"; }

  absl::Status CheckpointContainer(const std::string& id, const std::string& location) {
    v1::CheckpointContainerRequest request;
    request.set_container_id(id);
    request.set_location(location);
    v1::CheckpointContainerResponse response;
    return Call(&v1::RuntimeService::Stub::CheckpointContainer, request, &response);
  }

  // criu check's output when CRIU cannot work here; "" when it can.
  static std::string CriuRefusal() {
    absl::StatusOr<CommandResult> result =
        RunCommand({"/usr/sbin/criu", "check"}, absl::Seconds(60));
    if (!result.ok()) return std::string(result.status().message());
    if (ExitedZero(result->wait_status)) return "";
    return std::string(absl::StripAsciiWhitespace(result->stderr_data + result->stdout_data));
  }

  // A busybox that counts up every 100 ms into /count.
  v1::ContainerConfig Counter(const std::string& name) {
    v1::ContainerConfig config = DefaultContainerConfig(name);
    config.clear_command();
    for (const char* arg :
         {"sh", "-c", "i=0; while true; do i=$((i+1)); echo $i >/count; sleep 0.1; done"}) {
      config.add_command(arg);
    }
    return config;
  }

  absl::StatusOr<int> Count(const std::string& id) {
    absl::StatusOr<ExecResult> cat = ExecSync(id, {"cat", "/count"}, 10);
    if (!cat.ok()) return cat.status();
    int count = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(cat->stdout_text), &count)) {
      return absl::InternalError("no count in: " + cat->stdout_text);
    }
    return count;
  }

  static bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }
};

TEST_F(Checkpoint, AContainerNotRunningIsFailedPrecondition) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("checkpoint-created"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "created"));
  const std::string location = Dir() + "/created-" + NewUuid() + ".tar";
  absl::Status status = CheckpointContainer(id, location);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(status.message().find("is not running"), std::string::npos) << status;
  EXPECT_FALSE(Exists(location));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK(StopContainer(id, 0));
  status = CheckpointContainer(id, location);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << "exited: " << status;
  EXPECT_FALSE(Exists(location));
  EXPECT_TRUE(absl::IsNotFound(CheckpointContainer("0123456789abcdef", location)));
}

TEST_F(Checkpoint, ALocationOutsideTheDirsOrExistingIsInvalidArgument) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("checkpoint-location"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "located"));
  OCID_ASSERT_OK(StartContainer(id));
  const std::string outside = Info().scratch_dir + "/outside-" + NewUuid() + ".tar";
  for (const std::string& location :
       {outside, std::string("relative.tar"), std::string(""), Dir() + "/../escape.tar",
        Dir() + "/nodir/x.tar", std::string("/var/lib/kubelet/checkpoints-not/x.tar")}) {
    absl::Status status = CheckpointContainer(id, location);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << "\"" << location << "\": " << status;
  }
  EXPECT_FALSE(Exists(outside));
  EXPECT_FALSE(Exists(Info().root_dir + "/escape.tar"));

  // An existing file is neither replaced nor written into.
  ASSERT_EQ(::mkdir(Dir().c_str(), 0700) == 0 || errno == EEXIST, true);
  const std::string existing = Dir() + "/existing-" + NewUuid() + ".tar";
  std::ofstream(existing) << "keep me";
  absl::Status status = CheckpointContainer(id, existing);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_NE(status.message().find("exists already"), std::string::npos) << status;
  std::ifstream in(existing);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "keep me");
  ::unlink(existing.c_str());
}

TEST_F(Checkpoint, AMalformedArchiveAsImageIsRefusedAndNothingIsMade) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("checkpoint-malformed"));
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> before, ListContainers());
  const std::string garbage = Info().scratch_dir + "/garbage-" + NewUuid() + ".tar";
  std::ofstream(garbage) << "this is no checkpoint archive";
  // A real tar, but without config.dump, spec.dump and CRIU's images.
  const std::string dir = Info().scratch_dir + "/notacheckpoint-" + NewUuid();
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  std::ofstream(dir + "/hello") << "hello";
  const std::string plain = dir + ".tar";
  absl::StatusOr<CommandResult> tar =
      RunCommand({"/bin/tar", "-C", dir, "-cf", plain, "hello"}, absl::Seconds(30));
  ASSERT_TRUE(tar.ok() && ExitedZero(tar->wait_status));
  for (const std::string& archive : {garbage, plain}) {
    v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(pod.id);
    *request.mutable_config() = DefaultContainerConfig("restored");
    request.mutable_config()->mutable_image()->set_image(archive);
    *request.mutable_sandbox_config() = pod.config;
    v1::CreateContainerResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::CreateContainer, request, &response);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << archive << ": " << status;
    EXPECT_TRUE(absl::StartsWith(status.message(), "config.image.image: ")) << status;
  }
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> after, ListContainers());
  EXPECT_EQ(after.size(), before.size());
  // No unpacked archive is left in ocid's container dirs either.
  absl::StatusOr<CommandResult> left = RunCommand(
      {"/bin/sh", "-c", "ls -d " + Info().root_dir + "/containers/restore-* 2>/dev/null"},
      absl::Seconds(10));
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->stdout_data, "");
}

TEST_F(Checkpoint, ARestoredCounterKeepsItsCount) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("checkpoint-counter"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, Counter("counter")));
  OCID_ASSERT_OK(StartContainer(id));
  absl::SleepFor(absl::Seconds(2));
  const std::string location = Dir() + "/counter-" + NewUuid() + ".tar";
  const std::string refusal = CriuRefusal();
  if (!refusal.empty()) {
    // Where CRIU cannot work, the call says so with criu's reason.
    absl::Status status = CheckpointContainer(id, location);
    EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
    std::string first_line(absl::StripAsciiWhitespace(
        std::vector<std::string>(absl::StrSplit(refusal, '\n')).front()));
    EXPECT_NE(status.message().find(first_line), std::string::npos) << status;
    EXPECT_FALSE(Exists(location));
    GTEST_SKIP() << "criu cannot run on this host (criu check: " << refusal << ")";
  }

  OCID_ASSERT_OK_AND_ASSIGN(int before, Count(id));
  ASSERT_GT(before, 0);
  OCID_ASSERT_OK(CheckpointContainer(id, location));
  ASSERT_TRUE(Exists(location));
  OCID_ASSERT_OK_AND_ASSIGN(int original, Count(id));
  EXPECT_GE(original, before) << "the original runs on";
  OCID_ASSERT_OK(StopContainer(id, 0));

  v1::ContainerConfig config = Counter("restored");
  config.mutable_image()->set_image(location);
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(pod.id);
  *request.mutable_config() = config;
  *request.mutable_sandbox_config() = pod.config;
  v1::CreateContainerResponse created;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::CreateContainer, request, &created));
  const std::string restored = created.container_id();
  OCID_ASSERT_OK(StartContainer(restored));
  OCID_ASSERT_OK_AND_ASSIGN(int after, Count(restored));
  // Counting on from the checkpoint, not from 0 (a fresh start counts about
  // 10 per second).
  EXPECT_GE(after, before) << "restored from " << before;
  absl::SleepFor(absl::Milliseconds(500));
  OCID_ASSERT_OK_AND_ASSIGN(int later, Count(restored));
  EXPECT_GT(later, after) << "it runs";
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(restored));
  EXPECT_EQ(status.status().state(), v1::CONTAINER_RUNNING);
  OCID_EXPECT_OK(StopContainer(restored, 0));
  OCID_EXPECT_OK(RemoveContainer(restored));
  ::unlink(location.c_str());
}

}  // namespace
}  // namespace ocid::e2e
