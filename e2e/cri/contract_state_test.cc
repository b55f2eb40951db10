// The CRI contracts critest does not check, part 2: what kubelet reads after
// ocid restarts (gracefully or killed), and the behaviour behind the defects
// issue 8 lists that critest does not pin down: an ExecSync timeout kills
// what it ran, ReopenContainerLog returns once the new log takes output,
// short image names are found again under the name given, images are found
// by ID and ID prefix, and ContainerStatus says what `crictl inspect` users
// and kubelet read (a repo tag, a repo digest, the verbose info keys).
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "e2e/cri/contract_support.h"
#include "nlohmann/json.hpp"

namespace ocid::e2e {
namespace {

using ::absl::StatusCode;

std::map<std::string, std::string> AsMap(const google::protobuf::Map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// True while something accepts connections on the unix socket at `path`.
bool Answers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // can't tell: say "up" so nothing fires early
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return up;
}

// Creates `file` as soon as ocid's socket stops answering, i.e. while ocid
// is down during a restart; joins in the destructor.
class WhenOcidIsDown {
 public:
  WhenOcidIsDown(std::string socket, std::string file)
      : socket_(std::move(socket)), file_(std::move(file)), thread_([this] { Run(); }) {}
  ~WhenOcidIsDown() {
    stop_ = true;
    thread_.join();
  }
  bool fired() const { return fired_; }

 private:
  void Run() {
    while (!stop_) {
      if (!Answers(socket_)) {
        std::ofstream(file_) << "go\n";
        fired_ = true;
        return;
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  }
  const std::string socket_;
  const std::string file_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

// ---- after an ocid restart -----------------------------------------------

class CriContractRestart : public ContractTest, public ::testing::WithParamInterface<bool> {};

TEST_P(CriContractRestart, PodsAndContainersKeepTheirStateAcrossARestart) {
  const bool kill = GetParam();
  v1::PodSandboxConfig pod_config = DefaultPodConfig("restart-");
  (*pod_config.mutable_labels())["contract"] = "restart";
  (*pod_config.mutable_annotations())["contract.ocid/note"] = "kept across restarts";
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(pod_config));

  v1::ContainerConfig running_config = DefaultContainerConfig("restart-running-");
  (*running_config.mutable_labels())["role"] = "running";
  (*running_config.mutable_annotations())["contract.ocid/ctr"] = "running";
  OCID_ASSERT_OK_AND_ASSIGN(std::string running, CreateContainer(pod, running_config));
  OCID_ASSERT_OK(StartContainer(running));

  // A container that exits with 7 once `go` appears in a host dir, which a
  // watcher creates the moment ocid stops answering.
  const std::string shared = absl::StrCat(Info().scratch_dir, "/restart-", NewUuid());
  ASSERT_EQ(::mkdir(shared.c_str(), 0755), 0) << std::strerror(errno);
  v1::ContainerConfig exiting_config = DefaultContainerConfig("restart-exiting-");
  exiting_config.clear_command();
  for (const char* arg : {"sh", "-c", "until [ -e /w/go ]; do sleep 0.05; done; exit 7"}) {
    exiting_config.add_command(arg);
  }
  v1::Mount& mount = *exiting_config.add_mounts();
  mount.set_container_path("/w");
  mount.set_host_path(shared);
  OCID_ASSERT_OK_AND_ASSIGN(std::string exiting, CreateContainer(pod, exiting_config));
  OCID_ASSERT_OK(StartContainer(exiting));

  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse pod_before, PodStatus(pod.id));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse running_before, ContainerStatus(running));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse exiting_before, ContainerStatus(exiting));
  ASSERT_EQ(running_before.status().state(), v1::CONTAINER_RUNNING);
  ASSERT_EQ(exiting_before.status().state(), v1::CONTAINER_RUNNING);
  ASSERT_FALSE(pod_before.status().network().ip().empty());
  const std::set<std::string> pods_before = PodIds();
  const std::set<std::string> containers_before = ContainerIds();

