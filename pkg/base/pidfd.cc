#include "pkg/base/pidfd.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace ocid {
namespace {

// Set by the first ENOSYS. A process-wide fact about the kernel, not state.
std::atomic<bool> missing{false};
std::atomic<int> forced_off{0};  // ScopedNoPidfdsForTest objects alive

}  // namespace

int PidfdOpen(pid_t pid) {
  if (forced_off.load(std::memory_order_relaxed) > 0 || missing.load(std::memory_order_relaxed)) {
    errno = ENOSYS;
    return -1;
  }
  // glibc 2.36's <sys/pidfd.h> lacks extern "C": the syscall directly.
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0 && errno == ENOSYS) missing.store(true, std::memory_order_relaxed);
  return fd;
}

int PidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

bool PidfdsAvailable() {
  int fd = PidfdOpen(::getpid());
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  return errno != ENOSYS;
}

ScopedNoPidfdsForTest::ScopedNoPidfdsForTest() { forced_off.fetch_add(1); }
ScopedNoPidfdsForTest::~ScopedNoPidfdsForTest() { forced_off.fetch_sub(1); }

}  // namespace ocid
