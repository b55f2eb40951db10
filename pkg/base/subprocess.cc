#include "pkg/base/subprocess.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "pkg/base/child_reaper.h"
#include "pkg/base/fs.h"
#include "pkg/base/pidfd.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

// The lowest number the child's fds are first duplicated at, so that placing
// them at 0, 1, 2, 3, ... never overwrites one not yet placed.
constexpr int kFirstHighFd = 16;

// Without a pidfd, Wait with a timeout polls waitpid(WNOHANG): first soon
// (most commands we wait for end within milliseconds), then less often.
constexpr absl::Duration kFirstWaitPoll = absl::Milliseconds(1);
constexpr absl::Duration kMaxWaitPoll = absl::Milliseconds(20);

absl::string_view EnvName(absl::string_view entry) { return entry.substr(0, entry.find('=')); }

std::vector<std::string> ChildEnv(const Subprocess::Options& options) {
  if (options.clear_env) return options.env;
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    bool replaced = std::any_of(options.env.begin(), options.env.end(), [&](const std::string& e) {
      return EnvName(e) == EnvName(*entry);
    });
    if (!replaced) env.emplace_back(*entry);
  }
  env.insert(env.end(), options.env.begin(), options.env.end());
  return env;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

absl::StatusOr<UniqueFd> NewMemFd(const char* name, absl::string_view contents) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("memfd_create ", name));
  while (!contents.empty()) {
    ssize_t n = ::write(fd.get(), contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("write ", name));
    contents.remove_prefix(static_cast<size_t>(n));
  }
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("seek ", name));
  }
  return fd;
}