  bool exited_while_down = false;
  {
    WhenOcidIsDown watcher(Info().socket, shared + "/go");
    OCID_ASSERT_OK(RestartOcid(kill));
    exited_while_down = watcher.fired();
  }
  if (!exited_while_down) std::ofstream(shared + "/go") << "go\n";
  RecordProperty("go_written_while_ocid_was_down", exited_while_down ? "yes" : "no");

  EXPECT_EQ(PodIds(), pods_before);
  EXPECT_EQ(ContainerIds(), containers_before);

  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse pod_after, PodStatus(pod.id));
  const v1::PodSandboxStatus& p0 = pod_before.status();
  const v1::PodSandboxStatus& p1 = pod_after.status();
  EXPECT_EQ(p1.id(), p0.id());
  EXPECT_EQ(p1.state(), v1::SANDBOX_READY);
  EXPECT_EQ(p1.metadata().SerializeAsString(), p0.metadata().SerializeAsString());
  EXPECT_EQ(p1.created_at(), p0.created_at());
  EXPECT_EQ(p1.network().ip(), p0.network().ip());
  EXPECT_EQ(AsMap(p1.labels()), AsMap(p0.labels()));
  EXPECT_EQ(AsMap(p1.annotations()), AsMap(p0.annotations()));
  EXPECT_EQ(p1.labels().at("contract"), "restart");

  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse running_after, ContainerStatus(running));
  const v1::ContainerStatus& c0 = running_before.status();
  const v1::ContainerStatus& c1 = running_after.status();
  EXPECT_EQ(c1.id(), c0.id());
  EXPECT_EQ(c1.state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(c1.metadata().SerializeAsString(), c0.metadata().SerializeAsString());
  EXPECT_EQ(c1.created_at(), c0.created_at());
  EXPECT_EQ(c1.started_at(), c0.started_at());
  EXPECT_EQ(c1.image().image(), c0.image().image());
  EXPECT_EQ(c1.image_ref(), c0.image_ref());
  EXPECT_EQ(c1.log_path(), c0.log_path());
  EXPECT_EQ(AsMap(c1.labels()), AsMap(c0.labels()));
  EXPECT_EQ(AsMap(c1.annotations()), AsMap(c0.annotations()));

  // The pod's containers as ListContainers shows them, same IDs and names.
  v1::ContainerFilter in_pod;
  in_pod.set_pod_sandbox_id(pod.id);
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> listed, ListContainers(in_pod));
  EXPECT_EQ(listed.size(), 2u);

  // The exit (while ocid was down, or just after) is recorded with its code.
  absl::Status waited = WaitForContainerState(exiting, v1::CONTAINER_EXITED, absl::Seconds(30));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse exited, ContainerStatus(exiting));
  ASSERT_TRUE(waited.ok()) << waited << "; state "
                           << v1::ContainerState_Name(exited.status().state()) << ", reason \""
                           << exited.status().reason() << "\"";
  EXPECT_EQ(exited.status().exit_code(), 7);
  EXPECT_EQ(exited.status().reason(), "Error");
  EXPECT_GE(exited.status().finished_at(), exited.status().started_at());
  EXPECT_EQ(exited.status().started_at(), exiting_before.status().started_at());

  OCID_ASSERT_OK_AND_ASSIGN(ExecResult exec, ExecSync(running, {"echo", "still-here"}));
  EXPECT_EQ(exec.exit_code, 0);
  EXPECT_EQ(exec.stdout_text, "still-here\n");

  // Stop and remove leave nothing of it.
  OCID_ASSERT_OK(StopContainer(running, 2));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse stopped, ContainerStatus(running));
  EXPECT_EQ(stopped.status().state(), v1::CONTAINER_EXITED);
  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK(RemovePod(pod.id));
  EXPECT_EQ(PodIds().count(pod.id), 0u);
  const std::set<std::string> containers_now = ContainerIds();
  EXPECT_EQ(containers_now.count(running), 0u);
  EXPECT_EQ(containers_now.count(exiting), 0u);
}

