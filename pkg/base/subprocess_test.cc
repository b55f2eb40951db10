#include "pkg/base/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/base/pidfd.h"

namespace ocid {
namespace {

#ifdef OCID_TEST_NO_PIDFDS
// subprocess_no_pidfd_test: every test below on the waitpid fallback.
ScopedNoPidfdsForTest no_pidfds;
constexpr bool kPidfds = false;
#else
constexpr bool kPidfds = true;
#endif

// How many pidfds this process holds.
int OpenPidfds() {
  int count = 0;
  absl::StatusOr<std::vector<std::string>> fds = ListDir("/proc/self/fd");
  if (!fds.ok()) return -1;
  for (const std::string& fd : *fds) {
    char target[64] = {};
    if (::readlink(("/proc/self/fd/" + fd).c_str(), target, sizeof(target) - 1) > 0 &&
        std::string(target) == "anon_inode:[pidfd]") {
      ++count;
    }
  }
  return count;
}

Subprocess::Options Shell(const std::string& script) {
  Subprocess::Options options;
  options.argv = {"/bin/sh", "-c", script};
  options.stdout_io = Stdio::Capture();
  options.stderr_io = Stdio::Capture();
  return options;
}

// True once `pid` is no process of ours, not even a zombie: it was reaped.
bool IsReaped(pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == -1 && errno == ECHILD; }

// True once `pid` is gone or a zombie (dead, whoever reaps it).
bool WaitUntilDead(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
    if (!stat.ok() || stat->state == 'Z') return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

TEST(SubprocessTest, WaitReportsTheExitAndCapturesEachStream) {
  auto child = Subprocess::Spawn(Shell("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> status = child->Wait();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 3);
  EXPECT_EQ(DescribeWaitStatus(*status), "exit status 3");
  EXPECT_FALSE(child->Running());
  EXPECT_EQ(*child->Wait(), *status) << "a reaped child reports the same status again";
  EXPECT_EQ(child->Stdout(), "out\n");
  EXPECT_EQ(child->Stderr(), "err\n");
}

TEST(SubprocessTest, HoldsAPidfdExactlyWhenTheKernelHasThem) {
  EXPECT_EQ(PidfdsAvailable(), kPidfds);
  const int before = OpenPidfds();
  Subprocess::Options options;
  options.argv = {"/bin/sleep", "60"};
  auto child = Subprocess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(OpenPidfds(), before + (kPidfds ? 1 : 0));
}

// Wait reaps its own child only: another child's exit stays for its owner
// (here, waitpid below), on either path.
TEST(SubprocessTest, WaitLeavesOtherChildrenUnreaped) {
  auto other = Subprocess::Spawn(Shell("exit 7"));
  ASSERT_TRUE(other.ok()) << other.status();
  pid_t other_pid = other->Release();
  ASSERT_TRUE(WaitUntilDead(other_pid, absl::Seconds(10)));
  auto child = Subprocess::Spawn(Shell("sleep 0.2; exit 4"));
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(child->Wait(absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  absl::StatusOr<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 4) << DescribeWaitStatus(*status);
  int other_status = 0;
  ASSERT_EQ(::waitpid(other_pid, &other_status, WNOHANG), other_pid) << "reaped by someone else";
  EXPECT_TRUE(WIFEXITED(other_status) && WEXITSTATUS(other_status) == 7);
}

TEST(SubprocessTest, WaitReportsASignalAndNoZombieIsLeft) {
  auto child = Subprocess::Spawn(Shell("kill -USR1 $$; sleep 60"));
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pid = child->pid();
  absl::StatusOr<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGUSR1) << DescribeWaitStatus(*status);
  EXPECT_TRUE(IsReaped(pid));
}

TEST(SubprocessTest, CaptureIsBounded) {
  Subprocess::Options options = Shell("printf 0123456789");
  options.max_capture = 4;
  auto result = RunCommand(options, absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(ExitedZero(result->wait_status));
  EXPECT_EQ(result->stdout_data, "0123");
}

TEST(SubprocessTest, PassesArgvAsIs) {
  Subprocess::Options options = Shell("printf '%s|' \"$@\"");
  options.argv.insert(options.argv.end(), {"sh", "a b", "", "c'd", "$HOME"});
  auto result = RunCommand(options, absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "a b||c'd|$HOME|");
}

TEST(SubprocessTest, ExactEnvironmentWithClearEnv) {
  Subprocess::Options options;
  options.argv = {"/usr/bin/env"};
  options.env = {"A=1", "B=two words"};
  options.clear_env = true;
  auto result = RunCommand(options, absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "A=1\nB=two words\n");
}

TEST(SubprocessTest, EnvEntriesReplaceOursOnce) {
  ASSERT_EQ(::setenv("OCID_SUBPROCESS_TEST", "old", 1), 0);
  ASSERT_EQ(::setenv("OCID_SUBPROCESS_KEPT", "kept", 1), 0);
  Subprocess::Options options = Shell("env | grep ^OCID_SUBPROCESS_ | sort");
  options.env = {"OCID_SUBPROCESS_TEST=new"};
  auto result = RunCommand(options, absl::Seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "OCID_SUBPROCESS_KEPT=kept\nOCID_SUBPROCESS_TEST=new\n");
}

TEST(SubprocessTest, StdinDataFilesAndExtraFds) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  std::string log = std::string(::getenv("TEST_TMPDIR")) + "/stdio.log";
  ASSERT_TRUE(WriteFileAtomically(log, "before\n", 0644, Durability::kVolatile).ok());

  Subprocess::Options options;
  // fd 3 is the pipe; no fd but 0-3 is open in the child.
  options.argv = {"/bin/sh", "-c", "cat; echo err >&2; echo three >&3; ls /proc/self/fd >&3"};
  options.stdin_io = Stdio::Data("from stdin\n");
  options.stdout_io = Stdio::File(log);
  options.stderr_io = Stdio::File(log);
  options.extra_fds = {write_end.get()};
  auto child = Subprocess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  write_end.Reset();
  ASSERT_TRUE(child->Wait(absl::Seconds(30)).ok());

  std::string piped;
  char buffer[256];
  ssize_t n;
  while ((n = ::read(read_end.get(), buffer, sizeof(buffer))) > 0) piped.append(buffer, n);
  // ls opens one more fd for the listing itself.
  EXPECT_TRUE(piped.rfind("three\n0\n1\n2\n3\n", 0) == 0) << piped;
  EXPECT_LE(piped.size(), std::string("three\n0\n1\n2\n3\n4\n").size()) << piped;
  EXPECT_EQ(*ReadFileToString(log, 4096), "before\nfrom stdin\nerr\n");
  EXPECT_EQ(child->Stdout(), "") << "not captured";
}

TEST(SubprocessTest, WaitTimesOutAndTheDestructorKillsAndReaps) {
  pid_t pid = -1;
  {
    Subprocess::Options options;
    options.argv = {"/bin/sleep", "60"};
    auto child = Subprocess::Spawn(options);
    ASSERT_TRUE(child.ok()) << child.status();
    pid = child->pid();
    absl::Time start = absl::Now();
    absl::StatusOr<int> status = child->Wait(absl::Milliseconds(100));
    EXPECT_EQ(status.status().code(), absl::StatusCode::kDeadlineExceeded) << status.status();
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
    EXPECT_TRUE(child->Running());
    Subprocess moved = std::move(*child);  // the moved-from one owns nothing
    EXPECT_EQ(moved.pid(), pid);
  }
  EXPECT_TRUE(IsReaped(pid));
}

TEST(SubprocessTest, TheDestructorKillsTheProcessGroup) {
  pid_t grandchild = -1;
  {
    Subprocess::Options options = Shell("sleep 60 & echo $!; wait");
    options.new_process_group = true;
    auto child = Subprocess::Spawn(options);
    ASSERT_TRUE(child.ok()) << child.status();
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (child->Stdout().empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    ASSERT_TRUE(absl::SimpleAtoi(child->Stdout(), &grandchild)) << child->Stdout();
    EXPECT_EQ(::getpgid(grandchild), child->pid());
  }
  EXPECT_TRUE(WaitUntilDead(grandchild, absl::Seconds(10)));
}

TEST(SubprocessTest, SignalAndRelease) {
  Subprocess::Options options;
  options.argv = {"/bin/sleep", "60"};
  auto child = Subprocess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  absl::StatusOr<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM);
  EXPECT_EQ(child->Signal(SIGTERM).code(), absl::StatusCode::kFailedPrecondition);

  pid_t released = -1;
  {
    auto kept = Subprocess::Spawn(options);
    ASSERT_TRUE(kept.ok()) << kept.status();
    released = kept->Release();
  }
  EXPECT_EQ(::kill(released, 0), 0) << "a released child is not killed";
  ::kill(released, SIGKILL);
  ::waitpid(released, nullptr, 0);
}

TEST(SubprocessTest, RefusesRelativePathsAndReportsMissingBinaries) {
  Subprocess::Options options;
  options.argv = {"sleep", "1"};
  EXPECT_EQ(Subprocess::Spawn(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.argv = {"/no/such/binary"};
  EXPECT_EQ(Subprocess::Spawn(options).status().code(), absl::StatusCode::kNotFound);
  options.argv = {"/bin/true"};
  options.stdout_io = Stdio::File("/no/such/dir/log");
  EXPECT_EQ(Subprocess::Spawn(options).status().code(), absl::StatusCode::kNotFound);
}

// The exec label is written on the spawning thread before the spawn and
// cleared after it; none asked, nothing written.
TEST(SubprocessTest, AnExecLabelIsSetForTheSpawnOnItsThreadAndClearedAfter) {
  std::vector<std::string> written;
  std::vector<std::thread::id> threads;
  Subprocess::Options options;
  options.argv = {"/bin/true"};
  options.write_exec_label = [&](absl::string_view label) {
    written.emplace_back(label);
    threads.push_back(std::this_thread::get_id());
    return absl::OkStatus();
  };
  Subprocess::Options unlabelled = options;
  options.exec_label = "system_u:system_r:container_t:s0:c1,c2";
  absl::StatusOr<Subprocess> child = Subprocess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(written, (std::vector<std::string>{"system_u:system_r:container_t:s0:c1,c2", ""}));
  EXPECT_EQ(threads, (std::vector<std::thread::id>(2, std::this_thread::get_id())));
  absl::StatusOr<int> status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok() && ExitedZero(*status)) << status.status();

  written.clear();
  child = Subprocess::Spawn(unlabelled);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(written, std::vector<std::string>{}) << "no label, nothing written";
  ASSERT_TRUE(child->Wait(absl::Seconds(10)).ok());
}

TEST(SubprocessTest, AnExecLabelTheKernelRefusesFailsTheSpawn) {
  std::vector<std::string> written;
  Subprocess::Options options;
  options.argv = {"/bin/sh", "-c", "exit 3"};
  options.exec_label = "bogus_t";
  options.write_exec_label = [&](absl::string_view label) {
    written.emplace_back(label);
    return absl::InvalidArgumentError("Invalid argument");
  };
  absl::StatusOr<Subprocess> child = Subprocess::Spawn(options);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(child.status().message().find("bogus_t"), absl::string_view::npos) << child.status();
  EXPECT_EQ(written, std::vector<std::string>{"bogus_t"}) << "nothing to clear";
}

TEST(SubprocessTest, RunCommandKillsACommandPastItsTimeout) {
  absl::StatusOr<CommandResult> result = RunCommand(Shell("sleep 60"), absl::Milliseconds(50));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(result.status().message().find("/bin/sh -c sleep 60"), absl::string_view::npos)
      << result.status();
}

// A stat line as the kernel writes it, with `comm` and start time `start`.
std::string StatLine(const std::string& comm, uint64_t start) {
  std::string line = absl::StrCat("4242 (", comm, ") S 1 4242 4242 0 -1 4194560");
  for (int field = 10; field < 22; ++field) absl::StrAppend(&line, " ", field);
  absl::StrAppend(&line, " ", start, " 1234567 300 18446744073709551615 1 1 0 0 0 0\n");
  return line;
}

TEST(ProcStatTest, ParsesANastyComm) {
  for (const std::string comm : {"sh", "a) S 1 2 3 (", ") ) )", "two words", "(", ""}) {
    absl::StatusOr<ProcStat> stat = ParseProcStat(StatLine(comm, 987654321));
    ASSERT_TRUE(stat.ok()) << comm << ": " << stat.status();
    EXPECT_EQ(stat->comm, comm);
    EXPECT_EQ(stat->state, 'S');
    EXPECT_EQ(stat->ppid, 1);
    EXPECT_EQ(stat->start_time, 987654321u) << comm;
  }
  EXPECT_FALSE(ParseProcStat("4242 (sh S 1").ok());
  EXPECT_FALSE(ParseProcStat("4242 (sh) S 1 2 3").ok()) << "too few fields";
  EXPECT_FALSE(ParseProcStat(StatLine("x", 1).replace(0, 12, "4242 (x) S y")).ok());
}

TEST(ProcStatTest, ReadsOurOwn) {
  absl::StatusOr<ProcStat> stat = ReadProcStat(::getpid());
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->ppid, ::getppid());
  EXPECT_GT(stat->start_time, 0u);
  EXPECT_EQ(IdentifyProcess(::getpid())->start_time, stat->start_time);
}

TEST(SignalIfSameTest, SignalsOnlyTheProcessTheIdentityNames) {
  Subprocess::Options options;
  options.argv = {"/bin/sleep", "60"};
  auto child = Subprocess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<ProcessIdentity> identity = IdentifyProcess(child->pid());
  ASSERT_TRUE(identity.ok()) << identity.status();

  // The same pid with another start time: another process, left alone.
  ProcessIdentity stale = *identity;
  stale.start_time += 1;
  EXPECT_EQ(SignalIfSame(stale, SIGKILL).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(OpenPidfd(stale).status().code(),
            kPidfds ? absl::StatusCode::kNotFound : absl::StatusCode::kUnimplemented);
  EXPECT_EQ(child->Wait(absl::Milliseconds(100)).status().code(),
            absl::StatusCode::kDeadlineExceeded)
      << "a stale identity signalled the process";

  ASSERT_TRUE(SignalIfSame(*identity, SIGTERM).ok());
  absl::StatusOr<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM);
  // Reaped: the identity names no process any more.
  EXPECT_EQ(SignalIfSame(*identity, SIGKILL).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(SignalIfSame(ProcessIdentity{0, 1}, SIGKILL).code(),
            absl::StatusCode::kInvalidArgument);
}

// Helpers an ocid that died left running name their object in their
// arguments or environment; only those are killed.
TEST(KillProcessesNamingTest, KillsTheProcessesNamingItAndNoOthers) {
  const std::string needle =
      absl::StrCat("needle-", ::getpid(), "-", absl::ToUnixNanos(absl::Now()));
  Subprocess::Options by_env;
  by_env.argv = {"/bin/sleep", "60"};
  by_env.env = {"CNI_CONTAINERID=" + needle};
  Subprocess::Options by_arg;
  // A loop of builtins: a forked `sleep` would name the needle too for the
  // moment between its fork and its exec, and be counted.
  by_arg.argv = {"/bin/sh", "-c", "while :; do :; done", needle};
  Subprocess::Options other;
  other.argv = {"/bin/sleep", "60"};
  auto a = Subprocess::Spawn(by_env);
  auto b = Subprocess::Spawn(by_arg);
  auto c = Subprocess::Spawn(other);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());

  absl::StatusOr<int> killed = KillProcessesNaming(needle, absl::Seconds(10));
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(*killed, 2);
  for (Subprocess* child : {&*a, &*b}) {
    absl::StatusOr<int> status = child->Wait(absl::Seconds(10));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  }
  EXPECT_EQ(c->Wait(absl::Milliseconds(100)).status().code(), absl::StatusCode::kDeadlineExceeded)
      << "a process not naming the needle was killed";
  EXPECT_EQ(KillProcessesNaming(needle, absl::Seconds(1)).value_or(-1), 0);
  EXPECT_EQ(KillProcessesNaming("", absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ocid
