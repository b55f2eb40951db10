// OciRuntime against the real runc, crun and conmon, with busybox bundles.
// Needs root; every test removes its containers, conmons, cgroups and files.
#include "pkg/oci/runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/subprocess.h"
#include "pkg/oci/conmon_internal.h"

namespace ocid {
namespace {

using oci_internal::CriLogStreams;

constexpr char kRunc[] = "/usr/sbin/runc";
constexpr char kCrun[] = "/usr/bin/crun";
constexpr char kConmon[] = "/usr/bin/conmon";
constexpr char kBusybox[] = "/bin/busybox";
constexpr char kCgroupParent[] = "ocid-runtime-test";
constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

// Polls `done` every 20 ms until it holds or `timeout` passes.
template <typename Predicate>
bool WaitFor(Predicate done, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::string ReadOrEmpty(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path, 16 << 20);
  return text.ok() ? *text : "";
}

// True while `pid` is a conmon that has not exited (zombies don't count: this
// machine's init does not reap orphans).
bool ConmonRuns(pid_t pid) {
  std::string stat = ReadOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  size_t close = stat.rfind(')');
  return absl::StrContains(stat, "(conmon)") && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

bool IsMountPoint(const std::string& path) {
  struct stat self;
  struct stat parent;
  return ::stat(path.c_str(), &self) == 0 && ::stat((path + "/..").c_str(), &parent) == 0 &&
         self.st_dev != parent.st_dev;
}

// crun refuses hybrid cgroups unless hugetlb is mounted as v1 here (see
// MACHINE-NOTES); left mounted, as the e2e setup does too.
bool EnsureHugetlbMounted() {
  const std::string target = std::string(kCgroupRoot) + "/hugetlb";
  if (IsMountPoint(target)) return true;
  ::mkdir(target.c_str(), 0755);
  return ::mount("cgroup", target.c_str(), "cgroup", 0, "hugetlb") == 0;
}

struct Tracked {
  RuntimeHandler handler;
  ContainerLaunch launch;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    char dir[] = "/tmp/ocid-rt-XXXXXX";  // short: conmon's attach socket lives below
    ASSERT_NE(::mkdtemp(dir), nullptr);
    root_ = dir;
    exit_dir_ = root_ + "/exits";
    ASSERT_TRUE(MakeDirs(exit_dir_, 0700).ok());
  }

  void TearDown() override {
    for (const Tracked& tracked : tracked_) CleanUp(tracked);
    if (subreaper_) {
      // Orphans (conmons, exec'd processes) were reparented to us: reap
      // them, or they would stay zombies of init once the test exits. The
      // test starts no other children that it waits for.
      WaitFor([] { return ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD; },
              absl::Seconds(5));
      ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    }
    for (const auto& entry : std::filesystem::directory_iterator(kCgroupRoot)) {
      ::rmdir((entry.path().string() + "/" + kCgroupParent).c_str());
    }
    if (!root_.empty()) {
      EXPECT_TRUE(RemoveAll(root_).ok());
    }
  }

  // The runtime's state, conmon and the cgroups of one container.
  static void CleanUp(const Tracked& tracked) {
    const std::string& id = tracked.launch.id;
    RunCommand({tracked.handler.path, "--root", tracked.handler.root, "delete", "--force", id},
               absl::Seconds(30))
        .status()
        .IgnoreError();
    int conmon = 0;
    std::string pid_text = ReadOrEmpty(tracked.launch.bundle + "/conmon.pid");
    if (absl::SimpleAtoi(pid_text, &conmon) && conmon > 0) {
      // It exits by itself once the container is gone.
      if (!WaitFor([&] { return !ConmonRuns(conmon); }, absl::Seconds(3))) {
        ::kill(conmon, SIGKILL);
      }
    }
    for (const auto& entry : std::filesystem::directory_iterator(kCgroupRoot)) {
      std::string dir = absl::StrCat(entry.path().string(), "/", kCgroupParent, "/", id);
      WaitFor([&] { return ::rmdir(dir.c_str()) == 0 || errno != EBUSY; }, absl::Seconds(3));
    }
  }

  OciRuntime MakeRuntime(const std::string& name, const std::string& path) {
    RuntimeHandler handler;
    handler.path = path;
    handler.root = root_ + "/" + name + "-root";
    handlers_[name] = handler;
    return OciRuntime(name, handler, kConmon, root_ + "/run");
  }

  // A busybox bundle running `args`, tracked for clean-up under `handler`.
  ContainerLaunch MakeBundle(const std::string& name, const std::vector<std::string>& args,
                             const std::string& handler = "runc") {
    ContainerLaunch launch;
    launch.id = absl::StrCat(name, "-", ::getpid());
    launch.name = "test-" + name;
    const std::string dir = root_ + "/" + launch.id;
    launch.bundle = dir + "/bundle";
    launch.log_path = dir + "/ctr.log";
    launch.exit_dir = exit_dir_;
    launch.persist_dir = dir + "/persist";
    tracked_.push_back({handlers_[handler], launch});

    const std::string bin = launch.bundle + "/rootfs/bin";
    EXPECT_TRUE(MakeDirs(bin, 0755).ok());
    std::filesystem::copy_file(kBusybox, bin + "/busybox");
    std::filesystem::create_symlink("busybox", bin + "/sh");
    auto spec = RunCommand({kRunc, "spec", "--bundle", launch.bundle}, absl::Seconds(30));
    EXPECT_TRUE(spec.ok() && spec->wait_status == 0) << spec.status();
    WriteConfig(launch, args);
    return launch;
  }

  // runc's default spec, edited: our args, no terminal, a test cgroup, no
  // network namespace (no CNI needed).
  static void WriteConfig(const ContainerLaunch& launch, const std::vector<std::string>& args) {
    const std::string path = launch.bundle + "/config.json";
    nlohmann::json config = nlohmann::json::parse(ReadOrEmpty(path));
    config["process"]["args"] = args;
    config["process"]["terminal"] = false;
    config["linux"]["cgroupsPath"] = absl::StrCat("/", kCgroupParent, "/", launch.id);
    nlohmann::json namespaces = nlohmann::json::array();
    for (const nlohmann::json& ns : config["linux"]["namespaces"]) {
      if (ns["type"] != "network") namespaces.push_back(ns);
    }
    config["linux"]["namespaces"] = namespaces;
    std::ofstream(path) << config.dump(2);
  }

  static void CreateAndStart(OciRuntime& runtime, const ContainerLaunch& launch) {
    absl::StatusOr<pid_t> conmon = runtime.Create(launch);
    ASSERT_TRUE(conmon.ok()) << conmon.status();
    absl::Status started = runtime.Start(launch.id);
    ASSERT_TRUE(started.ok()) << started;
  }

  static absl::StatusOr<ContainerExit> WaitForExit(const ContainerLaunch& launch) {
    absl::StatusOr<ContainerExit> exit;
    WaitFor(
        [&] {
          exit = ReadExitFile(launch.exit_dir, launch.id, launch.persist_dir);
          return exit.ok();
        },
        absl::Seconds(10));
    return exit;
  }

  // Orphans get reparented to this process, as to ocid (a subreaper).
  void BecomeSubreaper() {
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    subreaper_ = true;
  }

  bool subreaper_ = false;
  std::string root_;
  std::string exit_dir_;
  std::map<std::string, RuntimeHandler> handlers_;
  std::vector<Tracked> tracked_;
};

// A fake cgroup tree: v1 controllers and a v2 root, as plain dirs.
TEST(RemoveCgroupsOfTest, RemovesTheContainersDirInEveryHierarchyAndNothingElse) {
  std::string root = absl::StrCat(getenv("TEST_TMPDIR"), "/cgroups");
  std::string id = "0123abcd";
  for (const char* controller : {"cpu", "memory", "pids"}) {
    std::filesystem::create_directories(absl::StrCat(root, "/", controller, "/ocid/", id));
    std::filesystem::create_directories(absl::StrCat(root, "/", controller, "/ocid/other"));
  }
  std::filesystem::create_directories(absl::StrCat(root, "/ocid/", id));  // v2's
  std::string spec = absl::StrCat(getenv("TEST_TMPDIR"), "/config.json");
  std::ofstream(spec) << nlohmann::json{{"linux", {{"cgroupsPath", "/ocid/" + id}}}}.dump();

  absl::Status removed = RemoveCgroupsOf(spec, root);
  ASSERT_TRUE(removed.ok()) << removed;
  for (const char* controller : {"cpu", "memory", "pids"}) {
    EXPECT_FALSE(std::filesystem::exists(absl::StrCat(root, "/", controller, "/ocid/", id)));
    EXPECT_TRUE(std::filesystem::exists(absl::StrCat(root, "/", controller, "/ocid/other")));
  }
  EXPECT_FALSE(std::filesystem::exists(absl::StrCat(root, "/ocid/", id)));
  EXPECT_TRUE(RemoveCgroupsOf(spec, root).ok()) << "gone already: fine";
  EXPECT_TRUE(RemoveCgroupsOf(spec + ".missing", root).ok()) << "no spec: nothing to do";

  std::ofstream(spec) << nlohmann::json{{"linux", {{"cgroupsPath", "system.slice:ocid:x"}}}}.dump();
  EXPECT_TRUE(RemoveCgroupsOf(spec, root).ok()) << "systemd's form is not ours";
}

TEST_F(RuntimeTest, CreateStartAndState) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("state", {"/bin/busybox", "sleep", "1000"});
  absl::StatusOr<pid_t> conmon = runtime.Create(launch);
  ASSERT_TRUE(conmon.ok()) << conmon.status();
  EXPECT_TRUE(ConmonRuns(*conmon));

