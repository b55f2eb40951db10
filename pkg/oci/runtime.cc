#include "pkg/oci/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/pidfd.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/unique_fd.h"
#include "pkg/oci/conmon_internal.h"
#include "pkg/oci/interactive_internal.h"

namespace ocid {
namespace {

using oci_internal::CriLogStreams;
using oci_internal::RuntimeMessage;
using oci_internal::SyncMessage;

// runc/crun state, kill, start, delete: quick unless something is wedged.
constexpr absl::Duration kRuntimeCommandTimeout = absl::Seconds(60);
// From writing conmon's start byte until its first process exits (it forks
// and exits right away).
constexpr absl::Duration kConmonForkTimeout = absl::Seconds(30);
// From conmon's fork until it reports the container's pid (runtime create,
// hooks included).
constexpr absl::Duration kCreateTimeout = absl::Seconds(60);
// How much longer than an exec's own timeout we wait for conmon's report.
constexpr absl::Duration kExecGrace = absl::Seconds(30);
// How long conmon may take to open the new log after a reopen request.
constexpr absl::Duration kReopenTimeout = absl::Seconds(5);
// How long a timed-out exec's killed process may take to be reaped.
constexpr absl::Duration kExecReapTimeout = absl::Seconds(5);
constexpr size_t kMaxExecOutput = 16 << 20;  // per stream
// conmon counts timestamps and tags too; leave room for both streams.
constexpr int64_t kExecLogMax = 3 * static_cast<int64_t>(kMaxExecOutput);
constexpr size_t kMaxConfigSize = 64 << 20;
constexpr size_t kMaxConmonOutput = 4096;
constexpr char kTimedOutMessage[] = "command timed out";  // conmon's TIMED_OUT_MESSAGE

struct SocketPair {
  UniqueFd ours;
  UniqueFd theirs;
};

absl::StatusOr<SocketPair> MakeSocketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair for conmon");
  }
  return SocketPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// An id is a file name (exit files) and a runtime argument: no '/', and no
// leading '-' that the runtime would read as a flag.
absl::Status CheckId(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id[0] == '-' || id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("bad container id: \"" + id + "\"");
  }
  return absl::OkStatus();
}

// What runc and crun say when the container is gone (or, for kill, no
// longer running).
bool MeansGone(absl::string_view message) {
  for (absl::string_view phrase :
       {"does not exist", "not running", "No such process", "No such file or directory"}) {
    if (absl::StrContains(message, phrase)) return true;
  }
  return false;
}

// Runs `<runtime> --root R args...` and returns its stdout. A failure carries
// the runtime's message; NotFound when it says the container is gone.
absl::StatusOr<std::string> RunRuntime(const RuntimeHandler& handler,
                                       const std::vector<std::string>& args,
                                       std::optional<std::string> stdin_data = std::nullopt) {
  Subprocess::Options options;
  options.argv = {handler.path, "--root", handler.root};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  if (stdin_data.has_value()) options.stdin_io = Stdio::Data(std::move(*stdin_data));
  ASSIGN_OR_RETURN(CommandResult output, RunCommand(std::move(options), kRuntimeCommandTimeout));
  if (ExitedZero(output.wait_status)) return std::move(output.stdout_data);
  std::string message = RuntimeMessage(output.stderr_data);
  if (message.empty()) message = DescribeWaitStatus(output.wait_status);
  std::string text = absl::StrCat(handler.path, " ", absl::StrJoin(args, " "), ": ", message);
  return MeansGone(message) ? absl::NotFoundError(text) : absl::InternalError(text);
}

// Adds what conmon printed before it detached (its argument and setup errors).
absl::Status WithConmonOutput(const absl::Status& status, const Subprocess& conmon) {
  std::string output(absl::StripAsciiWhitespace(absl::StrCat(conmon.Stdout(), conmon.Stderr())));
  if (output.empty()) return status;
  return absl::Status(status.code(), absl::StrCat(status.message(), " (conmon: ", output, ")"));
}

absl::StatusOr<pid_t> ReadPidFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 64));
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0) {
    return absl::InternalError(absl::StrCat("no pid in ", path, ": ", text));
  }
  return pid;
}

