#include "pkg/streaming/spdy_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"

namespace ocid::streaming::spdy {
namespace {

// One recv takes up to this much (several frames).
constexpr size_t kReadBuffer = 256 << 10;
constexpr size_t kMaxQueuedPerStream = 4 << 20;
constexpr uint32_t kRstProtocolError = 1;
constexpr uint32_t kRstCancel = 5;

}  // namespace

std::string Stream::Read() { return *ReadFor(absl::InfiniteDuration()); }

std::optional<std::string> Stream::ReadFor(absl::Duration timeout) {
  absl::MutexLock lock(&session_->mu_);
  bool ready = session_->mu_.AwaitWithTimeout(
      absl::Condition(
          +[](Stream* s) {
            return !s->queued_.empty() || s->remote_fin_ || s->reset_ || s->session_->done_;
          },
          this),
      timeout);
  if (!ready) return std::nullopt;
  if (queued_.empty()) return std::string();
  std::string data = std::move(queued_.front());
  queued_.pop_front();
  queued_bytes_ -= data.size();
  return data;
}

bool Stream::AtEnd() {
  absl::MutexLock lock(&session_->mu_);
  return queued_.empty() && (remote_fin_ || reset_ || session_->done_);
}

absl::Status Stream::CopyTo(int socket) {
  absl::MutexLock lock(&session_->mu_);
  sink_ = socket;
  for (;;) {
    session_->mu_.Await(absl::Condition(
        +[](Stream* s) {
          return (!s->queued_.empty() || s->remote_fin_ || s->reset_ || s->sink_failed_ ||
                  s->session_->done_) &&
                 !s->sink_busy_;
        },
        this));
    if (sink_failed_) return sink_error_;  // the reader's splice into `socket` failed
    if (queued_.empty()) break;  // the end, and the reader wrote all before it
    std::string data = std::move(queued_.front());
    queued_.pop_front();
    sink_busy_ = true;
    session_->mu_.Unlock();
    absl::string_view rest = data;
    int error = 0;
    while (!rest.empty()) {
      ssize_t n = ::send(socket, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = errno;
        break;
      }
      rest.remove_prefix(static_cast<size_t>(n));
    }
    session_->mu_.Lock();
    sink_busy_ = false;
    // Counted out only once written: the reader holds back meanwhile.
    queued_bytes_ -= data.size();
    if (error != 0) {
      sink_failed_ = true;
      queued_.clear();
      queued_bytes_ = 0;
      return absl::ErrnoToStatus(error, absl::StrCat("copy SPDY stream ", id_));
    }
  }
  return absl::OkStatus();
}

absl::Status Stream::CopyFrom(int socket) {
  auto writable = [this]() -> absl::Status {
    absl::MutexLock lock(&session_->mu_);
    if (local_fin_ || reset_) {
      return absl::FailedPreconditionError(absl::StrCat("SPDY stream ", id_, " is closed"));
    }
    return absl::OkStatus();
  };
  if (session_->splice_) {
    ScopedSigpipeBlock no_sigpipe;  // a splice into a connection gone raises it
    absl::StatusOr<SplicePipe> pipe = SplicePipe::Make(session_->splice_pipe_size_);
    // Without a pipe (out of fds), or from a socket splice refuses before the
    // first byte, the copy below does it.
    for (bool first = true; pipe.ok(); first = false) {
      absl::StatusOr<size_t> n = pipe->Fill(socket, kMaxDataFrame);
      if (!n.ok() && first && absl::IsInvalidArgument(n.status())) break;
      if (!n.ok() && absl::IsDeadlineExceeded(n.status())) continue;  // its SO_RCVTIMEO
      if (!n.ok()) return n.status();
      if (*n == 0) return absl::OkStatus();
      RETURN_IF_ERROR(writable());
      RETURN_IF_ERROR(session_->SendPiped(id_, *pipe));
    }
  }
  // One frame per read, as large as a frame gets.
  std::unique_ptr<char[]> buffer(new char[kMaxDataFrame]);
  for (;;) {
    ssize_t n = ::recv(socket, buffer.get(), kMaxDataFrame, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read for SPDY stream ", id_));
    if (n == 0) return absl::OkStatus();
    RETURN_IF_ERROR(Write(absl::string_view(buffer.get(), static_cast<size_t>(n))));
  }
}

absl::Status Stream::Write(absl::string_view data) {
  {
    absl::MutexLock lock(&session_->mu_);
    if (local_fin_ || reset_) {
      return absl::FailedPreconditionError(absl::StrCat("SPDY stream ", id_, " is closed"));
    }
  }
  while (!data.empty()) {
    size_t n = std::min(data.size(), kMaxDataFrame);
    RETURN_IF_ERROR(session_->SendData(id_, data.substr(0, n)));
    data.remove_prefix(n);
  }
  return absl::OkStatus();
}

absl::Status Stream::Close() {
  {
    absl::MutexLock lock(&session_->mu_);
    if (local_fin_ || reset_) return absl::OkStatus();
    local_fin_ = true;
    if (remote_fin_) session_->streams_.erase(id_);
  }
  Frame frame;
  frame.type = FrameType::kData;
  frame.stream_id = id_;
  frame.flags = kFlagFin;
  return session_->SendFrame(frame);
}

void Stream::Reset() {
  {
    absl::MutexLock lock(&session_->mu_);
    if (reset_) return;
    reset_ = true;
    session_->streams_.erase(id_);
  }
  session_->SendControl(FrameType::kRstStream, id_, 0, nullptr, kRstCancel).IgnoreError();
}

Session::Session(UniqueFd fd, Role role, std::string buffered, absl::Duration idle_timeout,
                 SpliceOptions splice)
    : fd_(std::move(fd)),
      role_(role),
      idle_timeout_(idle_timeout),
      splice_(splice.enabled && IsTcpSocket(fd_.get())),
      splice_pipe_size_(splice.pipe_size),
      last_activity_(absl::ToUnixNanos(absl::Now())),
      in_(std::move(buffered)),
      next_stream_id_(role == Role::kClient ? 1 : 2) {
  reader_ = std::thread([this] { ReadLoop(); });
}

Session::~Session() {
  Shutdown();
  if (reader_.joinable()) reader_.join();
}

void Session::Shutdown() {
  ::shutdown(fd_.get(), SHUT_RDWR);
  absl::MutexLock lock(&write_mu_);
  write_closed_ = true;
}

void Session::EndLocked(absl::Status why) {
  if (done_) return;
  done_ = true;
  error_ = std::move(why);
}

absl::Status Session::error() {
  absl::MutexLock lock(&mu_);
  return error_;
}

bool Session::WaitDone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
}

std::shared_ptr<Stream> Session::Accept(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](Session* s) { return !s->accept_queue_.empty() || s->done_; }, this),
                       timeout);
  if (accept_queue_.empty()) return nullptr;
  std::shared_ptr<Stream> stream = std::move(accept_queue_.front());
  accept_queue_.pop_front();
  return stream;
}

