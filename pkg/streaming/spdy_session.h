// A SPDY/3.1 connection after the HTTP upgrade: the frames of many
// bidirectional streams over one socket, as kubectl, crictl and kubelet's
// proxy speak it for exec, attach and port-forward.
//
// One reader thread decodes frames and hands data to streams; writes from any
// thread go out whole under one lock. Flow-control windows are neither sent
// nor enforced, as with the Go peers (spdystream), which ignore them; a stream
// whose reader lags stops the connection's reader at 4 MiB queued, pushing
// back on TCP instead of buffering without bound. A stream copied into a
// socket (CopyTo, port-forward) gets its bytes from the reader thread itself,
// written as they arrive while the socket takes them without blocking.
//
// Over a TCP connection (not the TLS relay's or the WebSocket tunnel's socket
// pair) the payloads of port-forward's copies bypass user space: CopyTo's
// DATA payloads are spliced from the connection through a pipe into the
// sink, and CopyFrom's from the source through a pipe into the connection,
// behind an 8-byte header sent with MSG_MORE.
#ifndef OCID_PKG_STREAMING_SPDY_SESSION_H_
#define OCID_PKG_STREAMING_SPDY_SESSION_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/spdy_frame.h"
#include "pkg/streaming/spdy_headers.h"
#include "pkg/streaming/splice_pipe.h"

namespace ocid::streaming::spdy {

class Session;

// How CopyTo's and CopyFrom's payloads move over a TCP connection (over any
// other socket they are copied).
struct SpliceOptions {
  bool enabled = true;                 // false: copied (tests compare both paths)
  size_t pipe_size = kSplicePipeSize;  // each pipe's, best effort
};

// The largest DATA frame we send. Our reader passes payloads on as they
// arrive, so the size costs no buffer there; larger frames mean fewer
// syscalls per byte on a port-forward (Go's spdystream and our Decode take
// up to 16 MiB and 1 MiB).
inline constexpr size_t kMaxDataFrame = 256 << 10;

class Stream {
 public:
  uint32_t id() const { return id_; }
  const Headers& headers() const { return headers_; }
  std::string Header(absl::string_view name) const { return HeaderValue(headers_, name); }

  // The next bytes the peer sent; "" once the peer finished the stream, reset
  // it, or the session ended.
  std::string Read();
  // Read, waiting at most `timeout`: nullopt when nothing came in time.
  std::optional<std::string> ReadFor(absl::Duration timeout);
  // Sends `data` (in frames of at most kMaxDataFrame). FailedPrecondition after
  // Close or a reset; Unavailable once the connection is gone.
  absl::Status Write(absl::string_view data);
  // Finishes our half (an empty DATA frame with FIN). Idempotent.
  absl::Status Close();
  // Ends both halves at once (RST_STREAM CANCEL).
  void Reset();
  // True once the peer finished or reset the stream and all it sent was read.
  bool AtEnd();
  // Copies what the peer sends on this stream into `socket` until the peer
  // finishes or resets it or the session ends; instead of Read, not with it.
  // The session's reader writes straight into the socket while it takes the
  // bytes without blocking (no copy, no thread hop); what it does not take
  // waits in the queue, which this call writes out. A failed write is the
  // error; the stream's later bytes are then dropped. Over TCP the rest of
  // each payload is spliced into `socket` by the reader, which then waits for
  // room in it (a stalled sink stalls the session, as the 4 MiB queue limit
  // does on the copying path).
  absl::Status CopyTo(int socket);
  // Sends what `socket` yields as DATA frames (kMaxDataFrame at most) until it
  // ends (OK) or fails; does not Close. Over TCP the bytes are spliced through
  // a pipe, else copied. FailedPrecondition after Close or a reset;
  // Unavailable once the connection is gone; a failed read of `socket` is
  // its errno's status.
  absl::Status CopyFrom(int socket);

 private:
  friend class Session;
  Stream(Session* session, uint32_t id, Headers headers)
      : session_(session), id_(id), headers_(std::move(headers)) {}

  Session* const session_;
  const uint32_t id_;
  const Headers headers_;
  // Guarded by the session's mutex.
  std::deque<std::string> queued_;
  size_t queued_bytes_ = 0;
  bool replied_ = false;
  bool remote_fin_ = false;
  bool local_fin_ = false;
  bool reset_ = false;
  // CopyTo's socket (-1: none). Only one thread writes it at a time: the
  // reader when nothing is queued and CopyTo is not writing (sink_busy_),
  // else CopyTo, so the bytes stay in order.
  int sink_ = -1;
  bool sink_busy_ = false;
  bool sink_failed_ = false;
  absl::Status sink_error_;  // why, when the reader's write failed
};

class Session {
 public:
  enum class Role { kServer, kClient };