INSTANTIATE_TEST_SUITE_P(Restart, CriContractRestart, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Sigkill" : "Sigterm");
                         });

// ---- ExecSync timeout, ReopenContainerLog ---------------------------------

class CriContractExec : public ContractTest {
 protected:
  // The `ps` lines (pid, command name, args) of the sleeps in container `id`;
  // busybox's ps, as the images have no pgrep of their own.
  absl::StatusOr<std::vector<std::string>> SleepProcesses(const std::string& id) {
    absl::StatusOr<ExecResult> ps = ExecSync(id, {"ps", "-o", "pid,comm,args"});
    if (!ps.ok()) return ps.status();
    if (ps->exit_code != 0) return absl::InternalError("ps failed: " + ps->stderr_text);
    std::vector<std::string> sleeps;
    for (absl::string_view line : absl::StrSplit(ps->stdout_text, '\n')) {
      std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      if (fields.size() >= 2 && fields[1] == "sleep") sleeps.emplace_back(line);
    }
    return sleeps;
  }
};

TEST_F(CriContractExec, ExecSyncTimeoutKillsTheProcess) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("exec-timeout-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "exec-timeout-"));
  OCID_ASSERT_OK(StartContainer(id));
  // The container runs `top`: no `sleep` until the exec starts one.
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<std::string> before, SleepProcesses(id));
  ASSERT_TRUE(before.empty()) << "a sleep is running already: " << before[0];

  absl::Time start = absl::Now();
  absl::StatusOr<ExecResult> timed_out = ExecSync(id, {"sleep", "30"}, /*timeout_s=*/2);
  absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(timed_out.ok()) << "an ExecSync past its timeout succeeded";
  EXPECT_LT(took, absl::Seconds(10)) << "ExecSync waited for the command, not the timeout";
  // conmon's -T timer has one-second granularity (it may fire up to a
  // second early): the call must not return before the timeout less that.
  EXPECT_GE(took, absl::Seconds(1));

  // By the time the call returned the command must be gone (not left
  // running, nor a zombie).
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<std::string> left, SleepProcesses(id));
  EXPECT_TRUE(left.empty()) << "still there after the timeout: " << left[0];
}

class CriContractLog : public ContractTest {
 protected:
  // The numbers N of the "line-N" messages in a CRI log.
  static std::vector<int> LineNumbers(const std::vector<LogLine>& lines);
};

std::vector<int> CriContractLog::LineNumbers(const std::vector<LogLine>& lines) {
  std::vector<int> numbers;
  for (const LogLine& line : lines) {
    absl::string_view message = line.message;
    int n = 0;
    if (absl::ConsumePrefix(&message, "line-") && absl::SimpleAtoi(message, &n)) {
      numbers.push_back(n);
    }
  }
  return numbers;
}