  absl::StatusOr<RuntimeState> state = runtime.State(launch.id);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->status, "created");
  EXPECT_GT(state->pid, 0);

  ASSERT_TRUE(runtime.Start(launch.id).ok());
  state = runtime.State(launch.id);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->status, "running");
  ASSERT_GT(state->pid, 0);
  EXPECT_EQ(::kill(state->pid, 0), 0);
  EXPECT_TRUE(
      absl::IsNotFound(ReadExitFile(launch.exit_dir, launch.id, launch.persist_dir).status()));
  EXPECT_EQ(runtime.handler_name(), "runc");
}

TEST_F(RuntimeTest, ExecSyncCollectsOutputAndExitCode) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("exec", {"/bin/busybox", "sleep", "1000"});
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));

  absl::StatusOr<ExecResult> result =
      runtime.ExecSync(launch.id, launch.bundle, {"/bin/sh", "-c", "echo hi; echo err >&2; exit 3"},
                       absl::Seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "hi\n");
  EXPECT_EQ(result->stderr_data, "err\n");
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_FALSE(result->timed_out);

  // No timeout, and output without a final newline.
  result = runtime.ExecSync(launch.id, launch.bundle, {"/bin/sh", "-c", "printf abc"},
                            absl::ZeroDuration());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "abc");
  EXPECT_EQ(result->exit_code, 0);

  // A command that does not exist is an error that names it.
  result = runtime.ExecSync(launch.id, launch.bundle, {"/nope"}, absl::Seconds(10));
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::StrContains(result.status().message(), "/nope")) << result.status();

  // The temp files are gone.
  for (const auto& entry : std::filesystem::directory_iterator(launch.bundle)) {
    EXPECT_FALSE(absl::StartsWith(entry.path().filename().string(), "exec-")) << entry.path();
  }
}