absl::StatusOr<std::shared_ptr<Stream>> Session::Open(const Headers& headers,
                                                     absl::Duration timeout) {
  std::shared_ptr<Stream> stream;
  {
    absl::MutexLock lock(&mu_);
    if (done_) return absl::UnavailableError("the SPDY connection is closed");
    uint32_t id = next_stream_id_;
    next_stream_id_ += 2;
    stream.reset(new Stream(this, id, headers));
    streams_[id] = stream;
  }
  RETURN_IF_ERROR(SendControl(FrameType::kSynStream, stream->id(), 0, &headers));
  absl::MutexLock lock(&mu_);
  Stream* raw = stream.get();
  bool answered = mu_.AwaitWithTimeout(
      absl::Condition(+[](Stream* s) { return s->replied_ || s->reset_ || s->session_->done_; },
                      raw),
      timeout);
  if (!answered) return absl::DeadlineExceededError("no reply to a new SPDY stream");
  if (!raw->replied_) return absl::UnavailableError("the peer refused a new SPDY stream");
  return stream;
}

void Session::Close(absl::Duration linger) {
  uint32_t last_peer_stream = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, stream] : streams_) {
      if ((id % 2 == 1) == (role_ == Role::kServer)) {
        last_peer_stream = std::max(last_peer_stream, id);
      }
    }
  }
  SendControl(FrameType::kGoAway, last_peer_stream, 0, nullptr, 0).IgnoreError();
  {
    absl::MutexLock lock(&write_mu_);
    if (!write_closed_) ::shutdown(fd_.get(), SHUT_WR);
    write_closed_ = true;
  }
  WaitDone(linger);
  Shutdown();
}