// SIGKILLs `pid` if it is a live conmon. The start time read with its name
// goes with the signal: a process that reused the pid since is left alone.
void KillIfConmon(pid_t pid) {
  absl::StatusOr<ProcStat> stat = ReadProcStat(pid);
  if (!stat.ok() || stat->comm != "conmon" || stat->state == 'Z') return;
  SignalIfSame(ProcessIdentity{pid, stat->start_time}, SIGKILL).IgnoreError();
}

absl::Status UnlinkIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "remove " + path);
  }
  return absl::OkStatus();
}

absl::Status CheckLaunch(const ContainerLaunch& launch) {
  RETURN_IF_ERROR(CheckId(launch.id));
  for (const std::string* path :
       {&launch.bundle, &launch.log_path, &launch.exit_dir, &launch.persist_dir}) {
    if (path->empty() || (*path)[0] != '/') {
      return absl::InvalidArgumentError("container " + launch.id + ": paths must be absolute");
    }
  }
  return absl::OkStatus();
}

// Makes conmon's dirs and drops exit files left by an earlier container of
// the same id, which would otherwise read as this one's exit.
absl::Status PrepareCreateDirs(const ContainerLaunch& launch, const std::string& socket_dir) {
  for (const std::string* dir : {&launch.exit_dir, &launch.persist_dir, &socket_dir}) {
    RETURN_IF_ERROR(MakeDirs(*dir, 0700));
  }
  RETURN_IF_ERROR(UnlinkIfPresent(launch.exit_dir + "/" + launch.id));
  RETURN_IF_ERROR(UnlinkIfPresent(launch.persist_dir + "/exit"));
  return UnlinkIfPresent(launch.persist_dir + "/oom");
}

// Appends "-flag value" pairs to `argv`.
void AppendFlags(std::vector<std::string>& argv,
                 std::initializer_list<std::pair<const char*, std::string>> flags) {
  for (const auto& [flag, value] : flags) argv.insert(argv.end(), {flag, value});
}

std::vector<std::string> ConmonCreateArgs(const std::string& conmon, const RuntimeHandler& handler,
                                          const std::string& socket_dir,
                                          const ContainerLaunch& launch) {
  std::vector<std::string> argv = {conmon, "--syslog"};
  AppendFlags(argv, {{"-b", launch.bundle},
                     {"-c", launch.id},
                     {"-u", launch.id},
                     {"-n", launch.name.empty() ? launch.id : launch.name},
                     {"-r", handler.path},
                     {"--runtime-arg", "--root=" + handler.root},
                     {"-p", launch.bundle + "/pidfile"},
                     {"-P", launch.bundle + "/conmon.pid"},
                     {"-l", "k8s-file:" + launch.log_path},
                     {"--exit-dir", launch.exit_dir},
                     {"--persist-dir", launch.persist_dir},
                     {"--socket-dir-path", socket_dir},
                     {"--log-level", "info"},
                     {"--log-size-max", "-1"}});
  if (!launch.restore_from.empty()) AppendFlags(argv, {{"--restore", launch.restore_from}});
  if (launch.tty) argv.push_back("-t");
  if (launch.stdin) argv.push_back("-i");
  // conmon closes the container's stdin when an attach client ends its
  // input, unless told otherwise: stdin_once means exactly that close.
  if (launch.stdin && !launch.stdin_once) argv.push_back("--leave-stdin-open");
  return argv;
}

// Lets conmon go, waits for its first process to exit, then for the report of
// the runtime's create. Returns the daemonized conmon's pid.
absl::StatusOr<pid_t> AwaitConmonCreate(Subprocess& conmon, int sync_fd, int start_fd,
                                        const ContainerLaunch& launch) {
  const char go = 0;
  if (::send(start_fd, &go, 1, MSG_NOSIGNAL) != 1) {
    return absl::ErrnoToStatus(errno, "write conmon's start pipe");
  }
  ASSIGN_OR_RETURN(int status, conmon.Wait(kConmonForkTimeout));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("conmon for ", launch.id, ": ", DescribeWaitStatus(status)));
  }
  ASSIGN_OR_RETURN(SyncMessage message,
                   oci_internal::ReadSyncMessage(sync_fd, "pid", kCreateTimeout));
  if (message.value <= 0) {
    std::string why = RuntimeMessage(message.message);
    return absl::InternalError(absl::StrCat("create container ", launch.id, ": ",
                                            why.empty() ? "the runtime failed" : why));
  }
  return ReadPidFile(launch.bundle + "/conmon.pid");
}