// All of a channel's output until it ends, stdout and stderr apart.
std::pair<std::string, std::string> DrainOutput(streaming::Channel& channel) {
  std::string out, err;
  for (;;) {
    absl::StatusOr<streaming::Output> next = channel.ReadOutput();
    if (!next.ok() || next->data.empty()) break;
    (next->kind == streaming::OutputKind::kStderr ? err : out) += next->data;
  }
  return {out, err};
}

TEST_F(RuntimeTest, InteractiveExecWithPipesAndWithATerminal) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("iexec", {"/bin/busybox", "sleep", "1000"});
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));

  absl::StatusOr<std::unique_ptr<streaming::Channel>> exec = runtime.StartExec(
      launch.id, launch.bundle, {"/bin/sh", "-c", "read x; echo got $x; echo err >&2; exit 3"},
      streaming::ExecStdio{/*tty=*/false, /*stdin=*/true, {}});
  ASSERT_TRUE(exec.ok()) << exec.status();
  ASSERT_TRUE((*exec)->WriteInput("typed\n").ok());
  (*exec)->CloseInput();
  auto [out, err] = DrainOutput(**exec);
  EXPECT_EQ(out, "got typed\n");
  EXPECT_EQ(err, "err\n");
  absl::StatusOr<std::optional<int>> code = (*exec)->Wait();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, std::optional<int>(3));

  // A terminal of a size given at the start, seen by the command's first
  // instruction (no resize has had time to arrive).
  exec = runtime.StartExec(launch.id, launch.bundle, {"/bin/busybox", "stty", "size"},
                           streaming::ExecStdio{true, true, {132, 43}});
  ASSERT_TRUE(exec.ok()) << exec.status();
  auto [first_out, first_err] = DrainOutput(**exec);
  EXPECT_TRUE(absl::StrContains(first_out, "43 132")) << first_out;
  (*exec)->Wait().status().IgnoreError();

  // A terminal: one output, its size set from ours.
  exec = runtime.StartExec(launch.id, launch.bundle,
                           {"/bin/sh", "-c", "sleep 0.5; /bin/busybox stty size; test -t 0"},
                           streaming::ExecStdio{true, true, {}});
  ASSERT_TRUE(exec.ok()) << exec.status();
  ASSERT_TRUE((*exec)->Resize(90, 33).ok());
  auto [tty_out, tty_err] = DrainOutput(**exec);
  EXPECT_TRUE(absl::StrContains(tty_out, "33 90")) << tty_out;
  EXPECT_EQ(tty_err, "");
  code = (*exec)->Wait();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, std::optional<int>(0)) << "stdin is a terminal";
  exec->reset();

  for (const auto& entry : std::filesystem::directory_iterator(launch.bundle)) {
    EXPECT_FALSE(absl::StartsWith(entry.path().filename().string(), "exec-")) << entry.path();
  }
}

