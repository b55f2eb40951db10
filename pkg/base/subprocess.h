// The one way ocid starts a process, and how it names one it did not start.
//
// Subprocess starts a program with posix_spawn (safe in a multithreaded
// daemon), holds a pidfd for it, and kills and reaps it when destroyed unless
// it has been waited for or Release()d. Where pidfds are missing (pidfd.h:
// old kernels, valgrind) it names the child by pid, which stays the child's
// until we reap it, and a Wait with a timeout polls waitpid(WNOHANG). A program that daemonises
// (conmon, ocid-infra) is a Subprocess that exits soon after start: wait for it, then name the
// daemon it left by a ProcessIdentity.
//
// A pid read back from a record may belong to another process after a reboot
// or once the pid is reused; a ProcessIdentity ({pid, start time}) does not,
// and SignalIfSame signals only the process it names.
#ifndef OCID_PKG_BASE_SUBPROCESS_H_
#define OCID_PKG_BASE_SUBPROCESS_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pkg/base/unique_fd.h"

namespace ocid {

// Where one of a child's fds 0, 1 and 2 comes from or goes to.
class Stdio {
 public:
  enum Kind { kNull, kFd, kFile, kCapture, kData };

  // /dev/null (the default).
  static Stdio Null() { return Stdio(kNull); }
  // A duplicate of `fd`, which stays the caller's.
  static Stdio Fd(int fd);
  // Input: opened read-only. Output: created (0640) or appended to.
  static Stdio File(std::string path);
  // Output only: kept in memory and read with Subprocess::Stdout()/Stderr().
  // A memfd rather than a pipe: a daemon the child leaves behind holding it
  // cannot block us, and no SIGPIPE reaches the child.
  static Stdio Capture() { return Stdio(kCapture); }
  // Input only: these bytes (in a memfd, for the same reasons).
  static Stdio Data(std::string bytes);

 private:
  friend class Subprocess;
  explicit Stdio(Kind kind) : kind_(kind) {}

  Kind kind_;
  int fd_ = -1;
  std::string text_;  // kFile: the path; kData: the bytes
};

class Subprocess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is an absolute path
    // "NAME=value" entries added to (or replacing) ours; with clear_env, the
    // child's whole environment.
    std::vector<std::string> env;
    bool clear_env = false;
    Stdio stdin_io = Stdio::Null();
    Stdio stdout_io = Stdio::Null();
    Stdio stderr_io = Stdio::Null();
    std::vector<int> extra_fds;  // become fds 3, 4, ... in the child; stay the caller's
    // The child leads a process group of its own: SignalGroup and the
    // destructor reach whatever it starts, and our group's signals miss it.
    bool new_process_group = false;
    size_t max_capture = 4 << 20;  // the most of a captured stream that is kept
    // The SELinux label the program runs with ("": none set, nothing
    // written). posix_spawn runs nothing of ours between its fork and exec,
    // so the label goes to this thread's /proc/thread-self/attr/exec just
    // before the spawn (the child is made with a copy of the thread's
    // credentials, the exec label with them, and the kernel applies it at
    // the exec) and is cleared right after. A write the kernel refuses fails
    // the spawn, before anything runs.
    std::string exec_label;
    // Writes the exec label ("" clears it); unset: the thread's
    // /proc/thread-self/attr/exec. Tests inject a fake.
    std::function<absl::Status(absl::string_view label)> write_exec_label;
  };

  // Starts the child with no other fd of ours, an empty signal mask and
  // default signal dispositions. It is registered with the orphan reaper
  // (child_reaper.h), which leaves its exit status to us.
  static absl::StatusOr<Subprocess> Spawn(Options options);
  // The common case: `argv` with our environment, stdin /dev/null, stdout and
  // stderr appended to `output_path` ("" means /dev/null).
  static absl::StatusOr<Subprocess> SpawnLogged(std::vector<std::string> argv,
                                                const std::string& output_path = "");

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // SIGKILLs (its group too, with new_process_group) and reaps a child that
  // has not been reaped or released.
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // Waits up to `timeout` for the child to exit and reaps it; returns its
  // wait status (waitpid(2)). DeadlineExceeded if it still runs. Once reaped,
  // returns the same status again.
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::InfiniteDuration());

  // True until the child has exited (reaps it if it has).
  bool Running();

  // Sends `signal` to the child (through the pidfd, or by pid while it is
  // unreaped): never to a process that reused the pid.
  // FailedPrecondition once the child is reaped or released.
  absl::Status Signal(int signal);
  // Sends `signal` to the child's process group (new_process_group only).
  absl::Status SignalGroup(int signal);

  // Gives the child up without killing it: the orphan reaper reaps it when
  // it exits. Returns its pid.
  pid_t Release();

  // What the child wrote to a Stdio::Capture() stream, at most max_capture
  // bytes ("" if that stream was not captured).
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  Subprocess(pid_t pid, UniqueFd pidfd, bool group, UniqueFd out, UniqueFd err, size_t max)
      : pid_(pid),
        pidfd_(std::move(pidfd)),
        group_(group),
        stdout_(std::move(out)),
        stderr_(std::move(err)),
        max_capture_(max) {}
  void KillAndReap();
  absl::Status Reap();
  absl::StatusOr<int> PollWait(absl::Duration timeout);  // no pidfd, finite timeout
  absl::Status StillRuns(absl::Duration timeout) const;
  int SignalChild(int signal);  // 0, or -1 with errno

  pid_t pid_ = -1;  // -1 once reaped, released or moved from
  UniqueFd pidfd_;  // invalid without pidfds
  bool group_ = false;
  UniqueFd stdout_;  // memfds of captured streams
  UniqueFd stderr_;
  size_t max_capture_ = 0;
  int wait_status_ = 0;
};

