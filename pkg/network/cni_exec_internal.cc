#include "pkg/network/cni_exec_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pkg/base/child_reaper.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace cni_internal {
namespace {

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

// What the plugin wrote (the fd's offset moved with its writes; we read from 0).
std::string ReadMemFd(int fd) {
  std::string out;
  char buffer[65536];
  off_t offset = 0;
  while (out.size() < kMaxPluginOutput) {
    size_t want = std::min(sizeof(buffer), kMaxPluginOutput - out.size());
    ssize_t n = ::pread(fd, buffer, want, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
  return out;
}

// Starts `path` in a new process group with fds 0-2 from `fds`, no other fds,
// no blocked signals and default signal dispositions.
absl::StatusOr<pid_t> Spawn(const std::string& path, const std::vector<std::string>& env,
                            const int (&fds)[3]) {
  std::vector<char*> argv = {const_cast<char*>(path.c_str()), nullptr};
  std::vector<char*> envp;
  for (const std::string& entry : env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int i = 0; i < 3; ++i) posix_spawn_file_actions_adddup2(&actions, fds[i], i);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int error = 0;
  // Registered: the orphan reaper leaves it to Reap.
  SpawnOwnedChild([&] {
    error = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
    return error == 0 ? pid : -1;
  });
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return absl::ErrnoToStatus(error, absl::StrCat("spawn CNI plugin ", path));
  return pid;
}

// True once `pid` has exited, false if it still runs after `timeout`.
absl::StatusOr<bool> WaitForExit(pid_t pid, absl::Duration timeout) {
  // glibc 2.36's <sys/pidfd.h> lacks extern "C"; call the syscall directly.
  // A pidfd is always close-on-exec.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("pidfd_open ", pid));
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    int64_t ms = std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, INT_MAX);
    pollfd ready = {pidfd.get(), POLLIN, 0};
    int n = ::poll(&ready, 1, static_cast<int>(ms));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "poll pidfd");
  }
}

absl::StatusOr<int> Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      ReleaseOwnedChild(pid);
      return absl::ErrnoToStatus(errno, absl::StrCat("wait for plugin ", pid));
    }
  }
  ReleaseOwnedChild(pid);
  return status;
}

}  // namespace

absl::StatusOr<PluginRun> RunPlugin(const std::string& path, const std::vector<std::string>& env,
                                    absl::string_view stdin_data, absl::Duration timeout) {
  ASSIGN_OR_RETURN(UniqueFd in, NewMemFd("cni-stdin", stdin_data));
  ASSIGN_OR_RETURN(UniqueFd out, NewMemFd("cni-stdout", ""));
  ASSIGN_OR_RETURN(UniqueFd err, NewMemFd("cni-stderr", ""));
  ASSIGN_OR_RETURN(pid_t pid, Spawn(path, env, {in.get(), out.get(), err.get()}));
  bool reaped = false;
  absl::Cleanup kill_unreaped = [&] {
    if (reaped) return;
    ::kill(-pid, SIGKILL);
    Reap(pid).IgnoreError();
  };
  ASSIGN_OR_RETURN(bool exited, WaitForExit(pid, timeout));
  PluginRun run;
  if (!exited) {
    run.timed_out = true;
    ::kill(-pid, SIGKILL);  // the group: also whatever the plugin started
  }
  ASSIGN_OR_RETURN(int status, Reap(pid));
  reaped = true;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.stdout_text = ReadMemFd(out.get());
  run.stderr_text = ReadMemFd(err.get());
  return run;
}

absl::StatusOr<std::string> FindPlugin(const std::string& type,
                                       const std::vector<std::string>& dirs) {
  if (type.empty() || type == "." || type == ".." || type.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("CNI plugin type \"", type, "\" is not a name"));
  }
  for (const std::string& dir : dirs) {
    std::string path = absl::StrCat(dir, "/", type);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("CNI plugin ", type, " not found in ",
                   dirs.empty() ? "(no plugin dirs)" : absl::StrJoin(dirs, ":")));
}

}  // namespace cni_internal
}  // namespace ocid