// What was written to a capture memfd, from its start (the child's writes
// moved the shared offset).
std::string ReadMemFd(int fd, size_t max_bytes) {
  if (fd < 0) return "";
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) return "";
  std::string data(std::min(max_bytes, static_cast<size_t>(st.st_size)), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pread(fd, &data[done], data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

// One of fds 0-2 made ready for the child: `fd` is what it gets a copy of,
// `owned` holds it if we opened it.
struct StdFd {
  int fd = -1;
  UniqueFd owned;
};

absl::StatusOr<StdFd> OpenStdio(const Stdio::Kind kind, int fd, const std::string& text,
                                bool input) {
  StdFd out;
  switch (kind) {
    case Stdio::kFd:
      out.fd = fd;
      return out;
    case Stdio::kNull:
      out.owned.Reset(::open("/dev/null", (input ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
      if (!out.owned.valid()) return absl::ErrnoToStatus(errno, "open /dev/null");
      break;
    case Stdio::kFile:
      out.owned.Reset(input
                          ? ::open(text.c_str(), O_RDONLY | O_CLOEXEC)
                          : ::open(text.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
      if (!out.owned.valid()) return absl::ErrnoToStatus(errno, "open " + text);
      break;
    case Stdio::kCapture: {
      if (input) return absl::InvalidArgumentError("stdin cannot be captured");
      ASSIGN_OR_RETURN(out.owned, NewMemFd("ocid-capture", ""));
      break;
    }
    case Stdio::kData: {
      if (!input) return absl::InvalidArgumentError("only stdin takes data");
      ASSIGN_OR_RETURN(out.owned, NewMemFd("ocid-stdin", text));
      break;
    }
  }
  out.fd = out.owned.get();
  return out;
}

// posix_spawn's file actions and attributes, released by scope.
struct SpawnSetup {
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
};

// Places `high_fds` at 0, 1, 2, ... and closes every other fd; resets the
// signal mask and dispositions. Returns an errno value.
int PrepareSpawn(const std::vector<UniqueFd>& high_fds, bool new_process_group, SpawnSetup& setup) {
  int error = 0;
  for (size_t i = 0; i < high_fds.size() && error == 0; ++i) {
    // dup2 onto another number clears FD_CLOEXEC on the copy.
    error =
        posix_spawn_file_actions_adddup2(&setup.actions, high_fds[i].get(), static_cast<int>(i));
  }
  if (error == 0) {
    error =
        posix_spawn_file_actions_addclosefrom_np(&setup.actions, static_cast<int>(high_fds.size()));
  }
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (new_process_group) flags |= POSIX_SPAWN_SETPGROUP;
  if (error == 0) error = posix_spawnattr_setsigmask(&setup.attr, &none);
  if (error == 0) error = posix_spawnattr_setsigdefault(&setup.attr, &all);
  if (error == 0) error = posix_spawnattr_setpgroup(&setup.attr, 0);
  if (error == 0) error = posix_spawnattr_setflags(&setup.attr, flags);
  return error;
}

// Waits until `fd` is readable or `timeout` passes (false).
absl::StatusOr<bool> PollIn(int fd, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int timeout_ms = -1;
    if (timeout != absl::InfiniteDuration()) {
      absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
      timeout_ms = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), INT_MAX));
    }
    struct pollfd item = {fd, POLLIN, 0};
    int n = ::poll(&item, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "poll pidfd");
    if (n > 0) return true;
    if (timeout_ms >= 0 && absl::Now() >= deadline) return false;
  }
}

}  // namespace

Stdio Stdio::Fd(int fd) {
  Stdio stdio(kFd);
  stdio.fd_ = fd;
  return stdio;
}

Stdio Stdio::File(std::string path) {
  Stdio stdio(kFile);
  stdio.text_ = std::move(path);
  return stdio;
}

Stdio Stdio::Data(std::string bytes) {
  Stdio stdio(kData);
  stdio.text_ = std::move(bytes);
  return stdio;
}

absl::StatusOr<Subprocess> Subprocess::Spawn(Options options) {
  if (options.argv.empty() || options.argv[0].empty() || options.argv[0][0] != '/') {
    return absl::InvalidArgumentError("spawn: argv[0] must be an absolute path");
  }
  const std::string& binary = options.argv[0];
  StdFd std_fds[3];
  const Stdio* stdio[3] = {&options.stdin_io, &options.stdout_io, &options.stderr_io};
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<StdFd> fd = OpenStdio(stdio[i]->kind_, stdio[i]->fd_, stdio[i]->text_, i == 0);
    if (!fd.ok())
      return absl::Status(fd.status().code(),
                          absl::StrCat("spawn ", binary, ": ", fd.status().message()));
    std_fds[i] = std::move(*fd);
  }
  std::vector<int> sources = {std_fds[0].fd, std_fds[1].fd, std_fds[2].fd};
  sources.insert(sources.end(), options.extra_fds.begin(), options.extra_fds.end());
  const int first_high = std::max(kFirstHighFd, static_cast<int>(sources.size()));
  std::vector<UniqueFd> high_fds;
  for (int fd : sources) {
    UniqueFd high(::fcntl(fd, F_DUPFD_CLOEXEC, first_high));
    if (!high.valid()) return absl::ErrnoToStatus(errno, "duplicate an fd for " + binary);
    high_fds.push_back(std::move(high));
  }
  SpawnSetup setup;
  int error = PrepareSpawn(high_fds, options.new_process_group, setup);
  if (error != 0) return absl::ErrnoToStatus(error, "prepare spawn of " + binary);
  std::vector<std::string> env = ChildEnv(options);
  std::vector<char*> argv = CStrings(options.argv);
  std::vector<char*> envp = CStrings(env);
  pid_t pid = -1;
  const auto& write_label =
      options.write_exec_label ? options.write_exec_label : WriteThreadExecLabel;
  if (!options.exec_label.empty()) {
    absl::Status labelled = write_label(options.exec_label);
    if (!labelled.ok()) {
      return absl::Status(labelled.code(),
                          absl::StrCat("spawn ", binary, " with SELinux label ", options.exec_label,
                                       ": ", labelled.message()));
    }
  }
  // This thread's later execs and spawns must not take the label too.
  absl::Cleanup clear_label = [&] {
    if (!options.exec_label.empty()) write_label("").IgnoreError();
  };
  // Registered before anyone can reap it: the orphan reaper leaves it to us.
  SpawnOwnedChild([&] {
    error = ::posix_spawn(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
    return error == 0 ? pid : -1;
  });
  if (error != 0) return absl::ErrnoToStatus(error, "spawn " + binary);
  // Our unreaped child: its pid cannot have been reused yet. Without pidfds
  // (ENOSYS) the pid alone is as good while we hold it unreaped: the orphan
  // reaper leaves it to us, so nothing else can free the pid for reuse.
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd.valid() && errno != ENOSYS) {
    absl::Status status = absl::ErrnoToStatus(errno, "pidfd_open " + binary);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    ReleaseOwnedChild(pid);
    return status;
  }
  UniqueFd out =
      options.stdout_io.kind_ == Stdio::kCapture ? std::move(std_fds[1].owned) : UniqueFd();
  UniqueFd err =
      options.stderr_io.kind_ == Stdio::kCapture ? std::move(std_fds[2].owned) : UniqueFd();
  return Subprocess(pid, std::move(pidfd), options.new_process_group, std::move(out),
                    std::move(err), options.max_capture);
}

absl::Status WriteThreadExecLabel(absl::string_view label) {
  constexpr char kPath[] = "/proc/thread-self/attr/exec";
  UniqueFd fd(::open(kPath, O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", kPath));
  // A write of nothing clears it.
  if (::write(fd.get(), label.data(), label.size()) < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("write \"", label, "\" to ", kPath));
  }
  return absl::OkStatus();
}

absl::StatusOr<Subprocess> Subprocess::SpawnLogged(std::vector<std::string> argv,
                                                   const std::string& output_path) {
  Options options;
  options.argv = std::move(argv);
  if (!output_path.empty()) {
    options.stdout_io = Stdio::File(output_path);
    options.stderr_io = Stdio::File(output_path);
  }
  return Spawn(std::move(options));
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      group_(other.group_),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)),
      max_capture_(other.max_capture_),
      wait_status_(other.wait_status_) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    group_ = other.group_;
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
    max_capture_ = other.max_capture_;
    wait_status_ = other.wait_status_;
  }
  return *this;
}