// Undoes a failed create: conmon first (so it does not report an exit), then
// the runtime's state (which kills a created init).
void AbortCreate(const RuntimeHandler& handler, const ContainerLaunch& launch,
                 const std::string& socket_dir) {
  absl::StatusOr<pid_t> conmon = ReadPidFile(launch.bundle + "/conmon.pid");
  if (conmon.ok()) KillIfConmon(*conmon);
  RunRuntime(handler, {"delete", "--force", launch.id}).status().IgnoreError();
  // conmon made the container's attach socket dir (-u) before the runtime
  // failed; Delete, which removes it otherwise, is never called.
  RemoveAll(absl::StrCat(socket_dir, "/", launch.id)).IgnoreError();
}

absl::Status WriteNewFile(const std::string& path, absl::string_view contents) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "create " + path);
  while (!contents.empty()) {
    ssize_t n = ::write(fd.get(), contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write " + path);
    contents.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// The container's process with `command` as its args, with a terminal (of
// the given size) only when stdio.tty: what `runtime exec --process` runs.
absl::Status WriteExecProcess(const std::string& config_path,
                              const std::vector<std::string>& command,
                              const std::string& process_path,
                              const streaming::ExecStdio& stdio = {}) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(config_path, kMaxConfigSize));
  nlohmann::json config = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object() || !config.contains("process") || !config["process"].is_object()) {
    return absl::FailedPreconditionError(config_path + " has no process");
  }
  nlohmann::json process = config["process"];
  process["args"] = command;
  process["terminal"] = stdio.tty;
  process.erase("consoleSize");
  // The runtime sizes the console as it makes it, before the command runs:
  // a size set afterwards races with the command's first look at it.
  if (stdio.tty && stdio.size.width > 0 && stdio.size.height > 0) {
    process["consoleSize"] = {{"height", stdio.size.height}, {"width", stdio.size.width}};
  }
  return WriteNewFile(process_path,
                      process.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::vector<std::string> ConmonExecArgs(const std::string& conmon, const RuntimeHandler& handler,
                                        const std::string& socket_dir, const std::string& id,
                                        const std::string& dir, absl::Duration timeout) {
  std::vector<std::string> argv = {conmon, "-e", "--sync"};
  AppendFlags(argv, {{"-c", id},
                     {"-n", id},
                     {"-r", handler.path},
                     {"--runtime-arg", "--root=" + handler.root},
                     {"-p", dir + "/pid"},
                     {"--exec-process-spec", dir + "/process.json"},
                     {"-l", "k8s-file:" + dir + "/log"},
                     {"--log-global-size-max", absl::StrCat(kExecLogMax)},
                     {"--socket-dir-path", socket_dir},
                     {"--log-level", "info"}});
  if (timeout > absl::ZeroDuration()) {
    int64_t seconds = absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1)));
    AppendFlags(argv, {{"-T", absl::StrCat(seconds)}});
  }
  return argv;
}

absl::Status NotReaped(int pid, const std::string& id) {
  return absl::InternalError(absl::StrCat("exec in ", id, ": process ", pid,
                                          " timed out and was killed but is not reaped"));
}

