// A child process that is always reaped: the destructor kills (SIGKILL) and
// waits for a child that is still running, so no error path leaks one.
#ifndef OCID_PKG_BASE_CHILD_PROCESS_H_
#define OCID_PKG_BASE_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ocid {

class ChildProcess {
 public:
  // Starts argv[0] (an absolute path) with `argv`; stdin is /dev/null and
  // stdout and stderr go to `output_path` (created or appended to; "" means
  // /dev/null). The child inherits no other fds of ours (they are CLOEXEC).
  static absl::StatusOr<ChildProcess> Spawn(const std::vector<std::string>& argv,
                                            const std::string& output_path = "");

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Sends `signal` unless the child was reaped already.
  absl::Status Signal(int signal);

  // Waits for the child to exit; returns its wait status (see waitpid(2)).
  absl::StatusOr<int> Wait();

  // True while the child has not exited (reaps it if it has).
  bool Running();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  void KillAndReap();

  pid_t pid_ = -1;  // -1 once reaped or moved from
  int wait_status_ = 0;
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_CHILD_PROCESS_H_
