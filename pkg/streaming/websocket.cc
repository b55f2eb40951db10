#include "pkg/streaming/websocket.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"
#include "pkg/crypto/openssl.h"

namespace ocid::streaming::ws {
namespace {

const Libcrypto& Crypto() { return LibcryptoOrExit(); }

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxControlPayload = 125;
constexpr size_t kMaxQueued = 4 << 20;
constexpr uint16_t kCloseNoStatus = 1005;

std::string Base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  int n = Crypto().EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                   static_cast<int>(size));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

bool IsControl(Opcode opcode) { return (static_cast<uint8_t>(opcode) & 0x8) != 0; }

bool KnownOpcode(uint8_t op) {
  return op == 0x0 || op == 0x1 || op == 0x2 || op == 0x8 || op == 0x9 || op == 0xA;
}

std::array<uint8_t, 4> RandomMask() {
  std::array<uint8_t, 4> mask{};
  if (Crypto().RAND_bytes(mask.data(), static_cast<int>(mask.size())) != 1) {
    // The mask guards intermediaries, not secrets; a clock-derived one will do.
    uint64_t t = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    std::memcpy(mask.data(), &t, mask.size());
  }
  return mask;
}

}  // namespace

std::string AcceptKey(absl::string_view key) {
  std::string input = absl::StrCat(key, kGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  Crypto().EVP_Digest(input.data(), input.size(), digest, &length, Crypto().EVP_sha1(), nullptr);
  return Base64(digest, length);
}

std::string NewKey() {
  unsigned char raw[16];
  if (Crypto().RAND_bytes(raw, sizeof(raw)) != 1) {
    uint64_t t = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    std::memcpy(raw, &t, sizeof(t));
    std::memcpy(raw + 8, &t, sizeof(t));
  }
  return Base64(raw, sizeof(raw));
}

bool ValidKey(absl::string_view key) {
  // 16 bytes are 24 base64 characters, the last two of them padding.
  if (key.size() != 24 || key.substr(22) != "==") return false;
  unsigned char out[18];
  return Crypto().EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(key.data()),
                                  static_cast<int>(key.size())) == 18;
}

std::string EncodeFrame(const Frame& frame, std::optional<std::array<uint8_t, 4>> mask) {
  std::string out;
  out.reserve(frame.payload.size() + 14);
  out.push_back(static_cast<char>((frame.fin ? 0x80 : 0) | static_cast<uint8_t>(frame.opcode)));
  uint8_t mask_bit = mask.has_value() ? 0x80 : 0;
  size_t size = frame.payload.size();
  if (size < 126) {
    out.push_back(static_cast<char>(mask_bit | size));
  } else if (size <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xff));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((static_cast<uint64_t>(size) >> shift) & 0xff));
    }
  }
  if (!mask.has_value()) return out + frame.payload;
  out.append(reinterpret_cast<const char*>(mask->data()), mask->size());
  size_t start = out.size();
  out += frame.payload;
  for (size_t i = 0; i < size; ++i) out[start + i] ^= static_cast<char>((*mask)[i % 4]);
  return out;
}

absl::StatusOr<std::optional<DecodedFrame>> DecodeFrame(absl::string_view in, size_t max_payload) {
  if (in.size() < 2) return std::nullopt;
  auto byte = [&](size_t i) { return static_cast<uint8_t>(in[i]); };
  uint8_t b0 = byte(0), b1 = byte(1);
  if ((b0 & 0x70) != 0) {
    return absl::InvalidArgumentError("WebSocket frame with reserved bits set");
  }
  uint8_t op = b0 & 0x0f;
  if (!KnownOpcode(op)) {
    return absl::InvalidArgumentError(absl::StrCat("WebSocket frame with unknown opcode ", op));
  }
  Frame frame;
  frame.fin = (b0 & 0x80) != 0;
  frame.opcode = static_cast<Opcode>(op);
  frame.masked = (b1 & 0x80) != 0;
  uint64_t length = b1 & 0x7f;
  size_t pos = 2;
  if (length == 126) {
    if (in.size() < 4) return std::nullopt;
    length = (uint64_t{byte(2)} << 8) | byte(3);
    pos = 4;
  } else if (length == 127) {
    if (in.size() < 10) return std::nullopt;
    length = 0;
    for (size_t i = 2; i < 10; ++i) length = (length << 8) | byte(i);
    if (length >> 63) return absl::InvalidArgumentError("WebSocket frame length over 2^63");
    pos = 10;
  }
  if (IsControl(frame.opcode) && (!frame.fin || length > kMaxControlPayload)) {
    return absl::InvalidArgumentError(
        "WebSocket control frame fragmented or longer than 125 bytes");
  }
  if (length > max_payload) {
    return absl::ResourceExhaustedError(
        absl::StrCat("WebSocket frame of ", length, " bytes is over the limit of ", max_payload));
  }
  std::array<uint8_t, 4> mask{};
  if (frame.masked) {
    if (in.size() < pos + 4) return std::nullopt;
    for (size_t i = 0; i < 4; ++i) mask[i] = byte(pos + i);
    pos += 4;
  }
  if (in.size() - pos < length) return std::nullopt;
  frame.payload = std::string(in.substr(pos, static_cast<size_t>(length)));
  if (frame.masked) {
    for (size_t i = 0; i < frame.payload.size(); ++i) {
      frame.payload[i] ^= static_cast<char>(mask[i % 4]);
    }
  }
  return DecodedFrame{std::move(frame), pos + static_cast<size_t>(length)};
}

