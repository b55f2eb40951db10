// Running containers with an OCI runtime (runc, crun) under conmon, one
// conmon per container: create, start, signal, delete, state, exec, logs.
#ifndef OCID_PKG_OCI_RUNTIME_H_
#define OCID_PKG_OCI_RUNTIME_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/config/config.h"
#include "pkg/streaming/channel.h"

namespace ocid {

struct ContainerLaunch {
  std::string id;
  std::string name;         // for conmon's -n
  std::string bundle;       // holds config.json; conmon's pidfile, ctl, attach go here
  std::string log_path;     // the CRI log file (absolute)
  std::string exit_dir;     // conmon writes <exit_dir>/<id> with the exit code
  std::string persist_dir;  // conmon's --persist-dir (exit and oom files)
  bool tty = false;
  bool stdin = false;
  bool stdin_once = false;  // the first attach to end its input closes stdin
  // A dir of CRIU images: conmon restores the container from them (runtime
  // restore) instead of creating it, and it runs once Create returns.
  std::string restore_from;
};

struct RuntimeState {
  std::string status;  // "created", "running", "stopped", "paused" or "unknown"
  pid_t pid = 0;       // the container's init process, 0 when not running
};

struct ExecResult {
  std::string stdout_data;
  std::string stderr_data;
  int exit_code = 0;
  bool timed_out = false;
};

class OciRuntime {
 public:
  // `handler` is the runtime binary and its --root; `conmon` the monitor;
  // `runroot` ocid's volatile state dir (conmon's socket dir lives under it).
  OciRuntime(std::string handler_name, RuntimeHandler handler, std::string conmon,
             std::string runroot);

  // Creates the container (runtime create, via conmon) but does not start
  // it. Returns conmon's pid. On failure nothing of it is left running.
  absl::StatusOr<pid_t> Create(const ContainerLaunch& launch);
  absl::Status Start(const std::string& id);
  // Sends `signal` to the container's init process; NotFound if it is gone.
  absl::Status Kill(const std::string& id, int signal);
  // runtime pause / resume: the container's processes frozen (cgroup
  // freezer) and thawed.
  absl::Status Pause(const std::string& id);
  absl::Status Resume(const std::string& id);
  // runtime checkpoint: CRIU's images of the running container into
  // `image_dir`, its logs into `work_dir`; the container runs on when
  // `leave_running`. The runtime's (and CRIU's) message on failure.
  absl::Status Checkpoint(const std::string& id, const std::string& image_dir,
                          const std::string& work_dir, bool leave_running);
  // Removes the runtime's state of a stopped (or, with force, any) container.
  // Idempotent: a container the runtime does not know is fine.
  absl::Status Delete(const std::string& id, bool force);
  absl::StatusOr<RuntimeState> State(const std::string& id);
  // `runtime update --resources -` with `resources_json` (linux.resources)
  // on stdin: applied to the live cgroup. A value the kernel refuses is the
  // runtime's error (InvalidArgument, with its message).
  absl::Status Update(const std::string& id, const std::string& resources_json);

  // Runs `command` in the container and collects its output (each stream
  // capped at 16 MiB). timeout zero means none; a timeout kills the process
  // and sets timed_out.
  absl::StatusOr<ExecResult> ExecSync(const std::string& id, const std::string& bundle,
                                      const std::vector<std::string>& command,
                                      absl::Duration timeout);

  // Starts `command` in the container for an interactive session (exec
  // over the streaming server): with a terminal (of stdio.size) when
  // stdio.tty, reading input only with stdio.stdin. The channel's end is the
  // command's.
  absl::StatusOr<std::unique_ptr<streaming::Channel>> StartExec(
      const std::string& id, const std::string& bundle, const std::vector<std::string>& command,
      const streaming::ExecStdio& stdio);
  // Joins the running container's stdio through conmon's attach socket;
  // with `stdin`, input goes to the container (created with stdin).
  absl::StatusOr<std::unique_ptr<streaming::Channel>> Attach(const std::string& id,
                                                             const std::string& bundle, bool stdin);

  // Makes conmon reopen the container's log file (after it was renamed) and
  // returns once the new file exists at `log_path` (conmon reopens
  // asynchronously); DeadlineExceeded if it does not appear within 5 s.
  absl::Status ReopenLog(const std::string& bundle, const std::string& log_path);

  const std::string& handler_name() const { return handler_name_; }

 private:
  std::string handler_name_;
  RuntimeHandler handler_;
  std::string conmon_;
  std::string runroot_;
};

// Removes the cgroup dirs named by the linux.cgroupsPath (cgroupfs form) of
// the spec at `spec_path`, in each hierarchy under `cgroup_root`: what a
// runtime killed mid-create made and its `delete` of a container it never
// recorded leaves behind, after killing what still runs in them. A missing
// spec or dir is fine; a systemd path is the manager's to remove.
// Whether CRIU can checkpoint on this host (`criu check`): FailedPrecondition
// with criu's own reason when it cannot, or when `criu` is not installed.
absl::Status CheckCriu(const std::string& criu = "/usr/sbin/criu");

absl::Status RemoveCgroupsOf(const std::string& spec_path,
                             const std::string& cgroup_root = "/sys/fs/cgroup");

// Reads conmon's exit file <exit_dir>/<id>: the exit code, and the file's
// mtime as the time of exit. NotFound while the container still runs.
struct ContainerExit {
  int exit_code = 0;
  absl::Time finished_at;
  bool oom_killed = false;  // conmon's <persist_dir>/oom file exists
};
absl::StatusOr<ContainerExit> ReadExitFile(const std::string& exit_dir, const std::string& id,
                                           const std::string& persist_dir);

// Watches an exit dir with inotify (no polling) and calls `on_exit(id)` from
// its own thread for each exit file conmon writes. Stops when destroyed.
class ExitWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<ExitWatcher>> Start(
      const std::string& exit_dir, std::function<void(const std::string& id)> on_exit);
  ~ExitWatcher();

 private:
  ExitWatcher() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocid

#endif  // OCID_PKG_OCI_RUNTIME_H_