Subprocess::~Subprocess() { KillAndReap(); }

void Subprocess::KillAndReap() {
  if (pid_ < 0) return;
  // The group first: while its leader is unreaped, the group id is ours.
  if (group_) ::kill(-pid_, SIGKILL);
  SignalChild(SIGKILL);
  Reap().IgnoreError();
}

int Subprocess::SignalChild(int signal) {
  return pidfd_.valid() ? PidfdSendSignal(pidfd_.get(), signal) : ::kill(pid_, signal);
}

absl::Status Subprocess::Reap() {
  absl::Status status;
  while (::waitpid(pid_, &wait_status_, 0) < 0) {
    if (errno == EINTR) continue;
    status = absl::ErrnoToStatus(errno, absl::StrCat("wait for ", pid_));
    break;
  }
  ReleaseOwnedChild(std::exchange(pid_, -1));
  pidfd_.Reset();
  return status;
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  if (pid_ < 0) return wait_status_;
  if (!pidfd_.valid() && timeout != absl::InfiniteDuration()) return PollWait(timeout);
  if (pidfd_.valid()) {
    ASSIGN_OR_RETURN(bool exited, PollIn(pidfd_.get(), timeout));
    if (!exited) return StillRuns(timeout);
  }
  RETURN_IF_ERROR(Reap());
  return wait_status_;
}