Connection::Connection(UniqueFd fd, Role role, std::string buffered, ConnectionOptions options)
    : fd_(std::move(fd)),
      role_(role),
      options_(options),
      last_activity_(absl::ToUnixNanos(absl::Now())),
      in_(std::move(buffered)) {
  reader_ = std::thread([this] { ReadLoop(); });
}

Connection::~Connection() {
  Shutdown();
  if (reader_.joinable()) reader_.join();
}

void Connection::Shutdown() {
  ::shutdown(fd_.get(), SHUT_RDWR);
  {
    absl::MutexLock lock(&write_mu_);
    write_closed_ = true;
  }
  absl::MutexLock lock(&mu_);
  shut_ = true;
}

bool Connection::WaitDone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
}

absl::Status Connection::error() {
  absl::MutexLock lock(&mu_);
  return error_;
}

std::optional<uint16_t> Connection::peer_close_code() {
  absl::MutexLock lock(&mu_);
  return peer_close_code_;
}

std::optional<Message> Connection::Receive() {
  absl::MutexLock lock(&mu_,
                       absl::Condition(
                           +[](Connection* c) { return !c->queue_.empty() || c->done_; }, this));
  if (queue_.empty()) return std::nullopt;
  Message message = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= message.data.size();
  return message;
}

absl::Status Connection::SendFrame(const Frame& frame) {
  std::string wire =
      EncodeFrame(frame, role_ == Role::kClient ? std::optional(RandomMask()) : std::nullopt);
  absl::MutexLock lock(&write_mu_);
  if (write_closed_ || close_sent_) {
    return absl::UnavailableError("the WebSocket connection is closed");
  }
  if (frame.opcode == Opcode::kClose) close_sent_ = true;
  absl::string_view rest = wire;
  while (!rest.empty()) {
    ssize_t n = ::send(fd_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_closed_ = true;
      return absl::UnavailableError(absl::StrCat("WebSocket write: ", strerror(errno)));
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  Touch();
  return absl::OkStatus();
}

absl::Status Connection::Send(Opcode opcode, absl::string_view data) {
  Frame frame;
  frame.opcode = opcode;
  frame.payload = std::string(data);
  return SendFrame(frame);
}

void Connection::SendCloseOnce(uint16_t code, absl::string_view reason) {
  Frame frame;
  frame.opcode = Opcode::kClose;
  frame.payload.push_back(static_cast<char>(code >> 8));
  frame.payload.push_back(static_cast<char>(code & 0xff));
  absl::string_view cut = reason.substr(0, kMaxControlPayload - 2);
  frame.payload.append(cut.data(), cut.size());
  SendFrame(frame).IgnoreError();  // Unavailable when already sent: fine
}

void Connection::Close(uint16_t code, absl::Duration linger) {
  SendCloseOnce(code, "");
  WaitDone(linger);
  Shutdown();
}

absl::Status Connection::HandleFrame(Frame frame, uint16_t& close_code) {
  close_code = kCloseProtocolError;
  bool from_client = role_ == Role::kServer;
  if (frame.masked != from_client) {
    return absl::InvalidArgumentError(from_client ? "unmasked WebSocket frame from a client"
                                                  : "masked WebSocket frame from a server");
  }
  switch (frame.opcode) {
    case Opcode::kPing:
      frame.masked = false;
      frame.opcode = Opcode::kPong;
      SendFrame(frame).IgnoreError();
      return absl::OkStatus();
    case Opcode::kPong:
      return absl::OkStatus();
    case Opcode::kClose:
      return absl::OkStatus();  // the reader loop ends the connection
    case Opcode::kText:
    case Opcode::kBinary:
      if (partial_.has_value()) {
        return absl::InvalidArgumentError("a new WebSocket message inside a fragmented one");
      }
      partial_ = Message{frame.opcode, std::move(frame.payload)};
      break;
    case Opcode::kContinuation:
      if (!partial_.has_value()) {
        return absl::InvalidArgumentError("a WebSocket continuation frame with no message");
      }
      partial_->data += frame.payload;
      break;
  }
  if (partial_->data.size() > options_.max_message) {
    close_code = kCloseTooBig;
    return absl::ResourceExhaustedError(
        absl::StrCat("WebSocket message over the limit of ", options_.max_message, " bytes"));
  }
  if (!frame.fin) return absl::OkStatus();
  Message message = std::move(*partial_);
  partial_.reset();
  absl::MutexLock lock(&mu_);
  // Push back on the socket while the consumer lags.
  mu_.Await(absl::Condition(
      +[](Connection* c) { return c->queued_bytes_ < kMaxQueued || c->shut_; }, this));
  queued_bytes_ += message.data.size();
  queue_.push_back(std::move(message));
  return absl::OkStatus();
}

void Connection::ReadLoop() {
  absl::Status why;
  std::optional<uint16_t> peer_code;
  char buf[64 << 10];
  for (;;) {
    absl::StatusOr<std::optional<DecodedFrame>> decoded = DecodeFrame(in_, options_.max_message);
    if (!decoded.ok()) {
      why = decoded.status();
      SendCloseOnce(
          why.code() == absl::StatusCode::kResourceExhausted ? kCloseTooBig : kCloseProtocolError,
          why.message());
      break;
    }
    if (decoded->has_value()) {
      Frame frame = std::move((*decoded)->frame);
      in_.erase(0, (*decoded)->consumed);
      if (frame.opcode == Opcode::kClose) {
        peer_code = frame.payload.size() >= 2
                        ? static_cast<uint16_t>((static_cast<uint8_t>(frame.payload[0]) << 8) |
                                                static_cast<uint8_t>(frame.payload[1]))
                        : kCloseNoStatus;
        // Answer with the same code (none when it had none).
        SendCloseOnce(*peer_code == kCloseNoStatus ? kCloseNormal : *peer_code, "");
        break;
      }
      uint16_t close_code = kCloseProtocolError;
      if (absl::Status s = HandleFrame(std::move(frame), close_code); !s.ok()) {
        why = s;
        SendCloseOnce(close_code, why.message());
        break;
      }
      continue;
    }
    if (options_.idle_timeout != absl::InfiniteDuration()) {
      absl::Duration idle = absl::Now() - absl::FromUnixNanos(last_activity_);
      if (idle >= options_.idle_timeout) {
        why = absl::DeadlineExceededError(
            absl::StrCat("no traffic for ", absl::FormatDuration(options_.idle_timeout)));
        SendCloseOnce(kCloseGoingAway, "idle");
        break;
      }
      pollfd p{fd_.get(), POLLIN, 0};
      int wait_ms = static_cast<int>(
          std::min<int64_t>(absl::ToInt64Milliseconds(options_.idle_timeout - idle) + 1, 60000));
      int ready = ::poll(&p, 1, wait_ms);
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
    }
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;  // the peer's end of stream
    if (n < 0) {
      why = absl::UnavailableError(absl::StrCat("WebSocket read: ", strerror(errno)));
      break;
    }
    Touch();
    in_.append(buf, static_cast<size_t>(n));
  }
  if (!why.ok()) {
    OCID_LOG(kWarn) << "streaming: closing a WebSocket connection: " << why.message();
  }
  // Everything the peer sent has been read: closing now loses nothing.
  Shutdown();
  absl::MutexLock lock(&mu_);
  done_ = true;
  error_ = why;
  peer_close_code_ = peer_code;
}

ChannelCodec ChannelCodec::ForProtocol(absl::string_view protocol) {
  return ChannelCodec(protocol == "base64.channel.k8s.io" ||
                      protocol == "v4.base64.channel.k8s.io");
}

absl::Status ChannelCodec::Send(Connection& connection, uint8_t channel,
                                absl::string_view data) const {
  if (base64_) {
    std::string message(1, static_cast<char>('0' + channel));
    message += absl::Base64Escape(data);
    return connection.Send(Opcode::kText, message);
  }
  std::string message(1, static_cast<char>(channel));
  message.append(data.data(), data.size());
  return connection.SendBinary(message);
}

std::optional<std::pair<uint8_t, absl::string_view>> ChannelCodec::Decode(Message& message) const {
  if (message.data.empty()) return std::nullopt;
  if (!base64_) {
    return std::make_pair(static_cast<uint8_t>(message.data[0]),
                          absl::string_view(message.data).substr(1));
  }
  if (message.opcode != Opcode::kText) return std::nullopt;
  int channel = message.data[0] - '0';
  if (channel < 0 || channel > 9) return std::nullopt;
  std::string decoded;
  if (!absl::Base64Unescape(absl::string_view(message.data).substr(1), &decoded)) {
    return std::nullopt;
  }
  message.data = std::move(decoded);
  return std::make_pair(static_cast<uint8_t>(channel), absl::string_view(message.data));
}

}  // namespace ocid::streaming::ws