TEST_F(RuntimeTest, CancelKillsTheExecdCommand) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("icancel", {"/bin/busybox", "sleep", "1000"});
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));
  absl::StatusOr<std::unique_ptr<streaming::Channel>> exec =
      runtime.StartExec(launch.id, launch.bundle, {"/bin/busybox", "sleep", "7777"}, {});
  ASSERT_TRUE(exec.ok()) << exec.status();
  std::thread reader([&] { DrainOutput(**exec); });
  absl::SleepFor(absl::Milliseconds(300));
  absl::Time start = absl::Now();
  (*exec)->Cancel();
  reader.join();
  absl::StatusOr<std::optional<int>> code = (*exec)->Wait();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, std::optional<int>(137));  // SIGKILL
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(RuntimeTest, AttachJoinsTheContainersStdio) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("attach", {"/bin/sh"});
  launch.stdin = true;
  launch.stdin_once = true;
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));
  absl::StatusOr<std::unique_ptr<streaming::Channel>> attach =
      runtime.Attach(launch.id, launch.bundle, /*stdin=*/true);
  ASSERT_TRUE(attach.ok()) << attach.status();
  ASSERT_TRUE((*attach)->WriteInput("echo hello; echo oops >&2\n").ok());
  // stdin_once: the end of our input closes the shell's, and it exits.
  (*attach)->CloseInput();
  auto [out, err] = DrainOutput(**attach);
  EXPECT_EQ(out, "hello\n");
  EXPECT_EQ(err, "oops\n");
  absl::StatusOr<std::optional<int>> code = (*attach)->Wait();
  ASSERT_TRUE(code.ok());
  EXPECT_FALSE(code->has_value()) << "an attach has no exit code of its own";
  absl::StatusOr<ContainerExit> exit = WaitForExit(launch);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0);
}

TEST_F(RuntimeTest, ExecSyncTimesOut) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("exectimeout", {"/bin/busybox", "sleep", "1000"});
  std::filesystem::create_symlink("busybox", launch.bundle + "/rootfs/bin/sleep");
  // As in ocid: conmon's orphans come to us, and nobody else reaps them.
  ASSERT_NO_FATAL_FAILURE(BecomeSubreaper());
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));

  absl::Time start = absl::Now();
  absl::StatusOr<ExecResult> result =
      runtime.ExecSync(launch.id, launch.bundle, {"/bin/sleep", "31337"}, absl::Seconds(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->timed_out);
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));
  // critest's check (pgrep sleep, which matches zombies too): the exec'd
  // process is gone from the container, neither running nor a zombie.
  result = runtime.ExecSync(launch.id, launch.bundle, {"/bin/sh", "-c", "cat /proc/[0-9]*/stat"},
                            absl::Seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(absl::StrContains(result->stdout_data, "(busybox)")) << result->stdout_data;
  EXPECT_FALSE(absl::StrContains(result->stdout_data, "(sleep)")) << result->stdout_data;
  // The container itself still runs.
  absl::StatusOr<RuntimeState> state = runtime.State(launch.id);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->status, "running");
}