// waitpid names our child by pid alone, which is safe: unreaped, the pid is
// still its own.
absl::StatusOr<int> Subprocess::PollWait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = kFirstWaitPoll;
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      wait_status_ = status;
      ReleaseOwnedChild(std::exchange(pid_, -1));
      return wait_status_;
    }
    if (done < 0 && errno != EINTR) {
      absl::Status failed = absl::ErrnoToStatus(errno, absl::StrCat("wait for ", pid_));
      ReleaseOwnedChild(std::exchange(pid_, -1));  // as Reap does
      return failed;
    }
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return StillRuns(timeout);
    absl::SleepFor(std::min(pause, left));
    pause = std::min(pause * 2, kMaxWaitPoll);
  }
}

absl::Status Subprocess::StillRuns(absl::Duration timeout) const {
  return absl::DeadlineExceededError(
      absl::StrCat("pid ", pid_, " still runs after ", absl::FormatDuration(timeout)));
}

bool Subprocess::Running() { return pid_ >= 0 && !Wait(absl::ZeroDuration()).ok(); }

absl::Status Subprocess::Signal(int signal) {
  if (pid_ < 0) return absl::FailedPreconditionError("the child was reaped or released");
  if (SignalChild(signal) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("signal ", signal, " to pid ", pid_));
  }
  return absl::OkStatus();
}

absl::Status Subprocess::SignalGroup(int signal) {
  if (!group_) return absl::FailedPreconditionError("the child has no process group of its own");
  if (pid_ < 0) return absl::FailedPreconditionError("the child was reaped or released");
  if (::kill(-pid_, signal) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("signal ", signal, " to group ", pid_));
  }
  return absl::OkStatus();
}

pid_t Subprocess::Release() {
  pid_t pid = std::exchange(pid_, -1);
  if (pid >= 0) ReleaseOwnedChild(pid);
  pidfd_.Reset();
  return pid;
}

std::string Subprocess::Stdout() const { return ReadMemFd(stdout_.get(), max_capture_); }
std::string Subprocess::Stderr() const { return ReadMemFd(stderr_.get(), max_capture_); }

absl::StatusOr<CommandResult> RunCommand(Subprocess::Options options, absl::Duration timeout) {
  options.stdout_io = Stdio::Capture();
  options.stderr_io = Stdio::Capture();
  const std::string command = absl::StrJoin(options.argv, " ");
  ASSIGN_OR_RETURN(Subprocess child, Subprocess::Spawn(std::move(options)));
  absl::StatusOr<int> status = child.Wait(timeout);
  if (!status.ok()) {
    return absl::Status(status.status().code(),
                        absl::StrCat(command, ": ", status.status().message()));
  }
  return CommandResult{*status, child.Stdout(), child.Stderr()};
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout) {
  Subprocess::Options options;
  options.argv = argv;
  return RunCommand(std::move(options), timeout);
}

bool ExitedZero(int wait_status) { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exit status ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return absl::StrCat("killed by signal ", WTERMSIG(wait_status));
  return absl::StrCat("wait status ", wait_status);
}

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("bad /proc stat line: ", text.substr(0, 200)));
  };
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return bad();
  }
  ProcStat stat;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(text.substr(close + 1)), ' ', absl::SkipEmpty());
  // fields[0] is field 3 of proc(5) (state), so field N is fields[N - 3].
  constexpr size_t kStartTime = 22 - 3;
  if (fields.size() <= kStartTime || fields[0].size() != 1) return bad();
  stat.state = fields[0][0];
  if (!absl::SimpleAtoi(fields[1], &stat.ppid) ||
      !absl::SimpleAtoi(fields[kStartTime], &stat.start_time)) {
    return bad();
  }
  return stat;
}

absl::StatusOr<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("bad pid ", pid));
  // ENOENT, or ESRCH if it exits while we read: both are NotFound.
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(absl::StrCat("/proc/", pid, "/stat"), 4096));
  return ParseProcStat(text);
}

absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid) {
  ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));
  return ProcessIdentity{pid, stat.start_time};
}