TEST_F(CriContractLog, ReopenContainerLogReturnsOnceTheNewLogTakesOutput) {
  v1::PodSandboxConfig pod_config = DefaultPodConfig("reopen-");
  const std::string log_dir = absl::StrCat(Info().pod_log_root, "/reopen-", NewUuid());
  pod_config.set_log_directory(log_dir);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(pod_config));
  v1::ContainerConfig config = DefaultContainerConfig("reopen-");
  config.clear_command();
  for (const char* arg :
       {"sh", "-c", "i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.1; done"}) {
    config.add_command(arg);
  }
  config.set_log_path("reopen.log");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  const std::string path = log_dir + "/reopen.log";

  absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::vector<int> old_numbers;
  while (old_numbers.size() < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    absl::StatusOr<std::vector<LogLine>> lines = ReadContainerLog(path);
    if (lines.ok()) old_numbers = LineNumbers(*lines);
  }
  ASSERT_GE(old_numbers.size(), 3u) << "the container logged nothing to " << path;

  // What logrotate (kubelet's log manager) does: rename, then reopen.
  ASSERT_EQ(::rename(path.c_str(), (path + ".1").c_str()), 0) << std::strerror(errno);
  v1::ReopenContainerLogRequest request;
  request.set_container_id(id);
  v1::ReopenContainerLogResponse response;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::ReopenContainerLog, request, &response));
  // kubelet reads (and may rotate) the new file as soon as the call returns.
  EXPECT_TRUE(Exists(path)) << "ReopenContainerLog returned before " << path << " existed";

  std::vector<int> new_numbers;
  deadline = absl::Now() + absl::Seconds(5);
  while (new_numbers.empty() && absl::Now() < deadline) {
    absl::StatusOr<std::vector<LogLine>> lines = ReadContainerLog(path);
    if (lines.ok()) new_numbers = LineNumbers(*lines);
    if (new_numbers.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(new_numbers.empty()) << "no output reached the reopened log";
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<LogLine> rotated, ReadContainerLog(path + ".1"));
  old_numbers = LineNumbers(rotated);
  ASSERT_FALSE(old_numbers.empty());
  // Every line is in one file or the other, in order, none lost.
  EXPECT_EQ(new_numbers.front(), old_numbers.back() + 1);
}

// ---- images by short name, ID and prefix ----------------------------------

class CriContractImage : public ContractTest {};

TEST_F(CriContractImage, ShortNameIsFoundUnderTheNameGiven) {
  // Resolved through unqualified-search-registries (docker.io) and the
  // suite's mirror of docker.io.
  const std::string short_name = "busybox:latest";
  OCID_ASSERT_OK_AND_ASSIGN(std::string ref, PullImage(short_name));
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image by_short, ImageStatus(short_name));
  EXPECT_FALSE(by_short.id().empty());
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image by_full, ImageStatus("docker.io/library/busybox:latest"));
  EXPECT_EQ(by_full.id(), by_short.id());
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image by_docker, ImageStatus("docker.io/busybox:latest"));
  EXPECT_EQ(by_docker.id(), by_short.id());
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image untagged, ImageStatus("busybox"));
  EXPECT_EQ(untagged.id(), by_short.id());
  EXPECT_NE(std::find(by_short.repo_tags().begin(), by_short.repo_tags().end(),
                      "docker.io/library/busybox:latest"),
            by_short.repo_tags().end())
      << "repo tags lack the normalised name";
  v1::ImageFilter filter;
  filter.mutable_image()->set_image(short_name);
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Image> listed, ListImages(filter));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), by_short.id());

  // The seed walkthrough: a container by the short name.
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("short-name-"));
  v1::ContainerConfig config = DefaultContainerConfig("short-name-");
  config.mutable_image()->set_image(short_name);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_EQ(status.status().image_id(), by_short.id());
  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK(RemovePod(pod.id));

  OCID_ASSERT_OK(RemoveImage(short_name));
  EXPECT_TRUE(HasCode(ImageStatus(short_name).status(), StatusCode::kNotFound));
  EXPECT_TRUE(
      HasCode(ImageStatus("docker.io/library/busybox:latest").status(), StatusCode::kNotFound));
}

TEST_F(CriContractImage, ImageIsFoundByIdWithOrWithoutPrefixAndByIdPrefix) {
  OCID_ASSERT_OK(PullImage(kDefaultImage).status());
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image image, ImageStatus(kDefaultImage));
  ASSERT_TRUE(absl::StartsWith(image.id(), "sha256:")) << image.id();
  const std::string hex = image.id().substr(strlen("sha256:"));
  for (const std::string& name : {image.id(), hex, hex.substr(0, 12)}) {
    SCOPED_TRACE(name);
    absl::StatusOr<v1::Image> found = ImageStatus(name);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->id(), image.id());
    v1::ImageFilter filter;
    filter.mutable_image()->set_image(name);
    OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Image> listed, ListImages(filter));
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].id(), image.id());
  }
  // By repo digest too.
  ASSERT_FALSE(image.repo_digests().empty());
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image by_digest, ImageStatus(image.repo_digests(0)));
  EXPECT_EQ(by_digest.id(), image.id());
}