TEST_F(RuntimeTest, KillWakesTheExitWatcher) {
  absl::Mutex mu;
  std::vector<std::string> exited;
  auto watcher = ExitWatcher::Start(exit_dir_, [&](const std::string& id) {
    absl::MutexLock lock(&mu);
    exited.push_back(id);
  });
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("kill", {"/bin/busybox", "sleep", "1000"});
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));
  absl::Time killed_at = absl::Now();
  ASSERT_TRUE(runtime.Kill(launch.id, SIGKILL).ok());

  auto seen = [&] { return std::find(exited.begin(), exited.end(), launch.id) != exited.end(); };
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(10)));
  }
  absl::StatusOr<ContainerExit> exit = ReadExitFile(launch.exit_dir, launch.id, launch.persist_dir);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 137);
  EXPECT_FALSE(exit->oom_killed);
  EXPECT_LT(absl::AbsDuration(exit->finished_at - killed_at), absl::Seconds(10));

  EXPECT_TRUE(absl::IsNotFound(runtime.Kill(launch.id, SIGKILL)));
  absl::StatusOr<ExecResult> exec =
      runtime.ExecSync(launch.id, launch.bundle, {"/bin/sh", "-c", "true"}, absl::Seconds(5));
  EXPECT_FALSE(exec.ok());
  absl::StatusOr<RuntimeState> state = runtime.State(launch.id);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->status, "stopped");
  EXPECT_EQ(state->pid, 0);
  // conmon's socket dir for the container goes with it (the leak census
  // found one left per container).
  const std::string sockets = root_ + "/run/conmon-sockets/" + launch.id;
  EXPECT_EQ(::access(sockets.c_str(), F_OK), 0) << sockets;
  EXPECT_TRUE(runtime.Delete(launch.id, false).ok());
  EXPECT_NE(::access(sockets.c_str(), F_OK), 0) << sockets;
  EXPECT_TRUE(runtime.Delete(launch.id, false).ok());
  EXPECT_TRUE(runtime.Delete(launch.id, true).ok());
  EXPECT_TRUE(absl::IsNotFound(runtime.State(launch.id).status()));
}

TEST_F(RuntimeTest, ExitCodeOfAContainerThatExits) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("exit5", {"/bin/sh", "-c", "exit 5"});
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));
  absl::StatusOr<ContainerExit> exit = WaitForExit(launch);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 5);
  EXPECT_EQ(ReadOrEmpty(launch.persist_dir + "/exit"), "5");
}

TEST_F(RuntimeTest, LogHasCriLines) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("log", {"/bin/sh", "-c", "echo hello; echo oops >&2"});
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));
  ASSERT_TRUE(WaitForExit(launch).ok());

  std::vector<std::string> lines =
      absl::StrSplit(ReadOrEmpty(launch.log_path), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << ReadOrEmpty(launch.log_path);
  std::vector<std::string> tails;
  for (const std::string& line : lines) {
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    ASSERT_EQ(fields.size(), 2u);
    absl::Time time;
    std::string error;
    EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, fields[0], &time, &error)) << line;
    EXPECT_LT(absl::AbsDuration(absl::Now() - time), absl::Minutes(1));
    tails.push_back(fields[1]);
  }
  std::sort(tails.begin(), tails.end());
  EXPECT_EQ(tails, (std::vector<std::string>{"stderr F oops", "stdout F hello"}));
}