namespace {

// NotFound unless `identity.pid` is a process (a zombie included) started
// at `identity.start_time`.
absl::Status CheckStartTime(const ProcessIdentity& identity) {
  absl::StatusOr<ProcStat> stat = ReadProcStat(identity.pid);
  if (absl::IsNotFound(stat.status())) {
    return absl::NotFoundError(absl::StrCat("no process ", identity.pid));
  }
  RETURN_IF_ERROR(stat.status());
  if (stat->start_time != identity.start_time) {
    return absl::NotFoundError(absl::StrCat("pid ", identity.pid, " is another process now"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UniqueFd> OpenPidfd(const ProcessIdentity& identity) {
  if (identity.pid <= 0) return absl::InvalidArgumentError(absl::StrCat("bad pid ", identity.pid));
  UniqueFd pidfd(PidfdOpen(identity.pid));
  if (!pidfd.valid()) {
    if (errno == ESRCH) return absl::NotFoundError(absl::StrCat("no process ", identity.pid));
    return absl::ErrnoToStatus(errno, absl::StrCat("pidfd_open ", identity.pid));
  }
  // The pidfd names whoever had the pid when it was opened; if that process
  // still has the start time we expect, it is the one.
  RETURN_IF_ERROR(CheckStartTime(identity));
  return pidfd;
}

absl::Status SignalIfSame(const ProcessIdentity& identity, int signal) {
  absl::StatusOr<UniqueFd> pidfd = OpenPidfd(identity);
  int sent = 0;
  if (pidfd.ok()) {
    sent = PidfdSendSignal(pidfd->get(), signal);
  } else if (absl::IsUnimplemented(pidfd.status())) {
    // No pidfds (ENOSYS): the start time checked just before kill(2). Only
    // a process that exits, is reaped and has its pid reused between the two
    // could be hit; the pid space is not reused that fast in practice.
    RETURN_IF_ERROR(CheckStartTime(identity));
    sent = ::kill(identity.pid, signal);
  } else {
    return pidfd.status();
  }
  if (sent != 0) {
    if (errno == ESRCH) return absl::NotFoundError(absl::StrCat("no process ", identity.pid));
    return absl::ErrnoToStatus(errno, absl::StrCat("signal ", signal, " to pid ", identity.pid));
  }
  return absl::OkStatus();
}

namespace {

// Whether /proc/<pid>/<file> contains `needle` (false when unreadable: gone,
// or a kernel thread).
bool ProcFileContains(const std::string& pid, const char* file, absl::string_view needle) {
  absl::StatusOr<std::string> text =
      ReadFileToString(absl::StrCat("/proc/", pid, "/", file), 1 << 20);
  return text.ok() && absl::StrContains(*text, needle);
}

bool Gone(const ProcessIdentity& identity) {
  absl::StatusOr<ProcStat> stat = ReadProcStat(identity.pid);
  return !stat.ok() || stat->start_time != identity.start_time || stat->state == 'Z';
}

}  // namespace

absl::StatusOr<int> KillProcessesNaming(absl::string_view needle, absl::Duration timeout) {
  if (needle.empty()) return absl::InvalidArgumentError("empty needle names every process");
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (proc == nullptr) return absl::ErrnoToStatus(errno, "open /proc");
  std::vector<ProcessIdentity> found;
  const pid_t self = ::getpid();
  while (dirent* entry = ::readdir(proc.get())) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid == self) continue;
    if (!ProcFileContains(entry->d_name, "cmdline", needle) &&
        !ProcFileContains(entry->d_name, "environ", needle)) {
      continue;
    }
    absl::StatusOr<ProcessIdentity> identity = IdentifyProcess(pid);
    if (identity.ok()) found.push_back(*identity);
  }
  for (const ProcessIdentity& identity : found) {
    SignalIfSame(identity, SIGKILL).IgnoreError();  // NotFound: gone already
  }
  absl::Time deadline = absl::Now() + timeout;
  for (const ProcessIdentity& identity : found) {
    while (!Gone(identity)) {
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("pid ", identity.pid, " still runs after SIGKILL"));
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  return static_cast<int>(found.size());
}

}  // namespace ocid