// ---- what ContainerStatus tells kubelet and `crictl inspect` ---------------

class CriContractInspect : public ContractTest {};

TEST_F(CriContractInspect, ImageIsARepoTagAndImageRefARepoDigest) {
  OCID_ASSERT_OK(PullImage(kDefaultImage).status());
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image image, ImageStatus(kDefaultImage));
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("image-fields-"));
  // kubelet creates containers by image ID, and shows `image` in pod status.
  for (const std::string& by : {image.id(), std::string(kDefaultImage)}) {
    SCOPED_TRACE(by);
    v1::ContainerConfig config = DefaultContainerConfig("image-fields-");
    config.mutable_image()->set_image(by);
    OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
    OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
    const v1::ContainerStatus& s = status.status();
    EXPECT_NE(std::find(image.repo_tags().begin(), image.repo_tags().end(), s.image().image()),
              image.repo_tags().end())
        << "image \"" << s.image().image() << "\" is not a repo tag of " << image.id();
    EXPECT_NE(std::find(image.repo_digests().begin(), image.repo_digests().end(), s.image_ref()),
              image.repo_digests().end())
        << "image_ref \"" << s.image_ref() << "\" is not a repo digest of " << image.id();
    EXPECT_TRUE(absl::StrContains(s.image_ref(), "@sha256:")) << s.image_ref();
    EXPECT_EQ(s.image_id(), image.id());
    OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> listed, [&] {
      v1::ContainerFilter filter;
      filter.set_id(id);
      return ListContainers(filter);
    }());
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].image().image(), s.image().image());
    EXPECT_EQ(listed[0].image_ref(), s.image_ref());
  }
}

TEST_F(CriContractInspect, VerboseInfoHasRuntimeSpecPrivilegedPidAndSandboxId) {
  for (bool privileged : {false, true}) {
    SCOPED_TRACE(privileged ? "privileged" : "unprivileged");
    v1::PodSandboxConfig pod_config = DefaultPodConfig("verbose-");
    pod_config.mutable_linux()->mutable_security_context()->set_privileged(privileged);
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(pod_config));
    v1::ContainerConfig config = DefaultContainerConfig("verbose-");
    config.mutable_linux()->mutable_security_context()->set_privileged(privileged);
    OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
    OCID_ASSERT_OK(StartContainer(id));
    OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status,
                              ContainerStatus(id, /*verbose=*/true));
    ASSERT_EQ(status.info().count("info"), 1u) << "no info[\"info\"]";
    nlohmann::json info =
        nlohmann::json::parse(status.info().at("info"), nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(info.is_object()) << status.info().at("info");

    ASSERT_TRUE(info.contains("sandboxID")) << info.dump();
    EXPECT_EQ(info["sandboxID"], pod.id);

    ASSERT_TRUE(info.contains("privileged")) << info.dump();
    ASSERT_TRUE(info["privileged"].is_boolean()) << info["privileged"];
    EXPECT_EQ(info["privileged"].get<bool>(), privileged);

    ASSERT_TRUE(info.contains("pid")) << info.dump();
    ASSERT_TRUE(info["pid"].is_number_integer()) << info["pid"];
    const int64_t pid = info["pid"].get<int64_t>();
    ASSERT_GT(pid, 0);
    // The host pid of the container's init: its command is the container's.
    std::ifstream cmdline_file(absl::StrCat("/proc/", pid, "/cmdline"));
    std::stringstream cmdline;
    cmdline << cmdline_file.rdbuf();
    EXPECT_EQ(cmdline.str().substr(0, cmdline.str().find('\0')), "top");

    ASSERT_TRUE(info.contains("runtimeSpec")) << info.dump();
    const nlohmann::json& spec = info["runtimeSpec"];
    ASSERT_TRUE(spec.is_object()) << spec;
    EXPECT_TRUE(spec.contains("ociVersion"));
    ASSERT_TRUE(spec.contains("process"));
    EXPECT_EQ(spec["process"]["args"], nlohmann::json::array({"top"}));
    ASSERT_TRUE(spec.contains("root"));
    EXPECT_TRUE(spec["root"].contains("path"));
    ASSERT_TRUE(spec.contains("linux"));
    OCID_ASSERT_OK(StopPod(pod.id));
    OCID_ASSERT_OK(RemovePod(pod.id));
  }
}