TEST_F(RuntimeTest, ReopenLogAfterRename) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle(
      "reopen", {"/bin/sh", "-c",
                 "i=0; while true; do echo line$i; i=$((i+1)); /bin/busybox sleep 0.05; done"});
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(runtime, launch));
  ASSERT_TRUE(WaitFor([&] { return !ReadOrEmpty(launch.log_path).empty(); }, absl::Seconds(5)));

  const std::string rotated = launch.log_path + ".1";
  ASSERT_EQ(::rename(launch.log_path.c_str(), rotated.c_str()), 0);
  absl::Status reopened = runtime.ReopenLog(launch.bundle, launch.log_path);
  ASSERT_TRUE(reopened.ok()) << reopened;
  // The new file is there when the call returns, and gets the new output.
  EXPECT_TRUE(std::filesystem::exists(launch.log_path));
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(ReadOrEmpty(launch.log_path), "\n"); },
                      absl::Seconds(5)));

  // Line numbers go on where the renamed file stopped.
  auto numbers = [](const std::string& text) {
    std::vector<int> result;
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      int n = -1;
      size_t at = line.rfind("line");
      if (at != absl::string_view::npos && absl::SimpleAtoi(line.substr(at + 4), &n)) {
        result.push_back(n);
      }
    }
    return result;
  };
  std::vector<int> old_numbers = numbers(ReadOrEmpty(rotated));
  std::vector<int> new_numbers = numbers(ReadOrEmpty(launch.log_path));
  ASSERT_FALSE(old_numbers.empty());
  ASSERT_FALSE(new_numbers.empty());
  EXPECT_GT(new_numbers.front(), old_numbers.back());

  // A log path conmon does not write: the reopen is reported as not done.
  absl::Time start = absl::Now();
  reopened = runtime.ReopenLog(launch.bundle, root_ + "/not-the-log");
  EXPECT_TRUE(absl::IsDeadlineExceeded(reopened)) << reopened;
  EXPECT_GE(absl::Now() - start, absl::Seconds(4));
  EXPECT_TRUE(runtime.Kill(launch.id, SIGKILL).ok());
}

TEST_F(RuntimeTest, CreateWithABogusCommandFailsCleanly) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("bogus", {"/nope"});
  absl::StatusOr<pid_t> conmon = runtime.Create(launch);
  ASSERT_FALSE(conmon.ok());
  EXPECT_TRUE(absl::StrContains(conmon.status().message(), "/nope")) << conmon.status();

  int pid = 0;
  if (absl::SimpleAtoi(ReadOrEmpty(launch.bundle + "/conmon.pid"), &pid)) {
    EXPECT_TRUE(WaitFor([&] { return !ConmonRuns(pid); }, absl::Seconds(3)));
  }
  EXPECT_TRUE(absl::IsNotFound(runtime.State(launch.id).status()));
}

// A handler whose binary fails (or is missing): the error names the
// handler and its binary, and nothing of the container is left, not even
// conmon's socket dir (which only Delete removed).
TEST_F(RuntimeTest, CreateWithAFailingRuntimeNamesTheHandlerAndLeavesNothing) {
  const std::string script = root_ + "/failing-runtime";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\necho \"failing runtime: no\" >&2\nexit 1\n";
  }
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  const std::vector<std::string> paths = {script, root_ + "/no-such-runtime"};
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    SCOPED_TRACE(path);
    OciRuntime runtime = MakeRuntime("broken", path);
    ContainerLaunch launch =
        MakeBundle(absl::StrCat("broken", i), {"/bin/busybox", "sleep", "1000"});
    absl::StatusOr<pid_t> conmon = runtime.Create(launch);
    ASSERT_FALSE(conmon.ok());
    EXPECT_TRUE(absl::StrContains(conmon.status().message(), "runtime handler \"broken\""))
        << conmon.status();
    EXPECT_TRUE(absl::StrContains(conmon.status().message(), path)) << conmon.status();
    const std::string sockets = root_ + "/run/conmon-sockets/" + launch.id;
    EXPECT_NE(::access(sockets.c_str(), F_OK), 0) << sockets << " is left";
    int pid = 0;
    if (absl::SimpleAtoi(ReadOrEmpty(launch.bundle + "/conmon.pid"), &pid)) {
      EXPECT_TRUE(WaitFor([&] { return !ConmonRuns(pid); }, absl::Seconds(3)));
    }
  }
}