  // Takes the connected socket. `buffered` is what the HTTP exchange read
  // past its end: the first frames. The reader starts at once. With no frame
  // either way for `idle_timeout`, the session ends (DeadlineExceeded).
  Session(UniqueFd fd, Role role, std::string buffered = "",
          absl::Duration idle_timeout = absl::InfiniteDuration(),
          SpliceOptions splice = SpliceOptions());
  // Closes the socket and joins the reader. Streams must not be used after.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Server: the next stream the peer opened, already replied to; nullptr when
  // none came within `timeout` or the session ended.
  std::shared_ptr<Stream> Accept(absl::Duration timeout);
  // Client: opens a stream and waits for the peer's reply.
  absl::StatusOr<std::shared_ptr<Stream>> Open(const Headers& headers, absl::Duration timeout);

  // True once the connection is gone (the peer closed it, a frame was bad, or
  // Shutdown was called). Waits up to `timeout` for that.
  bool WaitDone(absl::Duration timeout);
  // Why the session ended (OK for an orderly close by the peer).
  absl::Status error();

  // Orderly end: GOAWAY, our sending half closed, then up to `linger` for the
  // peer to close its half, so that what we sent is read before the socket
  // goes (closing with unread input would reset it and lose our data).
  void Close(absl::Duration linger = absl::Seconds(2));
  // Abrupt end: unblocks every reader and writer at once.
  void Shutdown();

  // True when payloads are spliced (enabled, over a TCP socket).
  bool splicing() const { return splice_; }

 private:
  friend class Stream;
  void ReadLoop();
  absl::Status DecodeBuffered();
  absl::Status StartData(const DataHeader& header);
  absl::Status DeliverData(absl::string_view chunk);
  void FinishData();
  // The reader: the rest of the current DATA payload spliced from the
  // connection into its stream's sink. False once the peer closed the
  // connection.
  absl::StatusOr<bool> SplicePayload();
  absl::Status CheckIdle();
  absl::Status HandleFrame(Frame frame);
  absl::Status SendFrame(const Frame& frame);
  absl::Status SendData(uint32_t stream_id, absl::string_view payload);
  // One DATA frame of what `pipe` holds, under the write lock.
  absl::Status SendPiped(uint32_t stream_id, SplicePipe& pipe);
  absl::Status SendLocked(absl::string_view wire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status SendControl(FrameType type, uint32_t stream_id, uint8_t flags,
                           const Headers* headers, uint32_t status = 0);
  void EndLocked(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void Touch() { last_activity_ = absl::ToUnixNanos(absl::Now()); }

  UniqueFd fd_;
  const Role role_;
  const absl::Duration idle_timeout_;
  const bool splice_;
  const size_t splice_pipe_size_;
  std::atomic<int64_t> last_activity_;
  // Reader thread only: the read buffer, undecoded bytes in
  // [in_begin_, in_end_); it grows only for a control frame larger than it.
  std::string in_;
  size_t in_begin_ = 0, in_end_ = 0;
  // The DATA frame whose payload is being read: its stream (null: dropped),
  // the bytes still to come, and (a stream Read from) the payload so far,
  // queued whole once complete.
  struct IncomingData {
    std::shared_ptr<Stream> stream;
    uint32_t left = 0;
    uint8_t flags = 0;
    bool to_sink = false;
    bool splice = false;  // the rest of the payload is spliced to the sink
    std::string assembled;
  };
  std::optional<IncomingData> data_in_;
  // Reader thread only. The pipe payloads are spliced through (made on first
  // use, dropped with what it holds after a failure), and whether to read
  // only the next frame's header: after a spliced payload, a full read would
  // copy the next payload into user space.
  std::optional<SplicePipe> in_pipe_;
  bool header_only_ = false;
  HeaderDecompressor decompressor_;  // reader thread only

  absl::Mutex write_mu_;
  HeaderCompressor compressor_ ABSL_GUARDED_BY(write_mu_);
  bool write_closed_ ABSL_GUARDED_BY(write_mu_) = false;

  absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Stream>> accept_queue_ ABSL_GUARDED_BY(mu_);
  uint32_t next_stream_id_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);

  std::thread reader_;
};

}  // namespace ocid::streaming::spdy

#endif  // OCID_PKG_STREAMING_SPDY_SESSION_H_
