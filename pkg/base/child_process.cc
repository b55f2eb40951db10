#include "pkg/base/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "pkg/base/child_reaper.h"

namespace ocid {

absl::StatusOr<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                                 const std::string& output_path) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("spawn: argv[0] must be an absolute path");
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  const char* output = output_path.empty() ? "/dev/null" : output_path.c_str();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output,
                                   O_WRONLY | O_CREAT | O_APPEND, 0640);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  int error = 0;
  // Registered: the orphan reaper leaves it to our waits.
  SpawnOwnedChild([&] {
    error = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    return error == 0 ? pid : -1;
  });
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return absl::ErrnoToStatus(error, absl::StrCat("spawn ", argv[0]));
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), wait_status_(other.wait_status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    wait_status_ = other.wait_status_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { KillAndReap(); }

void ChildProcess::KillAndReap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
  }
  ReleaseOwnedChild(std::exchange(pid_, -1));
}

absl::Status ChildProcess::Signal(int signal) {
  if (pid_ <= 0) return absl::FailedPreconditionError("the child has exited");
  if (::kill(pid_, signal) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("signal ", signal, " to pid ", pid_));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::Wait() {
  if (pid_ <= 0) return wait_status_;
  while (::waitpid(pid_, &wait_status_, 0) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat("wait for ", pid_));
  }
  ReleaseOwnedChild(std::exchange(pid_, -1));
  return wait_status_;
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  if (::waitpid(pid_, &wait_status_, WNOHANG) == pid_) {
    ReleaseOwnedChild(std::exchange(pid_, -1));
    return false;
  }
  return true;
}

}  // namespace ocid
