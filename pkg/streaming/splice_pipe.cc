#include "pkg/streaming/splice_pipe.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace ocid::streaming {

bool IsTcpSocket(int fd) {
  int domain = 0, type = 0, protocol = 0;
  socklen_t length = sizeof(int);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0) return false;
  length = sizeof(int);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) return false;
  length = sizeof(int);
  if (::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) != 0) return false;
  return (domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM &&
         protocol == IPPROTO_TCP;
}

absl::StatusOr<SplicePipe> SplicePipe::Make(size_t size) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe for splice");
  UniqueFd read(fds[0]), write(fds[1]);
  // Best effort: a larger pipe means fewer splices per frame.
  ::fcntl(write.get(), F_SETPIPE_SZ, static_cast<int>(size));
  int capacity = ::fcntl(write.get(), F_GETPIPE_SZ);
  if (capacity <= 0) return absl::ErrnoToStatus(errno, "F_GETPIPE_SZ");
  return SplicePipe(std::move(read), std::move(write), static_cast<size_t>(capacity));
}

absl::StatusOr<size_t> SplicePipe::Fill(int from, size_t max) {
  if (held_ != 0) return absl::FailedPreconditionError("splice into a pipe that holds bytes");
  for (;;) {
    ssize_t n =
        ::splice(from, nullptr, write_.get(), nullptr, std::min(max, capacity_), SPLICE_F_MOVE);
    if (n >= 0) {
      held_ = static_cast<size_t>(n);
      return held_;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return absl::DeadlineExceededError("splice from a socket: receive timeout");
    }
    return absl::ErrnoToStatus(errno, "splice from a socket");
  }
}

absl::Status SplicePipe::Drain(int to, size_t n, bool more) {
  n = std::min(n, held_);
  while (n > 0) {
    // SPLICE_F_MORE also on all but the last piece of a large move: the
    // kernel sets MSG_MORE itself while the pipe holds more.
    ssize_t moved =
        ::splice(read_.get(), nullptr, to, nullptr, n, SPLICE_F_MOVE | (more ? SPLICE_F_MORE : 0));
    if (moved < 0 && errno == EINTR) continue;
    if (moved < 0 && errno == EINVAL) return CopyOut(to, n);
    if (moved <= 0) return absl::ErrnoToStatus(errno, "splice into a socket");
    n -= static_cast<size_t>(moved);
    held_ -= static_cast<size_t>(moved);
  }
  return absl::OkStatus();
}

absl::Status SplicePipe::CopyOut(int to, size_t n) {
  char buffer[16 << 10];
  while (n > 0) {
    ssize_t got = ::read(read_.get(), buffer, std::min(n, sizeof(buffer)));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return absl::ErrnoToStatus(errno, "read a splice pipe");
    held_ -= static_cast<size_t>(got);
    n -= static_cast<size_t>(got);
    for (size_t done = 0; done < static_cast<size_t>(got);) {
      ssize_t sent = ::write(to, buffer + done, static_cast<size_t>(got) - done);
      if (sent < 0 && errno == EINTR) continue;
      // What was read and not sent is lost: the socket failed anyway.
      if (sent < 0) return absl::ErrnoToStatus(errno, "write what a splice pipe held");
      done += static_cast<size_t>(sent);
    }
  }
  return absl::OkStatus();
}

absl::Status SplicePipe::Discard() {
  char buffer[16 << 10];
  while (held_ > 0) {
    ssize_t got = ::read(read_.get(), buffer, std::min(held_, sizeof(buffer)));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return absl::ErrnoToStatus(errno, "read a splice pipe");
    held_ -= static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

ScopedSigpipeBlock::ScopedSigpipeBlock() {
  sigemptyset(&pipe_);
  sigaddset(&pipe_, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
  timespec none{0, 0};
  while (sigtimedwait(&pipe_, nullptr, &none) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace ocid::streaming