// Without pidfds: the process named by {pid, start time}, and left to
// whoever it was reparented to for reaping (ocid's orphan reaper, within
// its 50 ms interval): a waitpid by pid here could take the exit of another
// child of ours that reused it.
absl::Status KillTimedOutExecByPid(int pid, const std::string& id) {
  absl::StatusOr<ProcessIdentity> identity = IdentifyProcess(pid);
  if (absl::IsNotFound(identity.status())) return absl::OkStatus();  // reaped already
  RETURN_IF_ERROR(identity.status());
  SignalIfSame(*identity, SIGKILL).IgnoreError();  // NotFound: gone meanwhile
  absl::Time deadline = absl::Now() + kExecReapTimeout;
  while (true) {
    absl::StatusOr<ProcessIdentity> now = IdentifyProcess(pid);
    if (!now.ok() || *now != *identity) return absl::OkStatus();  // reaped
    if (absl::Now() > deadline) return NotReaped(pid, id);
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// conmon's -T kills the exec'd process's group and exits without reaping
// it: the zombie, reparented to ocid (a subreaper), stays visible in the
// container (critest's `pgrep sleep` finds it). Kill it for sure and wait
// until it is reaped, by us here or by whoever it was reparented to, so that
// a timed-out exec leaves nothing. The pidfd keeps a reused pid out of it.
absl::Status KillTimedOutExec(const std::string& pid_file, const std::string& id) {
  absl::StatusOr<std::string> text = ReadFileToString(pid_file, 64);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();  // it never started
  RETURN_IF_ERROR(text.status());
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 0) {
    return absl::InternalError(absl::StrCat("no pid in ", pid_file, ": ", *text));
  }
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd.valid() && errno == ESRCH) return absl::OkStatus();  // reaped already
  if (!pidfd.valid() && errno == ENOSYS) return KillTimedOutExecByPid(pid, id);
  if (!pidfd.valid()) return absl::ErrnoToStatus(errno, "pidfd_open");
  PidfdSendSignal(pidfd.get(), SIGKILL);
  absl::Time deadline = absl::Now() + kExecReapTimeout;
  while (true) {
    siginfo_t info = {};
    // Reaps it only if it is our child (reparented to us): P_PIDFD names
    // exactly this process, never another child that reused the pid.
    if (::waitid(static_cast<idtype_t>(P_PIDFD), pidfd.get(), &info, WEXITED | WNOHANG) == 0 &&
        info.si_pid != 0) {
      return absl::OkStatus();
    }
    // Signal 0 fails with ESRCH only once the process is reaped (a zombie
    // still takes signals).
    if (PidfdSendSignal(pidfd.get(), 0) != 0 && errno == ESRCH) return absl::OkStatus();
    if (absl::Now() > deadline) return NotReaped(pid, id);
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// Runs conmon in exec mode (it stays our child) and returns its report.
absl::StatusOr<SyncMessage> RunConmonExec(const std::vector<std::string>& argv,
                                          absl::Duration timeout) {
  ASSIGN_OR_RETURN(SocketPair sync, MakeSocketPair());
  Subprocess::Options options;
  options.argv = argv;
  options.env = {"_OCI_SYNCPIPE=3"};
  options.stdout_io = Stdio::Capture();
  options.stderr_io = Stdio::Capture();
  options.max_capture = kMaxConmonOutput;
  options.extra_fds = {sync.theirs.get()};
  ASSIGN_OR_RETURN(Subprocess conmon, Subprocess::Spawn(std::move(options)));
  sync.theirs.Reset();
  absl::Duration limit =
      timeout > absl::ZeroDuration() ? timeout + kExecGrace : absl::InfiniteDuration();
  absl::StatusOr<SyncMessage> message =
      oci_internal::ReadSyncMessage(sync.ours.get(), "exit_code", limit);
  if (!message.ok()) return WithConmonOutput(message.status(), conmon);
  conmon.Wait(kExecGrace).IgnoreError();  // it exits right after reporting
  return message;
}

}  // namespace

OciRuntime::OciRuntime(std::string handler_name, RuntimeHandler handler, std::string conmon,
                       std::string runroot)
    : handler_name_(std::move(handler_name)),
      handler_(std::move(handler)),
      conmon_(std::move(conmon)),
      runroot_(std::move(runroot)) {}

absl::StatusOr<pid_t> OciRuntime::Create(const ContainerLaunch& launch) {
  RETURN_IF_ERROR(CheckLaunch(launch));
  const std::string socket_dir = runroot_ + "/conmon-sockets";
  RETURN_IF_ERROR(PrepareCreateDirs(launch, socket_dir));
  ASSIGN_OR_RETURN(SocketPair sync, MakeSocketPair());
  ASSIGN_OR_RETURN(SocketPair start, MakeSocketPair());
  // conmon daemonises: this child forks the conmon that stays (it writes that
  // one's pid to conmon.pid and is reparented to us, a subreaper) and exits.
  // We wait for this one; the daemon is named by its pid file from then on.
  Subprocess::Options options;
  options.argv = ConmonCreateArgs(conmon_, handler_, socket_dir, launch);
  options.env = {"_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4"};
  options.stdout_io = Stdio::Capture();
  options.stderr_io = Stdio::Capture();
  options.max_capture = kMaxConmonOutput;
  options.extra_fds = {sync.theirs.get(), start.theirs.get()};
  ASSIGN_OR_RETURN(Subprocess conmon, Subprocess::Spawn(std::move(options)));
  // Only conmon may hold the other ends, so that its death reads as EOF.
  sync.theirs.Reset();
  start.theirs.Reset();
  auto undo = absl::MakeCleanup([&] { AbortCreate(handler_, launch, socket_dir); });
  absl::StatusOr<pid_t> pid = AwaitConmonCreate(conmon, sync.ours.get(), start.ours.get(), launch);
  if (!pid.ok()) {
    // Named for the operator: which handler (of several) failed, and its binary.
    absl::Status failed = WithConmonOutput(pid.status(), conmon);
    return absl::Status(failed.code(), absl::StrCat("runtime handler \"", handler_name_, "\" (",
                                                    handler_.path, "): ", failed.message()));
  }
  std::move(undo).Cancel();
  return *pid;
}

absl::Status OciRuntime::Start(const std::string& id) {
  RETURN_IF_ERROR(CheckId(id));
  return RunRuntime(handler_, {"start", id}).status();
}

absl::Status OciRuntime::Kill(const std::string& id, int signal) {
  RETURN_IF_ERROR(CheckId(id));
  return RunRuntime(handler_, {"kill", id, absl::StrCat(signal)}).status();
}

absl::Status OciRuntime::Pause(const std::string& id) {
  RETURN_IF_ERROR(CheckId(id));
  return RunRuntime(handler_, {"pause", id}).status();
}

absl::Status OciRuntime::Resume(const std::string& id) {
  RETURN_IF_ERROR(CheckId(id));
  return RunRuntime(handler_, {"resume", id}).status();
}

absl::Status OciRuntime::Checkpoint(const std::string& id, const std::string& image_dir,
                                    const std::string& work_dir, bool leave_running) {
  RETURN_IF_ERROR(CheckId(id));
  std::vector<std::string> args = {"checkpoint", "--image-path", image_dir, "--work-path",
                                   work_dir};
  if (leave_running) args.push_back("--leave-running");
  args.push_back(id);
  absl::Status status = RunRuntime(handler_, args).status();
  if (status.ok() || absl::IsNotFound(status)) return status;
  // CRIU's own account of what failed is in its dump.log.
  absl::StatusOr<std::string> log = ReadFileToString(work_dir + "/dump.log", 1 << 20);
  std::string last_error;
  if (log.ok()) {
    for (absl::string_view line : absl::StrSplit(*log, '\n', absl::SkipWhitespace())) {
      if (absl::StrContains(line, "Error")) last_error = std::string(line);
    }
  }
  if (last_error.empty()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(absl::StrReplaceAll(
                                       absl::StripTrailingAsciiWhitespace(status.message()),
                                       {{"\n", "; "}}),
                                   " (criu: ", absl::StripAsciiWhitespace(last_error), ")"));
}

absl::Status CheckCriu(const std::string& criu) {
  absl::StatusOr<CommandResult> result = RunCommand({criu, "check"}, kRuntimeCommandTimeout);
  if (!result.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint/restore needs CRIU: ", criu, ": ", result.status().message()));
  }
  if (ExitedZero(result->wait_status)) return absl::OkStatus();
  std::string output(absl::StripAsciiWhitespace(result->stderr_data + result->stdout_data));
  if (output.empty()) output = DescribeWaitStatus(result->wait_status);
  return absl::FailedPreconditionError(
      absl::StrCat("CRIU cannot checkpoint on this host (criu check: ",
                   absl::StrJoin(absl::StrSplit(output, '\n', absl::SkipWhitespace()), "; "), ")"));
}

absl::Status OciRuntime::Delete(const std::string& id, bool force) {
  RETURN_IF_ERROR(CheckId(id));
  std::vector<std::string> args = {"delete"};
  if (force) args.push_back("--force");
  args.push_back(id);
  absl::Status status = RunRuntime(handler_, args).status();
  if (!status.ok() && !absl::IsNotFound(status)) return status;
  // conmon's dir for the container's attach socket (-u names it).
  return RemoveAll(absl::StrCat(runroot_, "/conmon-sockets/", id));
}

absl::Status OciRuntime::Update(const std::string& id, const std::string& resources_json) {
  RETURN_IF_ERROR(CheckId(id));
  absl::Status status =
      RunRuntime(handler_, {"update", "--resources", "-", id}, resources_json).status();
  // The container is there: a failure is the value (the kernel's answer).
  if (absl::IsInternal(status)) return absl::InvalidArgumentError(status.message());
  return status;
}

namespace {

// A cgroup with processes in it cannot be removed: what still runs there (a
// runtime's init caught mid-create) is killed, and given a moment to go.
void KillCgroupProcesses(const std::string& dir) {
  const std::string procs = dir + "/cgroup.procs";
  absl::Time deadline = absl::Now() + absl::Seconds(2);
  for (;;) {
    absl::StatusOr<std::string> text = ReadFileToString(procs, 1 << 20);
    if (!text.ok() || absl::StripAsciiWhitespace(*text).empty()) return;
    if (absl::Now() > deadline) return;  // rmdir says EBUSY, naming the dir
    for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipWhitespace())) {
      pid_t pid = 0;
      if (!absl::SimpleAtoi(line, &pid) || pid <= 0) continue;
      absl::StatusOr<ProcessIdentity> process = IdentifyProcess(pid);
      if (process.ok()) SignalIfSame(*process, SIGKILL).IgnoreError();  // gone: fine
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

absl::Status RemoveCgroupsOf(const std::string& spec_path, const std::string& cgroup_root) {
  absl::StatusOr<std::string> text = ReadFileToString(spec_path, 64 << 20);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  RETURN_IF_ERROR(text.status());
  nlohmann::json spec = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* path = nullptr;
  if (spec.is_object() && spec.contains("linux") && spec["linux"].is_object() &&
      spec["linux"].contains("cgroupsPath") && spec["linux"]["cgroupsPath"].is_string()) {
    path = &spec["linux"]["cgroupsPath"];
  }
  if (path == nullptr) return absl::OkStatus();
  const std::string relative = path->get<std::string>();
  if (relative.empty() || relative[0] != '/' || absl::StrContains(relative, "..")) {
    return absl::OkStatus();  // systemd's slice:prefix:name, or nothing of ours
  }
  // v2 (or hybrid's unified) has it right under the root; v1 once per
  // controller dir.
  std::vector<std::string> candidates = {cgroup_root + relative};
  absl::StatusOr<std::vector<std::string>> hierarchies = ListDir(cgroup_root);
  RETURN_IF_ERROR(hierarchies.status());
  for (const std::string& name : *hierarchies) {
    candidates.push_back(absl::StrCat(cgroup_root, "/", name, relative));
  }
  absl::Status status;
  for (const std::string& dir : candidates) {
    KillCgroupProcesses(dir);
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
      status.Update(absl::ErrnoToStatus(errno, "remove cgroup " + dir));
    }
  }
  return status;
}

absl::StatusOr<RuntimeState> OciRuntime::State(const std::string& id) {
  RETURN_IF_ERROR(CheckId(id));
  ASSIGN_OR_RETURN(std::string text, RunRuntime(handler_, {"state", id}));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("status") || !json["status"].is_string()) {
    return absl::InternalError(absl::StrCat(handler_.path, " state ", id, ": bad output: ", text));
  }
  RuntimeState state;
  state.status = json["status"].get<std::string>();
  if (state.status != "stopped" && json.contains("pid") && json["pid"].is_number_integer()) {
    state.pid = json["pid"].get<pid_t>();
  }
  return state;
}

absl::StatusOr<ExecResult> OciRuntime::ExecSync(const std::string& id, const std::string& bundle,
                                                const std::vector<std::string>& command,
                                                absl::Duration timeout) {
  RETURN_IF_ERROR(CheckId(id));
  if (command.empty()) return absl::InvalidArgumentError("exec in " + id + ": empty command");
  std::string dir = bundle + "/exec-XXXXXX";
  if (::mkdtemp(&dir[0]) == nullptr) return absl::ErrnoToStatus(errno, "make a dir in " + bundle);
  auto remove_dir = absl::MakeCleanup([&dir] { RemoveAll(dir).IgnoreError(); });
  RETURN_IF_ERROR(WriteExecProcess(bundle + "/config.json", command, dir + "/process.json"));
  std::vector<std::string> argv =
      ConmonExecArgs(conmon_, handler_, runroot_ + "/conmon-sockets", id, dir, timeout);
  ASSIGN_OR_RETURN(SyncMessage message, RunConmonExec(argv, timeout));
  ExecResult result;
  result.exit_code = message.value;
  if (message.value < 0) {
    if (message.message != kTimedOutMessage) {
      std::string why = RuntimeMessage(message.message);
      return absl::InternalError(
          absl::StrCat("exec in ", id, ": ", why.empty() ? "the runtime failed" : why));
    }
    result.timed_out = true;
    RETURN_IF_ERROR(KillTimedOutExec(dir + "/pid", id));
  }
  ASSIGN_OR_RETURN(CriLogStreams streams, oci_internal::ReadCriLog(dir + "/log", kMaxExecOutput));
  result.stdout_data = std::move(streams.stdout_data);
  result.stderr_data = std::move(streams.stderr_data);
  return result;
}

absl::StatusOr<std::unique_ptr<streaming::Channel>> OciRuntime::StartExec(
    const std::string& id, const std::string& bundle, const std::vector<std::string>& command,
    const streaming::ExecStdio& stdio) {
  RETURN_IF_ERROR(CheckId(id));
  if (command.empty()) return absl::InvalidArgumentError("exec in " + id + ": empty command");
  std::string dir = bundle + "/exec-XXXXXX";
  if (::mkdtemp(&dir[0]) == nullptr) return absl::ErrnoToStatus(errno, "make a dir in " + bundle);
  absl::Status written = WriteExecProcess(bundle + "/config.json", command,
                                          dir + "/process.json", stdio);
  if (!written.ok()) {
    RemoveAll(dir).IgnoreError();
    return written;
  }
  // The runtime in the foreground: it stays until the command exits, its
  // exit status is the command's, and with a terminal it relays between ours
  // and the container's console.
  std::vector<std::string> argv = {handler_.path, "--root", handler_.root, "exec",
                                   "--process", dir + "/process.json",
                                   "--pid-file", dir + "/pid", id};
  std::string pid_file = dir + "/pid";
  return oci_internal::StartExecChannel(std::move(argv), std::move(dir), std::move(pid_file),
                                        stdio);
}

absl::StatusOr<std::unique_ptr<streaming::Channel>> OciRuntime::Attach(const std::string& id,
                                                                       const std::string& bundle,
                                                                       bool stdin) {
  RETURN_IF_ERROR(CheckId(id));
  // conmon links <socket dir>/<id> to the bundle, keeping the path short.
  return oci_internal::ConnectAttachChannel(runroot_ + "/conmon-sockets/" + id + "/attach",
                                            bundle + "/ctl", stdin);
}

absl::Status OciRuntime::ReopenLog(const std::string& bundle, const std::string& log_path) {
  const std::string path = bundle + "/ctl";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid() && errno == ENXIO) {
    return absl::FailedPreconditionError("no conmon reads " + path);
  }
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + path);
  constexpr absl::string_view kReopen = "2 0 0\n";  // REOPEN_LOGS_EVENT
  ssize_t n;
  do {
    n = ::write(fd.get(), kReopen.data(), kReopen.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "write " + path);
  if (static_cast<size_t>(n) != kReopen.size()) {
    return absl::InternalError("short write to " + path);
  }
  // kubelet's log rotation renames, reopens, then compresses the renamed
  // file: output written before conmon has the new file would go there.
  // A few polls; conmon reopens within milliseconds.
  absl::Time deadline = absl::Now() + kReopenTimeout;
  while (::access(log_path.c_str(), F_OK) != 0) {
    if (errno != ENOENT) return absl::ErrnoToStatus(errno, "stat " + log_path);
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "conmon did not reopen ", log_path, " within ", absl::FormatDuration(kReopenTimeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerExit> ReadExitFile(const std::string& exit_dir, const std::string& id,
                                           const std::string& persist_dir) {
  RETURN_IF_ERROR(CheckId(id));
  const std::string path = exit_dir + "/" + id;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open exit file " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return absl::ErrnoToStatus(errno, "stat " + path);
  char buffer[32];
  ssize_t n;
  do {
    n = ::read(fd.get(), buffer, sizeof(buffer));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "read " + path);
  absl::string_view text(buffer, static_cast<size_t>(n));
  ContainerExit exit;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &exit.exit_code)) {
    return absl::InternalError(absl::StrCat("no exit code in ", path, ": ", text));
  }
  exit.finished_at = absl::TimeFromTimespec(st.st_mtim);
  exit.oom_killed = ::access((persist_dir + "/oom").c_str(), F_OK) == 0;
  return exit;
}

// The watcher's thread. Exit files appear as IN_MOVED_TO (conmon writes a
// temp file and renames it) or IN_CLOSE_WRITE (a writer that writes in
// place); a name is reported only while it exists as a regular file, which
// drops conmon's already renamed temp files. `on_exit` may see a name twice
// and must ignore names that are no container of its, and must not destroy
// the watcher.
struct ExitWatcher::Impl {
  UniqueFd inotify;
  UniqueFd wake;  // an eventfd the destructor writes to stop the thread
  UniqueFd dir;
  std::string dir_path;
  std::function<void(const std::string& id)> on_exit;
  std::thread thread;

  void Run();
  void ReadEvents();
  void Report(const char* name);
  void ReportAll();  // after the kernel's event queue overflowed
};

void ExitWatcher::Impl::Run() {
  struct pollfd fds[2] = {{inotify.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
  while (true) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || fds[1].revents != 0) return;
    if (fds[0].revents != 0) ReadEvents();
  }
}

void ExitWatcher::Impl::ReadEvents() {
  alignas(struct inotify_event) char buffer[16384];
  while (true) {
    ssize_t n = ::read(inotify.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: all read
    for (char* p = buffer; p < buffer + n;) {
      const auto* event = reinterpret_cast<const struct inotify_event*>(p);
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        ReportAll();
      } else if (event->len > 0) {
        Report(event->name);
      }
      p += sizeof(struct inotify_event) + event->len;
    }
  }
}

void ExitWatcher::Impl::Report(const char* name) {
  struct stat st;
  if (name[0] == '.' || ::fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode)) {
    return;
  }
  on_exit(name);
}