TEST_F(RuntimeTest, CreateReportsConmonErrors) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("badlog", {"/bin/busybox", "sleep", "1000"});
  launch.log_path = root_ + "/missing-dir/ctr.log";
  absl::StatusOr<pid_t> conmon = runtime.Create(launch);
  ASSERT_FALSE(conmon.ok());
  EXPECT_TRUE(absl::StrContains(conmon.status().message(), "log file")) << conmon.status();
  EXPECT_TRUE(absl::IsNotFound(runtime.State(launch.id).status()));
}

// runc checkpoint of a running container: CRIU's images where CRIU works,
// else runc's failure with CRIU's own error from its dump.log.
TEST_F(RuntimeTest, CheckpointWritesCriusImagesOrSaysWhyNot) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  ContainerLaunch launch = MakeBundle("checkpoint", {"/bin/busybox", "sleep", "1000"});
  ASSERT_TRUE(runtime.Create(launch).ok());
  ASSERT_TRUE(runtime.Start(launch.id).ok());
  ASSERT_TRUE(runtime.Pause(launch.id).ok());
  EXPECT_EQ(runtime.State(launch.id)->status, "paused");
  ASSERT_TRUE(runtime.Resume(launch.id).ok());
  EXPECT_EQ(runtime.State(launch.id)->status, "running");
  EXPECT_TRUE(absl::IsNotFound(runtime.Pause("never-created")));
  const std::string work = root_ + "/checkpoint-work";
  std::filesystem::create_directories(work + "/images");
  absl::Status checkpointed = runtime.Checkpoint(launch.id, work + "/images", work, true);
  if (CheckCriu().ok()) {
    ASSERT_TRUE(checkpointed.ok()) << checkpointed;
    EXPECT_TRUE(std::filesystem::exists(work + "/images/inventory.img"));
    EXPECT_EQ(runtime.State(launch.id)->status, "running") << "--leave-running";
  } else {
    EXPECT_FALSE(checkpointed.ok());
    EXPECT_NE(checkpointed.message().find("checkpoint"), std::string::npos) << checkpointed;
    EXPECT_NE(checkpointed.message().find("(criu: "), std::string::npos) << checkpointed;
    EXPECT_EQ(runtime.State(launch.id)->status, "running") << "a failed dump leaves it running";
  }
  EXPECT_TRUE(absl::IsNotFound(runtime.Checkpoint("never-created", work, work, true)));
  ASSERT_TRUE(runtime.Kill(launch.id, SIGKILL).ok());
}

TEST_F(RuntimeTest, UnknownContainers) {
  OciRuntime runtime = MakeRuntime("runc", kRunc);
  EXPECT_TRUE(runtime.Delete("never-created", false).ok());
  EXPECT_TRUE(runtime.Delete("never-created", true).ok());
  EXPECT_TRUE(absl::IsNotFound(runtime.State("never-created").status()));
  EXPECT_TRUE(absl::IsNotFound(runtime.Kill("never-created", SIGTERM)));
  EXPECT_TRUE(absl::IsNotFound(runtime.Start("never-created")));
  EXPECT_TRUE(absl::IsNotFound(ReadExitFile(exit_dir_, "never-created", root_).status()));
  EXPECT_FALSE(runtime.ReopenLog(root_ + "/no-bundle", root_ + "/no-log").ok());
  for (const char* bad : {"", "..", "a/b", "--help"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(runtime.State(bad).status())) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(ReadExitFile(exit_dir_, bad, root_).status())) << bad;
  }
}

