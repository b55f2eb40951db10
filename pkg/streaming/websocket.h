// WebSocket (RFC 6455) after the HTTP upgrade: the accept key of the
// handshake, frames, and a connection of whole messages, as kubectl and
// crictl (client-go's websocket executor) speak it for exec, attach and
// port-forward.
//
// One reader thread per connection decodes frames, joins fragments into
// messages, answers pings and the peer's close; writes from any thread go
// out whole under one lock. No extension (permessage-deflate) is offered or
// accepted, so reserved bits must be clear. Text messages are not checked
// for valid UTF-8: Kubernetes' channel protocols carry binary messages.
#ifndef OCID_PKG_STREAMING_WEBSOCKET_H_
#define OCID_PKG_STREAMING_WEBSOCKET_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/base/unique_fd.h"

namespace ocid::streaming::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes (RFC 6455 section 7.4.1) we send.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseTooBig = 1009;

// The largest message (all its fragments) a connection takes by default.
inline constexpr size_t kDefaultMaxMessage = 4 << 20;

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key:
// base64(SHA-1(key + the RFC's GUID)).
std::string AcceptKey(absl::string_view key);
// A fresh Sec-WebSocket-Key: 16 random bytes, base64.
std::string NewKey();
// True when `key` is base64 of 16 bytes, as the RFC requires of a client.
bool ValidKey(absl::string_view key);

struct Frame {
  bool fin = true;
  Opcode opcode = Opcode::kBinary;
  bool masked = false;  // as decoded; Encode masks when given a key
  std::string payload;  // unmasked
};

// The wire form of `frame`; masked with `mask` when given (a client's frames
// must be, a server's must not be).
std::string EncodeFrame(const Frame& frame, std::optional<std::array<uint8_t, 4>> mask);

struct DecodedFrame {
  Frame frame;
  size_t consumed;
};
// Reads one frame from the front of `in`: nullopt when only part of it is
// there. InvalidArgument for a frame that can never be valid (reserved bits,
// an unknown opcode, a control frame fragmented or over 125 bytes, a 64-bit
// length with its top bit set), ResourceExhausted for a payload over
// `max_payload`, decided from the header before the body arrives.
absl::StatusOr<std::optional<DecodedFrame>> DecodeFrame(absl::string_view in, size_t max_payload);

struct Message {
  Opcode opcode = Opcode::kBinary;  // kText or kBinary
  std::string data;
};

struct ConnectionOptions {
  // With no frame either way for this long the connection ends
  // (DeadlineExceeded).
  absl::Duration idle_timeout = absl::InfiniteDuration();
  size_t max_message = kDefaultMaxMessage;
};

class Connection {
 public:
  enum class Role { kServer, kClient };

  // Takes the upgraded socket; `buffered` is what the HTTP exchange read past
  // its end. The reader starts at once.
  Connection(UniqueFd fd, Role role, std::string buffered = "", ConnectionOptions options = {});
  // Shuts the socket down and joins the reader.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The next message; nullopt once the connection ended and every message
  // was taken. Messages queue up to 4 MiB; past that the reader stops
  // reading the socket until they are taken.
  std::optional<Message> Receive();
  // Sends one message as one frame. Unavailable once the connection is gone
  // or our close was sent.
  absl::Status Send(Opcode opcode, absl::string_view data);
  absl::Status SendBinary(absl::string_view data) { return Send(Opcode::kBinary, data); }

  // Orderly end: our close frame (once), then up to `linger` for the peer's
  // close or end of stream, then the socket is shut down.
  void Close(uint16_t code = kCloseNormal, absl::Duration linger = absl::Seconds(2));
  // Abrupt end: unblocks the reader and every caller at once.
  void Shutdown();

  // True once the connection ended; waits up to `timeout` for that.
  bool WaitDone(absl::Duration timeout);
  // Why it ended: OK for a close by either side or the peer's end of stream.
  absl::Status error();
  // The code of the peer's close frame (1005 when it carried none); nullopt
  // when none came.
  std::optional<uint16_t> peer_close_code();

 private:
  void ReadLoop();
  // Handles one frame; an error ends the connection with a close frame of
  // `close_code`.
  absl::Status HandleFrame(Frame frame, uint16_t& close_code);
  absl::Status SendFrame(const Frame& frame);
  void SendCloseOnce(uint16_t code, absl::string_view reason);
  void Touch() { last_activity_ = absl::ToUnixNanos(absl::Now()); }

  UniqueFd fd_;
  const Role role_;
  const ConnectionOptions options_;
  std::atomic<int64_t> last_activity_;
  std::string in_;                  // undecoded bytes, reader thread only
  std::optional<Message> partial_;  // a fragmented message so far, reader only

  absl::Mutex write_mu_;
  bool close_sent_ ABSL_GUARDED_BY(write_mu_) = false;
  bool write_closed_ ABSL_GUARDED_BY(write_mu_) = false;

  absl::Mutex mu_;
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_ ABSL_GUARDED_BY(mu_) = false;  // Shutdown called: stop waiting for readers
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::optional<uint16_t> peer_close_code_ ABSL_GUARDED_BY(mu_);

  std::thread reader_;
};

// Kubernetes' channels in WebSocket messages: the first byte of a binary
// message is its channel, the rest its data. The base64 subprotocols
// (base64.channel.k8s.io, v4.base64.channel.k8s.io), made for browsers,
// send text messages instead: the digit '0' + channel, then base64 of the
// data.
class ChannelCodec {
 public:
  // The framing `protocol` (a negotiated subprotocol, maybe "") uses.
  static ChannelCodec ForProtocol(absl::string_view protocol);
  bool base64() const { return base64_; }

  absl::Status Send(Connection& connection, uint8_t channel, absl::string_view data) const;
  // The channel and data of `message`; base64 is decoded in place, the data
  // then viewing `message`. nullopt for an empty message or one this framing
  // cannot have made (a binary message under base64, bad base64, a channel
  // digit out of range).
  std::optional<std::pair<uint8_t, absl::string_view>> Decode(Message& message) const;

 private:
  explicit ChannelCodec(bool base64) : base64_(base64) {}
  bool base64_;
};

}  // namespace ocid::streaming::ws

#endif  // OCID_PKG_STREAMING_WEBSOCKET_H_
