// Moving socket bytes through the kernel with splice(2): a pipe between two
// sockets, so that a relay (port-forward's copies, both sides) hands pages on
// instead of copying every byte into user space and back out.
#ifndef OCID_PKG_STREAMING_SPLICE_PIPE_H_
#define OCID_PKG_STREAMING_SPLICE_PIPE_H_

#include <signal.h>

#include <cstddef>

#include "absl/status/statusor.h"
#include "pkg/base/unique_fd.h"

namespace ocid::streaming {

// What we ask F_SETPIPE_SZ for; where the limits refuse it (an unprivileged
// user past pipe-user-pages-soft) the pipe keeps the kernel's 64 KiB.
inline constexpr size_t kSplicePipeSize = 1 << 20;

// True for a TCP socket (IPv4 or IPv6): the only sockets we splice the SPDY
// connection of. The TLS relay's and the WebSocket tunnel's socket pairs are
// left to the copying path.
bool IsTcpSocket(int fd);

class SplicePipe {
 public:
  // A pipe of about `size` bytes (O_CLOEXEC).
  static absl::StatusOr<SplicePipe> Make(size_t size = kSplicePipeSize);
  SplicePipe(SplicePipe&&) = default;
  SplicePipe& operator=(SplicePipe&&) = default;

  // What one Fill can hold.
  size_t capacity() const { return capacity_; }
  // Bytes in the pipe, put there by Fill and not yet drained.
  size_t held() const { return held_; }

  // Moves what `from` has, at most `max` bytes, into the pipe, waiting until
  // something arrives; 0 once `from` ended. The pipe must be empty (a Fill
  // into a pipe with bytes could block on room that only we would make).
  // DeadlineExceeded when the socket's receive timeout passed; InvalidArgument
  // when `from` cannot be spliced (use a copy instead); else errno's status.
  absl::StatusOr<size_t> Fill(int from, size_t max);
  // Moves the first `n` held bytes into the socket `to`, waiting for room;
  // `more` tells the kernel more follows (SPLICE_F_MORE). What splice refuses
  // (EINVAL) gets the bytes through a buffer. On an error the bytes not moved
  // stay held (some may be lost in the fallback). A peer gone raises SIGPIPE:
  // block it (ScopedSigpipeBlock).
  absl::Status Drain(int to, size_t n, bool more = false);
  // Throws away every held byte.
  absl::Status Discard();

 private:
  SplicePipe(UniqueFd read, UniqueFd write, size_t capacity)
      : read_(std::move(read)), write_(std::move(write)), capacity_(capacity) {}
  absl::Status CopyOut(int to, size_t n);

  UniqueFd read_, write_;
  size_t capacity_ = 0;
  size_t held_ = 0;
};

// Blocks SIGPIPE on this thread while it lives: a write into a socket whose
// peer is gone (splice, or OpenSSL's write(2)) raises it, and it kills a
// process that did not ignore it (ocid does; ocic and the tests need not).
// One raised meanwhile stays pending on this thread and is taken back before
// unblocking.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_, old_;
};

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_SPLICE_PIPE_H_