// ---- PID namespace TARGET (kubectl debug's ephemeral containers) ---------

class CriContractTargetPid : public ContractTest {};

TEST_F(CriContractTargetPid, AContainerJoinsAnotherContainersPidNamespace) {
  v1::PodSandboxConfig pod_config = DefaultPodConfig("target-pid-");
  pod_config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      v1::CONTAINER);  // each container its own, as kubelet makes them
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(pod_config));
  v1::ContainerConfig target = DefaultContainerConfig("target-");
  target.clear_command();
  for (const char* arg : {"sleep", "3600"}) target.add_command(arg);
  OCID_ASSERT_OK_AND_ASSIGN(std::string target_id, CreateContainer(pod, target));
  OCID_ASSERT_OK(StartContainer(target_id));

  v1::ContainerConfig debug = DefaultContainerConfig("debugger-");
  auto& ns = *debug.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns.set_pid(v1::TARGET);
  ns.set_target_id(target_id);
  OCID_ASSERT_OK_AND_ASSIGN(std::string debug_id, CreateContainer(pod, debug));
  OCID_ASSERT_OK(StartContainer(debug_id));
  // PID 1 of the namespace the debugger sees is the target's sleep.
  OCID_ASSERT_OK_AND_ASSIGN(ExecResult seen, ExecSync(debug_id, {"cat", "/proc/1/cmdline"}));
  EXPECT_EQ(seen.stdout_text.substr(0, 5), "sleep") << seen.stdout_text;

  ns.set_target_id("0123456789abcdef");
  debug.mutable_metadata()->set_name("debugger-unknown");
  absl::StatusOr<std::string> unknown = CreateContainer(pod, debug);
  EXPECT_TRUE(
      HasCode(unknown.status(), absl::StatusCode::kNotFound, "namespace_options.target_id"));
}

// ---- ContainerStatus.user -------------------------------------------------

class CriContractStatusUser : public ContractTest {};

TEST_F(CriContractStatusUser, ContainerStatusSaysWhichUserTheProcessRunsAs) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("status-user-"));
  v1::ContainerConfig config = DefaultContainerConfig("status-user-");
  auto& sc = *config.mutable_linux()->mutable_security_context();
  sc.mutable_run_as_user()->set_value(1000);
  sc.mutable_run_as_group()->set_value(2000);
  sc.add_supplemental_groups(3000);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  ASSERT_TRUE(status.status().has_user());
  const v1::LinuxContainerUser& user = status.status().user().linux();
  EXPECT_EQ(user.uid(), 1000);
  EXPECT_EQ(user.gid(), 2000);
  EXPECT_NE(std::find(user.supplemental_groups().begin(), user.supplemental_groups().end(), 3000),
            user.supplemental_groups().end());
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK_AND_ASSIGN(ExecResult seen, ExecSync(id, {"id", "-u"}));
  EXPECT_EQ(seen.stdout_text, "1000\n") << "what the status says is what runs";
}

// ---- the Stream* list calls ---------------------------------------------

class CriContractStreams : public ContractTest {
 protected:
  std::set<std::string> StreamedContainerIds(const v1::ContainerFilter& filter) {
    v1::StreamContainersRequest request;
    *request.mutable_filter() = filter;
    auto messages = ReadStream<v1::StreamContainersResponse>(
        &v1::RuntimeService::Stub::StreamContainers, request);
    EXPECT_TRUE(messages.ok()) << messages.status();
    std::set<std::string> ids;
    for (const auto& message : messages.value_or(std::vector<v1::StreamContainersResponse>{})) {
      for (const auto& c : message.containers()) ids.insert(c.id());
    }
    return ids;
  }