absl::Status Session::SendFrame(const Frame& frame) {
  absl::MutexLock lock(&write_mu_);
  return SendLocked(Encode(frame));
}

namespace {

// A DATA frame's header, no flags.
void EncodeDataHeader(uint32_t stream_id, size_t payload_size,
                      unsigned char (&header)[kFrameHeaderSize]) {
  uint32_t id = stream_id & 0x7fffffff;
  uint32_t length = static_cast<uint32_t>(payload_size);
  for (int i = 0; i < 4; ++i) header[i] = static_cast<unsigned char>(id >> (24 - 8 * i));
  header[4] = 0;  // flags
  for (int i = 0; i < 3; ++i) header[5 + i] = static_cast<unsigned char>(length >> (16 - 8 * i));
}

}  // namespace

absl::Status Session::SendPiped(uint32_t stream_id, SplicePipe& pipe) {
  unsigned char header[kFrameHeaderSize];
  const size_t n = pipe.held();
  EncodeDataHeader(stream_id, n, header);
  // Header and payload under one lock: no other frame between them.
  absl::MutexLock lock(&write_mu_);
  if (write_closed_) return absl::UnavailableError("the SPDY connection is closed");
  // MSG_MORE: the header waits for the payload (TCP_NODELAY would send it
  // alone), which the last splice pushes.
  for (size_t sent = 0; sent < sizeof(header);) {
    ssize_t w = ::send(fd_.get(), header + sent, sizeof(header) - sent, MSG_MORE | MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      write_closed_ = true;
      return absl::UnavailableError(absl::StrCat("SPDY write: ", strerror(errno)));
    }
    sent += static_cast<size_t>(w);
  }
  if (absl::Status drained = pipe.Drain(fd_.get(), n); !drained.ok()) {
    write_closed_ = true;  // half a frame went out: the connection is unusable
    return absl::UnavailableError(absl::StrCat("SPDY write: ", drained.message()));
  }
  Touch();
  return absl::OkStatus();
}

