// ocid is a child subreaper: every orphan below it (the daemonized conmons,
// ocid-infra, what a killed runtime leaves) is reparented to it, and this
// machine's PID 1 need not reap. This is the one place that reaps them.
//
// Code that starts a child and waits for it itself (Subprocess, in
// subprocess.h, the one place that starts processes) starts it through
// SpawnOwnedChild, which registers the pid before anyone can reap it, and
// calls ReleaseOwnedChild once its own wait has reaped it. The reaper reaps
// only zombie children of ours that are not registered: never a blind
// waitpid(-1), so no owner loses its child's exit status.
#ifndef OCID_PKG_BASE_CHILD_REAPER_H_
#define OCID_PKG_BASE_CHILD_REAPER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace ocid {

// The pids of the children of process `pid` (0: this one), from each of its
// threads' children list under `proc` (a child belongs to the thread that
// forked it; orphans reparented to a subreaper, to its main thread).
std::vector<pid_t> ChildPids(const std::string& proc = "/proc", pid_t pid = 0);

// Whether process `pid` under `proc` has exited and waits to be reaped.
bool IsZombie(pid_t pid, const std::string& proc = "/proc");

// Runs `spawn` (which starts one child and returns its pid, or a value <= 0
// on failure) with the registry locked, and registers the pid it returns.
// A forking `spawn` must not return in the child.
pid_t SpawnOwnedChild(absl::FunctionRef<pid_t()> spawn);

// Unregisters `pid` once its owner has reaped it (or given it up).
void ReleaseOwnedChild(pid_t pid);

// Reaps every zombie child of this process that no owner registered;
// returns how many it reaped.
int ReapOrphans();

// While one exists, ReapOrphans reaps nothing. A library that forks and
// waits for its children itself, where we cannot register them (gpgme's
// double fork for gpg), runs under one so that its waitpid finds them; what
// it leaves to us (gpg, reparented to this subreaper) is reaped after.
class ScopedReapPause {
 public:
  ScopedReapPause();
  ~ScopedReapPause();
  ScopedReapPause(const ScopedReapPause&) = delete;
  ScopedReapPause& operator=(const ScopedReapPause&) = delete;
};

// Makes this process a child subreaper and reaps orphans on a thread of its
// own, woken by SIGCHLD (through a signalfd), until destroyed. Start blocks
// SIGCHLD in the calling thread: call it before any other thread starts, so
// that all of them inherit the mask.
class OrphanReaper {
 public:
  static absl::StatusOr<std::unique_ptr<OrphanReaper>> Start();
  ~OrphanReaper();
  OrphanReaper(const OrphanReaper&) = delete;
  OrphanReaper& operator=(const OrphanReaper&) = delete;

 private:
  struct Impl;
  explicit OrphanReaper(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_CHILD_REAPER_H_