TEST_F(RuntimeTest, Crun) {
  if (!EnsureHugetlbMounted()) GTEST_SKIP() << "cannot mount the hugetlb cgroup for crun";
  OciRuntime runtime = MakeRuntime("crun", kCrun);
  ContainerLaunch launch = MakeBundle("crun", {"/bin/busybox", "sleep", "1000"}, "crun");
  absl::StatusOr<pid_t> conmon = runtime.Create(launch);
  if (!conmon.ok() && absl::StrContains(conmon.status().message(), "hybrid mode")) {
    GTEST_SKIP() << conmon.status();
  }
  ASSERT_TRUE(conmon.ok()) << conmon.status();
  ASSERT_TRUE(runtime.Start(launch.id).ok());
  absl::StatusOr<RuntimeState> state = runtime.State(launch.id);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->status, "running");

  absl::StatusOr<ExecResult> result = runtime.ExecSync(
      launch.id, launch.bundle, {"/bin/sh", "-c", "echo from crun; exit 2"}, absl::Seconds(10));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "from crun\n");
  EXPECT_EQ(result->exit_code, 2);

  ASSERT_TRUE(runtime.Kill(launch.id, SIGKILL).ok());
  absl::StatusOr<ContainerExit> exit = WaitForExit(launch);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 137);
  EXPECT_TRUE(absl::IsNotFound(runtime.Kill(launch.id, SIGKILL)));
  EXPECT_TRUE(runtime.Delete(launch.id, false).ok());
  EXPECT_TRUE(runtime.Delete(launch.id, false).ok());
  EXPECT_TRUE(absl::IsNotFound(runtime.State(launch.id).status()));
}

// The parsers, without containers.

TEST(CriLogTest, SplitsStreamsAndJoinsPartialLines) {
  CriLogStreams streams;
  for (const char* line : {"2024-01-01T00:00:00.000000000+00:00 stdout P ab",
                           "2024-01-01T00:00:00.000000001+00:00 stdout F c d",
                           "2024-01-01T00:00:00.000000002+00:00 stderr F ",
                           "2024-01-01T00:00:00.000000003+00:00 stderr F x", "garbage",
                           "2024-01-01T00:00:00Z other F y"}) {
    oci_internal::AppendCriLogLine(line, 100, streams);
  }
  EXPECT_EQ(streams.stdout_data, "abc d\n");
  EXPECT_EQ(streams.stderr_data, "\nx\n");
}

TEST(CriLogTest, CapsEachStream) {
  CriLogStreams streams;
  oci_internal::AppendCriLogLine("t stdout F 0123456789", 4, streams);
  oci_internal::AppendCriLogLine("t stdout F more", 4, streams);
  oci_internal::AppendCriLogLine("t stderr P ab", 4, streams);
  EXPECT_EQ(streams.stdout_data, "0123");
  EXPECT_EQ(streams.stderr_data, "ab");
}

TEST(SyncMessageTest, Parses) {
  auto pid = oci_internal::ParseSyncMessage("{\"pid\": 42}\n", "pid");
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(pid->value, 42);
  auto failed = oci_internal::ParseSyncMessage(
      R"({"exit_code": -1, "message": "command timed out"})", "exit_code");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->value, -1);
  EXPECT_EQ(failed->message, "command timed out");
  EXPECT_FALSE(oci_internal::ParseSyncMessage("{\"data\": 1}", "pid").ok());
  EXPECT_FALSE(oci_internal::ParseSyncMessage("not json", "pid").ok());
}

TEST(RuntimeMessageTest, TakesLogrusMessage) {
  EXPECT_EQ(oci_internal::RuntimeMessage(
                "time=\"2024\" level=error msg=\"exec: \\\"/nope\\\": not found\"\n"),
            "exec: \"/nope\": not found");
  EXPECT_EQ(oci_internal::RuntimeMessage("  plain crun error\n"), "plain crun error");
}

}  // namespace
}  // namespace ocid

namespace ocid {
namespace {

// A stand-in criu that prints `output` and exits with `code`.
std::string FakeCriu(const std::string& name, const std::string& output, int code) {
  std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path) << "#!/bin/sh\necho '" << output << "' >&2\nexit " << code << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(CheckCriuTest, CriusOwnReasonIsTheFailedPrecondition) {
  EXPECT_TRUE(CheckCriu(FakeCriu("criu-ok", "Looks good.", 0)).ok());
  absl::Status refused =
      CheckCriu(FakeCriu("criu-vdso", "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO", 1));
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_NE(refused.message().find("criu check: Error (criu/vdso.c:381): vdso: Unexpected rt vDSO"),
            std::string::npos)
      << refused;
  absl::Status missing = CheckCriu(absl::StrCat(getenv("TEST_TMPDIR"), "/no-criu"));
  EXPECT_TRUE(absl::IsFailedPrecondition(missing)) << missing;
  EXPECT_NE(missing.message().find("needs CRIU"), std::string::npos) << missing;
}

}  // namespace
}  // namespace ocid
