// pidfd_open(2) and pidfd_send_signal(2), and whether this process has them.
//
// Kernels before 5.3, valgrind (it does not know the syscall) and some
// seccomp sandboxes answer ENOSYS. The first ENOSYS is remembered: later
// calls fail at once without the syscall, and callers take their waitpid or
// /proc based fallback (Subprocess, KillTimedOutExec, Cgroups::Kill).
#ifndef OCID_PKG_BASE_PIDFD_H_
#define OCID_PKG_BASE_PIDFD_H_

#include <sys/types.h>

namespace ocid {

// A pidfd (O_CLOEXEC, as pidfds always are) for `pid`, or -1 with errno set;
// ENOSYS when pidfds are unavailable.
int PidfdOpen(pid_t pid);

// pidfd_send_signal(2): 0, or -1 with errno set.
int PidfdSendSignal(int pidfd, int signal);

// False once pidfd_open has answered ENOSYS (asks the kernel on first use).
bool PidfdsAvailable();

// Tests: while one exists, PidfdOpen fails with ENOSYS as if the kernel
// lacked it, so the fallbacks run on any kernel. Not for concurrent use with
// a test that needs pidfds.
class ScopedNoPidfdsForTest {
 public:
  ScopedNoPidfdsForTest();
  ~ScopedNoPidfdsForTest();
  ScopedNoPidfdsForTest(const ScopedNoPidfdsForTest&) = delete;
  ScopedNoPidfdsForTest& operator=(const ScopedNoPidfdsForTest&) = delete;
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_PIDFD_H_