  std::set<std::string> ListedContainerIds(const v1::ContainerFilter& filter) {
    auto listed = ListContainers(filter);
    EXPECT_TRUE(listed.ok()) << listed.status();
    std::set<std::string> ids;
    for (const auto& c : listed.value_or(std::vector<v1::Container>{})) ids.insert(c.id());
    return ids;
  }
};

TEST_F(CriContractStreams, EachStreamAnswersWhatItsListTwinDoesWithTheSameFilters) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("streams"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string running, CreateDefaultContainer(pod, "streams-run"));
  OCID_ASSERT_OK(StartContainer(running));
  OCID_ASSERT_OK_AND_ASSIGN(std::string created, CreateDefaultContainer(pod, "streams-new"));

  v1::ContainerFilter all, by_pod, by_state, by_id;
  by_pod.set_pod_sandbox_id(pod.id);
  by_state.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  by_id.set_id(created.substr(0, 12));
  for (const v1::ContainerFilter* filter : {&all, &by_pod, &by_state, &by_id}) {
    EXPECT_EQ(StreamedContainerIds(*filter), ListedContainerIds(*filter))
        << filter->ShortDebugString();
  }
  EXPECT_EQ(StreamedContainerIds(by_state), std::set<std::string>{running});
  EXPECT_EQ(StreamedContainerIds(by_id), std::set<std::string>{created});

  v1::StreamPodSandboxesRequest pods_request;
  pods_request.mutable_filter()->set_id(pod.id);
  OCID_ASSERT_OK_AND_ASSIGN(auto pod_messages,
                            (ReadStream<v1::StreamPodSandboxesResponse>(
                                &v1::RuntimeService::Stub::StreamPodSandboxes, pods_request)));
  ASSERT_EQ(pod_messages.size(), 1u);
  ASSERT_EQ(pod_messages[0].pod_sandboxes_size(), 1);
  const v1::PodSandbox& streamed = pod_messages[0].pod_sandboxes(0);
  EXPECT_EQ(streamed.metadata().uid(), pod.config.metadata().uid());
  EXPECT_EQ(streamed.state(), v1::SANDBOX_READY);
  v1::PodSandboxFilter pod_filter;
  pod_filter.set_id(pod.id);
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::PodSandbox> listed, ListPods(pod_filter));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(streamed.SerializeAsString(), listed[0].SerializeAsString());

  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Image> images, ListImages());
  OCID_ASSERT_OK_AND_ASSIGN(auto image_messages,
                            (ReadStream<v1::StreamImagesResponse>(
                                &v1::ImageService::Stub::StreamImages, v1::StreamImagesRequest())));
  std::set<std::string> listed_images, streamed_images;
  for (const auto& image : images) listed_images.insert(image.id());
  for (const auto& message : image_messages) {
    for (const auto& image : message.images()) streamed_images.insert(image.id());
  }
  EXPECT_FALSE(streamed_images.empty());
  EXPECT_EQ(streamed_images, listed_images);
}

TEST_F(CriContractStreams, AFilterThatMatchesNothingStreamsNoMessage) {
  v1::StreamImagesRequest request;
  request.mutable_filter()->mutable_image()->set_image("never/pulled:here");
  OCID_ASSERT_OK_AND_ASSIGN(auto messages, (ReadStream<v1::StreamImagesResponse>(
                                               &v1::ImageService::Stub::StreamImages, request)));
  EXPECT_TRUE(messages.empty());
  v1::ContainerFilter unknown;
  unknown.set_pod_sandbox_id("0123456789abcdef");
  EXPECT_TRUE(StreamedContainerIds(unknown).empty());
}

}  // namespace
}  // namespace ocid::e2e