void ExitWatcher::Impl::ReportAll() {
  // Nothing to return an error to on this thread: an exit missed here is
  // still read from its exit file by the next ContainerStatus or Stop.
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir_path);
  if (!names.ok()) return;
  for (const std::string& name : *names) Report(name.c_str());
}

absl::StatusOr<std::unique_ptr<ExitWatcher>> ExitWatcher::Start(
    const std::string& exit_dir, std::function<void(const std::string& id)> on_exit) {
  auto impl = std::make_unique<Impl>();
  impl->inotify.Reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!impl->inotify.valid()) return absl::ErrnoToStatus(errno, "inotify_init1");
  if (::inotify_add_watch(impl->inotify.get(), exit_dir.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
    return absl::ErrnoToStatus(errno, "watch " + exit_dir);
  }
  impl->dir_path = exit_dir;
  impl->dir.Reset(::open(exit_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!impl->dir.valid()) return absl::ErrnoToStatus(errno, "open " + exit_dir);
  impl->wake.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->wake.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  impl->on_exit = std::move(on_exit);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  std::unique_ptr<ExitWatcher> watcher(new ExitWatcher());
  watcher->impl_ = std::move(impl);
  return watcher;
}

ExitWatcher::~ExitWatcher() {
  if (impl_ == nullptr) return;
  uint64_t one = 1;
  if (::write(impl_->wake.get(), &one, sizeof(one)) < 0) {
    // Only fails if the counter would overflow: the thread is woken anyway.
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace ocid
