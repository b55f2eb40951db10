#include "pkg/streaming/spdy_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"

namespace ocid::streaming::spdy {
namespace {

constexpr size_t kMaxDataFrame = 64 << 10;
constexpr size_t kReadChunk = 64 << 10;
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

Session::Session(UniqueFd fd, Role role, std::string buffered, absl::Duration idle_timeout)
    : fd_(std::move(fd)),
      role_(role),
      idle_timeout_(idle_timeout),
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

absl::Status Session::SendData(uint32_t stream_id, absl::string_view payload) {
  // The 8-byte header and the caller's bytes in one sendmsg: no copy of the
  // payload on the hot path of exec output and port-forward.
  unsigned char header[kFrameHeaderSize];
  uint32_t id = stream_id & 0x7fffffff;
  uint32_t length = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) header[i] = static_cast<unsigned char>(id >> (24 - 8 * i));
  header[4] = 0;  // flags
  for (int i = 0; i < 3; ++i) header[5 + i] = static_cast<unsigned char>(length >> (16 - 8 * i));
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

void Session::ReadLoop() {
  absl::Status why;
  // With an idle timeout, recv wakes up at least once a minute to check it.
  if (idle_timeout_ != absl::InfiniteDuration()) {
    absl::Duration tick = std::min(idle_timeout_, absl::Minutes(1));
    timeval tv = absl::ToTimeval(tick);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  size_t pos = 0;  // in_ before pos is decoded: dropped once per read, not per frame
  for (;;) {
    absl::StatusOr<std::optional<Decoded>> decoded =
        Decode(std::string_view(in_.data() + pos, in_.size() - pos));
    if (!decoded.ok()) {
      why = decoded.status();
      break;
    }
    if (decoded->has_value()) {
      pos += (*decoded)->consumed;
      if (absl::Status s = HandleFrame(std::move((*decoded)->frame)); !s.ok()) {
        why = s;
        break;
      }
      continue;
    }
    in_.erase(0, pos);
    pos = 0;
    size_t had = in_.size();
    in_.resize(had + kReadChunk);
    ssize_t n = ::recv(fd_.get(), in_.data() + had, kReadChunk, 0);
    in_.resize(had + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      absl::Duration idle = absl::Now() - absl::FromUnixNanos(last_activity_);
      if (idle >= idle_timeout_) {
        why = absl::DeadlineExceededError(
            absl::StrCat("no traffic for ", absl::FormatDuration(idle_timeout_)));
        break;
      }
      continue;
    }
    if (n == 0) break;  // the peer closed: an orderly end
    if (n < 0) {
      why = absl::UnavailableError(absl::StrCat("SPDY read: ", strerror(errno)));
      break;
    }
    Touch();
  }
  if (!why.ok()) {
    OCID_LOG(kWarn) << "streaming: closing a SPDY connection: " << why.message();
    Shutdown();
  }
  absl::MutexLock lock(&mu_);
  EndLocked(why);
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
    case FrameType::kData: {
      absl::MutexLock lock(&mu_);
      auto it = streams_.find(frame.stream_id);
      if (it == streams_.end()) return absl::OkStatus();  // gone: dropped, as SPDY allows
      Stream* stream = it->second.get();
      if (!frame.payload.empty() && !stream->remote_fin_ && !stream->reset_) {
        // Push back on the socket while this stream's reader lags.
        mu_.Await(absl::Condition(
            +[](Stream* s) {
              return s->queued_bytes_ < kMaxQueuedPerStream || s->reset_ ||
                     s->session_->done_;
            },
            stream));
        stream->queued_bytes_ += frame.payload.size();
        stream->queued_.push_back(std::move(frame.payload));
      }
      if (frame.flags & kFlagFin) {
        stream->remote_fin_ = true;
        if (stream->local_fin_) streams_.erase(it);
      }
      return absl::OkStatus();
    }
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
    case FrameType::kSettings:
    case FrameType::kWindowUpdate:
    case FrameType::kGoAway:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace ocid::streaming::spdy