// Writes `label` ("" clears it) to /proc/thread-self/attr/exec: the label of
// the calling thread's next exec (and of a child it spawns, at the child's).
absl::Status WriteThreadExecLabel(absl::string_view label);

// How a command ended and what it printed.
struct CommandResult {
  int wait_status = 0;
  std::string stdout_data;
  std::string stderr_data;
};

// Runs `options` to completion with stdout and stderr captured (whatever
// options says for them). A command still running after `timeout` is
// killed: DeadlineExceeded naming the command.
absl::StatusOr<CommandResult> RunCommand(Subprocess::Options options, absl::Duration timeout);
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout);

// True if the wait status is a normal exit with code 0.
bool ExitedZero(int wait_status);
// "exit status N" / "killed by signal N" for a wait status.
std::string DescribeWaitStatus(int wait_status);

// A process as it can be persisted: its pid and its start time, in clock
// ticks after boot (field 22 of /proc/PID/stat). A reused pid has another
// start time; after a reboot, start times begin again near zero.
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;

  bool operator==(const ProcessIdentity& other) const {
    return pid == other.pid && start_time == other.start_time;
  }
  bool operator!=(const ProcessIdentity& other) const { return !(*this == other); }
};

// The fields of /proc/PID/stat that ocid uses.
struct ProcStat {
  std::string comm;  // the name, which may hold spaces and parentheses
  char state = '?';  // 'R', 'S', 'Z', ...
  pid_t ppid = 0;
  uint64_t start_time = 0;
};

// Parses the text of /proc/PID/stat. comm is what lies between the first '('
// and the last ')': the fields after it are split on spaces.
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text);

// NotFound if there is no such process.
absl::StatusOr<ProcStat> ReadProcStat(pid_t pid);

// The identity of the live (or zombie) process `pid`; NotFound if none.
absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid);

// A pidfd for the process `identity` names: opened first, then the start
// time checked, so the fd cannot name a process that reused the pid.
// NotFound if that process is gone or the pid is another process's;
// Unimplemented without pidfds.
absl::StatusOr<UniqueFd> OpenPidfd(const ProcessIdentity& identity);

// Sends `signal` to the process `identity` names, and to no other. NotFound
// if it is gone or the pid is another process's now. Without pidfds, the
// start time is checked just before kill(2) (a tiny window, see the .cc).
absl::Status SignalIfSame(const ProcessIdentity& identity, int signal);

// Kills (SIGKILL) every process but ours whose command line or environment
// contains `needle`, then waits up to `timeout` for them to be gone (a
// zombie is gone). For the helpers of one object (its ID in their arguments,
// or CNI_CONTAINERID=<id>) that an ocid which died left running: they must
// not finish after the object is undone. Returns how many it killed;
// DeadlineExceeded if some outlive `timeout`.
absl::StatusOr<int> KillProcessesNaming(absl::string_view needle, absl::Duration timeout);

}  // namespace ocid

#endif  // OCID_PKG_BASE_SUBPROCESS_H_