absl::Status Session::SendData(uint32_t stream_id, absl::string_view payload) {
  // The 8-byte header and the caller's bytes in one sendmsg: no copy of the
  // payload on the hot path of exec output and port-forward.
  unsigned char header[kFrameHeaderSize];
  EncodeDataHeader(stream_id, payload.size(), header);
  absl::MutexLock lock(&write_mu_);
  if (write_closed_) return absl::UnavailableError("the SPDY connection is closed");
  iovec parts[2] = {{header, sizeof(header)},
                    {const_cast<char*>(payload.data()), payload.size()}};
  size_t total = sizeof(header) + payload.size(), sent = 0;
  while (sent < total) {
    // Skip what went out already.
    iovec rest[2];
    int count = 0;
    size_t skip = sent;
    for (const iovec& part : parts) {
      if (skip >= part.iov_len) {
        skip -= part.iov_len;
        continue;
      }
      rest[count++] = {static_cast<char*>(part.iov_base) + skip, part.iov_len - skip};
      skip = 0;
    }
    msghdr message{};
    message.msg_iov = rest;
    message.msg_iovlen = count;
    ssize_t n = ::sendmsg(fd_.get(), &message, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_closed_ = true;
      return absl::UnavailableError(absl::StrCat("SPDY write: ", strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }
  Touch();
  return absl::OkStatus();
}

absl::Status Session::SendLocked(absl::string_view wire) {
  if (write_closed_) return absl::UnavailableError("the SPDY connection is closed");
  while (!wire.empty()) {
    ssize_t n = ::send(fd_.get(), wire.data(), wire.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_closed_ = true;
      return absl::UnavailableError(absl::StrCat("SPDY write: ", strerror(errno)));
    }
    wire.remove_prefix(static_cast<size_t>(n));
  }
  Touch();
  return absl::OkStatus();
}

absl::Status Session::SendControl(FrameType type, uint32_t stream_id, uint8_t flags,
                                  const Headers* headers, uint32_t status) {
  Frame frame;
  frame.type = type;
  frame.stream_id = stream_id;
  frame.flags = flags;
  frame.status = status;
  if (headers == nullptr) return SendFrame(frame);
  // Compress and send under one lock: the peer inflates blocks in the order
  // they were deflated.
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<std::string> block = compressor_.Compress(*headers);
  if (!block.ok()) return block.status();
  frame.payload = std::move(*block);
  return SendLocked(Encode(frame));
}

absl::Status Session::CheckIdle() {
  absl::Duration idle = absl::Now() - absl::FromUnixNanos(last_activity_);
  if (idle < idle_timeout_) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("no traffic for ", absl::FormatDuration(idle_timeout_)));
}

void Session::ReadLoop() {
  // Splicing into a sink whose peer left raises SIGPIPE on this thread.
  ScopedSigpipeBlock no_sigpipe;
  absl::Status why;
  // With an idle timeout, recv wakes up at least once a minute to check it.
  if (idle_timeout_ != absl::InfiniteDuration()) {
    absl::Duration tick = std::min(idle_timeout_, absl::Minutes(1));
    timeval tv = absl::ToTimeval(tick);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  in_end_ = in_.size();  // what the HTTP exchange read past its end
  in_.resize(std::max(in_.size(), kReadBuffer));
  for (;;) {
    if (why = DecodeBuffered(); !why.ok()) break;
    if (data_in_.has_value() && data_in_->splice) {
      // DecodeBuffered passed on all the payload the buffer held.
      absl::StatusOr<bool> open = SplicePayload();
      if (!open.ok()) {
        why = open.status();
        break;
      }
      if (!*open) break;  // the peer closed: an orderly end
      continue;
    }
    // What is left is part of a header or of a control frame: move it to the
    // front (a few bytes), and make room for a control frame larger than the
    // buffer.
    size_t left = in_end_ - in_begin_;
    if (in_begin_ > 0) {
      std::memmove(in_.data(), in_.data() + in_begin_, left);
      in_begin_ = 0;
      in_end_ = left;
    }
    if (left >= kFrameHeaderSize) {
      size_t need = kFrameHeaderSize + (static_cast<uint8_t>(in_[5]) << 16 |
                                        static_cast<uint8_t>(in_[6]) << 8 |
                                        static_cast<uint8_t>(in_[7]));
      if (need > in_.size()) in_.resize(need);
    }
    size_t room = in_.size() - in_end_;
    if (header_only_ && !data_in_.has_value() && left < kFrameHeaderSize) {
      room = kFrameHeaderSize - left;
    }
    ssize_t n = ::recv(fd_.get(), in_.data() + in_end_, room, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (why = CheckIdle(); !why.ok()) break;
      continue;
    }
    if (n == 0) break;  // the peer closed: an orderly end
    if (n < 0) {
      why = absl::UnavailableError(absl::StrCat("SPDY read: ", strerror(errno)));
      break;
    }
    in_end_ += static_cast<size_t>(n);
    Touch();
  }
  data_in_.reset();
  if (!why.ok()) {
    OCID_LOG(kWarn) << "streaming: closing a SPDY connection: " << why.message();
    Shutdown();
  }
  absl::MutexLock lock(&mu_);
  EndLocked(why);
}

absl::Status Session::DecodeBuffered() {
  while (in_begin_ < in_end_) {
    std::string_view rest(in_.data() + in_begin_, in_end_ - in_begin_);
    if (data_in_.has_value()) {
      // A DATA payload goes on as it arrives, not once the frame is whole.
      size_t n = std::min<size_t>(rest.size(), data_in_->left);
      RETURN_IF_ERROR(DeliverData(absl::string_view(rest.data(), n)));
      in_begin_ += n;
      data_in_->left -= static_cast<uint32_t>(n);
      if (data_in_->left == 0) FinishData();
      continue;
    }
    if (rest.size() < kFrameHeaderSize) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::optional<DataHeader> data, DecodeDataHeader(rest));
    header_only_ = false;  // unless StartData splices this one
    if (data.has_value()) {
      in_begin_ += kFrameHeaderSize;
      RETURN_IF_ERROR(StartData(*data));
      if (data_in_->left == 0) FinishData();
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<Decoded> decoded, Decode(rest));
    if (!decoded.has_value()) return absl::OkStatus();  // the rest is still to come
    in_begin_ += decoded->consumed;
    RETURN_IF_ERROR(HandleFrame(std::move(decoded->frame)));
  }
  return absl::OkStatus();
}

absl::Status Session::StartData(const DataHeader& header) {
  data_in_.emplace();
  data_in_->left = header.length;
  data_in_->flags = header.flags;
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(header.stream_id);
  if (it == streams_.end()) return absl::OkStatus();  // gone: dropped, as SPDY allows
  data_in_->stream = it->second;
  data_in_->to_sink = it->second->sink_ >= 0;
  if (!data_in_->to_sink) data_in_->assembled.reserve(header.length);
  data_in_->splice = splice_ && data_in_->to_sink && header.length > 0 &&
                     !it->second->sink_failed_ && !it->second->reset_;
  header_only_ = data_in_->splice;
  return absl::OkStatus();
}

absl::StatusOr<bool> Session::SplicePayload() {
  Stream* stream = data_in_->stream.get();
  int sink;
  {
    absl::MutexLock lock(&mu_);
    // What the copying path queued goes out first (CopyTo writes it).
    mu_.Await(absl::Condition(
        +[](Stream* s) {
          return (s->queued_.empty() && !s->sink_busy_) || s->reset_ || s->sink_failed_ ||
                 s->remote_fin_;
        },
        stream));
    if (stream->reset_ || stream->sink_failed_ || stream->remote_fin_) {
      data_in_->splice = false;  // the copying path drops the rest
      return true;
    }
    stream->sink_busy_ = true;
    sink = stream->sink_;
  }
  absl::Status sink_error;
  absl::StatusOr<bool> open = true;
  while (data_in_->left > 0) {
    if (!in_pipe_.has_value()) {
      absl::StatusOr<SplicePipe> made = SplicePipe::Make(splice_pipe_size_);
      if (!made.ok()) break;  // the copying path takes the rest
      in_pipe_ = std::move(*made);
    }
    absl::StatusOr<size_t> n = in_pipe_->Fill(fd_.get(), data_in_->left);
    if (!n.ok() && absl::IsDeadlineExceeded(n.status())) {
      if (absl::Status idle = CheckIdle(); !idle.ok()) {
        open = idle;
        break;
      }
      continue;
    }
    if (!n.ok()) {
      open = absl::UnavailableError(absl::StrCat("SPDY read: ", n.status().message()));
      break;
    }
    if (*n == 0) {
      open = false;
      break;
    }
    Touch();
    data_in_->left -= static_cast<uint32_t>(*n);
    if (sink_error = in_pipe_->Drain(sink, *n); !sink_error.ok()) {
      in_pipe_.reset();  // and what it held
      break;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    stream->sink_busy_ = false;
    if (!sink_error.ok()) {
      stream->sink_failed_ = true;
      stream->sink_error_ =
          absl::Status(sink_error.code(),
                       absl::StrCat("copy SPDY stream ", stream->id(), ": ", sink_error.message()));
      stream->queued_.clear();
      stream->queued_bytes_ = 0;
    }
  }
  data_in_->splice = false;  // done, or the copying path goes on (and drops)
  if (open.ok() && *open && data_in_->left == 0) FinishData();
  return open;
}

absl::Status Session::DeliverData(absl::string_view chunk) {
  Stream* stream = data_in_->stream.get();
  if (stream == nullptr || chunk.empty()) return absl::OkStatus();
  if (!data_in_->to_sink) {
    data_in_->assembled.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  // Push back on the socket while the sink lags.
  mu_.Await(absl::Condition(
      +[](Stream* s) {
        return s->queued_bytes_ < kMaxQueuedPerStream || s->reset_ || s->sink_failed_ ||
               s->session_->done_;
      },
      stream));
  if (stream->remote_fin_ || stream->reset_ || stream->sink_failed_) return absl::OkStatus();
  if (stream->queued_.empty() && !stream->sink_busy_) {
    stream->sink_busy_ = true;
    mu_.Unlock();
    while (!chunk.empty()) {
      ssize_t n = ::send(stream->sink_, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      // Full (or failed: CopyTo's blocking write of the rest meets the error
      // and reports it).
      if (n < 0) break;
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    mu_.Lock();
    stream->sink_busy_ = false;
    if (chunk.empty()) return absl::OkStatus();
  }
  stream->queued_bytes_ += chunk.size();
  stream->queued_.emplace_back(chunk.data(), chunk.size());
  return absl::OkStatus();
}

void Session::FinishData() {
  IncomingData data = std::move(*data_in_);
  data_in_.reset();
  Stream* stream = data.stream.get();
  if (stream == nullptr) return;
  absl::MutexLock lock(&mu_);
  if (!data.assembled.empty() && !stream->remote_fin_ && !stream->reset_) {
    // Push back on the socket while this stream's reader lags.
    mu_.Await(absl::Condition(
        +[](Stream* s) {
          return s->queued_bytes_ < kMaxQueuedPerStream || s->reset_ || s->session_->done_;
        },
        stream));
    stream->queued_bytes_ += data.assembled.size();
    stream->queued_.push_back(std::move(data.assembled));
  }
  if (data.flags & kFlagFin) {
    stream->remote_fin_ = true;
    auto it = streams_.find(stream->id());
    if (stream->local_fin_ && it != streams_.end() && it->second.get() == stream) {
      streams_.erase(it);
    }
  }
}

absl::Status Session::HandleFrame(Frame frame) {
  switch (frame.type) {
    case FrameType::kSynStream: {
      absl::StatusOr<Headers> headers = decompressor_.Decompress(frame.payload);
      if (!headers.ok()) return headers.status();
      bool peers = (frame.stream_id % 2 == 1) == (role_ == Role::kServer);
      std::shared_ptr<Stream> stream;
      {
        absl::MutexLock lock(&mu_);
        if (!peers || frame.stream_id == 0 || streams_.contains(frame.stream_id)) {
          stream = nullptr;
        } else {
          stream.reset(new Stream(this, frame.stream_id, std::move(*headers)));
          stream->replied_ = true;
          stream->remote_fin_ = (frame.flags & kFlagFin) != 0;
          streams_[frame.stream_id] = stream;
        }
      }
      if (stream == nullptr) {
        return SendControl(FrameType::kRstStream, frame.stream_id, 0, nullptr,
                           kRstProtocolError);
      }
      Headers none;
      RETURN_IF_ERROR(SendControl(FrameType::kSynReply, stream->id(), 0, &none));
      absl::MutexLock lock(&mu_);
      accept_queue_.push_back(std::move(stream));
      return absl::OkStatus();
    }
    case FrameType::kSynReply: {
      absl::StatusOr<Headers> headers = decompressor_.Decompress(frame.payload);
      if (!headers.ok()) return headers.status();
      absl::MutexLock lock(&mu_);
      auto it = streams_.find(frame.stream_id);
      if (it != streams_.end()) {
        it->second->replied_ = true;
        if (frame.flags & kFlagFin) it->second->remote_fin_ = true;
      }
      return absl::OkStatus();
    }
    case FrameType::kHeaders:
      // Nothing of ours uses trailing headers, but the block must still be
      // inflated to keep the compression context in step.
      return decompressor_.Decompress(frame.payload).status();
    case FrameType::kRstStream: {
      absl::MutexLock lock(&mu_);
      auto it = streams_.find(frame.stream_id);
      if (it != streams_.end()) {
        it->second->reset_ = true;
        it->second->remote_fin_ = true;
        streams_.erase(it);
      }
      return absl::OkStatus();
    }
    case FrameType::kPing: {
      // Answer the peer's pings (odd from clients, even from servers).
      bool peers = (frame.ping_id % 2 == 1) == (role_ == Role::kServer);
      if (!peers) return absl::OkStatus();
      return SendFrame(frame);
    }
    case FrameType::kData:  // DecodeBuffered takes these
    case FrameType::kSettings:
    case FrameType::kWindowUpdate:
    case FrameType::kGoAway:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace ocid::streaming::spdy
