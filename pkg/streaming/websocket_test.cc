#include "pkg/streaming/websocket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace ocid::streaming::ws {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

TEST(WebSocketTest, AcceptKeyOfTheRfcsSample) {
  // RFC 6455 section 1.3 (also what `openssl sha1 -binary | base64` gives).
  EXPECT_EQ(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketTest, KeysAreBase64OfSixteenBytes) {
  EXPECT_TRUE(ValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
  std::string fresh = NewKey();
  EXPECT_TRUE(ValidKey(fresh)) << fresh;
  EXPECT_NE(fresh, NewKey());
  EXPECT_FALSE(ValidKey(""));
  EXPECT_FALSE(ValidKey("dGhlIHNhbXBsZQ=="));          // 11 bytes
  EXPECT_FALSE(ValidKey("dGhlIHNhbXBsZSBub25j!Q=="));  // not base64
}

TEST(WebSocketTest, TheRfcsSampleFrames) {
  Frame hello;
  hello.opcode = Opcode::kText;
  hello.payload = "Hello";
  EXPECT_EQ(EncodeFrame(hello, std::nullopt), Bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}));
  std::string masked = Bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(EncodeFrame(hello, std::array<uint8_t, 4>{0x37, 0xfa, 0x21, 0x3d}), masked);
  auto decoded = DecodeFrame(masked, 1 << 20);
  ASSERT_TRUE(decoded.ok() && decoded->has_value());
  EXPECT_EQ((*decoded)->consumed, masked.size());
  EXPECT_TRUE((*decoded)->frame.masked);
  EXPECT_TRUE((*decoded)->frame.fin);
  EXPECT_EQ((*decoded)->frame.opcode, Opcode::kText);
  EXPECT_EQ((*decoded)->frame.payload, "Hello");
}

TEST(WebSocketTest, LengthsOfEachFormRoundTripAndPartialFramesWait) {
  for (size_t size : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
    for (bool mask : {false, true}) {
      Frame f;
      f.opcode = Opcode::kBinary;
      f.fin = size % 2 == 0;
      for (size_t i = 0; i < size; ++i) f.payload.push_back(static_cast<char>(i * 7));
      std::string wire =
          EncodeFrame(f, mask ? std::optional(std::array<uint8_t, 4>{1, 2, 3, 4}) : std::nullopt);
      size_t header = (size < 126 ? 2 : size <= 0xffff ? 4 : 10) + (mask ? 4 : 0);
      EXPECT_EQ(wire.size(), header + size);
      auto decoded = DecodeFrame(wire + "next", 1 << 20);
      ASSERT_TRUE(decoded.ok() && decoded->has_value()) << size;
      EXPECT_EQ((*decoded)->consumed, wire.size());
      EXPECT_EQ((*decoded)->frame.payload, f.payload);
      EXPECT_EQ((*decoded)->frame.fin, f.fin);
      EXPECT_EQ((*decoded)->frame.masked, mask);
      for (size_t cut : {size_t{0}, size_t{1}, header - 1, header + size - 1}) {
        if (cut >= wire.size()) continue;
        auto part = DecodeFrame(wire.substr(0, cut), 1 << 20);
        ASSERT_TRUE(part.ok());
        EXPECT_FALSE(part->has_value()) << size << " cut at " << cut;
      }
    }
  }
}

TEST(WebSocketTest, InvalidFramesAreErrors) {
  auto code = [](const std::string& wire) { return DecodeFrame(wire, 1000).status().code(); };
  EXPECT_EQ(code(Bytes({0xc2, 0x00})), absl::StatusCode::kInvalidArgument);  // RSV1
  EXPECT_EQ(code(Bytes({0x83, 0x00})), absl::StatusCode::kInvalidArgument);  // opcode 3
  EXPECT_EQ(code(Bytes({0x09, 0x00})), absl::StatusCode::kInvalidArgument);  // fragmented ping
  EXPECT_EQ(code(Bytes({0x89, 0x7e, 0x00, 0x7e})),
            absl::StatusCode::kInvalidArgument);  // 126-byte ping
  EXPECT_EQ(code(Bytes({0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0})),
            absl::StatusCode::kInvalidArgument);  // top bit of a 64-bit length
  // Over the limit, told from the header alone.
  EXPECT_EQ(code(Bytes({0x82, 0x7e, 0x10, 0x00})), absl::StatusCode::kResourceExhausted);
}

struct Pair {
  std::unique_ptr<Connection> server;
  UniqueFd client_fd;  // a raw socket playing the client
  int client = -1;
};

Pair MakePair(ConnectionOptions options = {}) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Pair p;
  p.server = std::make_unique<Connection>(UniqueFd(fds[0]), Connection::Role::kServer, "", options);
  p.client_fd = UniqueFd(fds[1]);
  p.client = fds[1];
  return p;
}

void Write(int fd, const std::string& data) {
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

// Reads one whole frame from a raw socket.
Frame ReadFrame(int fd) {
  std::string in;
  char c;
  for (;;) {
    auto decoded = DecodeFrame(in, 1 << 20);
    EXPECT_TRUE(decoded.ok());
    if (!decoded.ok()) return {};
    if (decoded->has_value()) return (*decoded)->frame;
    if (::read(fd, &c, 1) != 1) {
      ADD_FAILURE() << "the connection ended mid-frame";
      return {};
    }
    in.push_back(c);
  }
}

Frame Masked(Opcode opcode, std::string payload, bool fin = true) {
  Frame f;
  f.opcode = opcode;
  f.fin = fin;
  f.payload = std::move(payload);
  return f;
}

std::string Wire(const Frame& f) { return EncodeFrame(f, std::array<uint8_t, 4>{9, 8, 7, 6}); }

TEST(WebSocketConnectionTest, FragmentsJoinAndPingsAreAnsweredBetweenThem) {
  Pair p = MakePair();
  Write(p.client, Wire(Masked(Opcode::kBinary, "hel", false)));
  Write(p.client, Wire(Masked(Opcode::kPing, "beat")));
  Write(p.client, Wire(Masked(Opcode::kContinuation, "lo", false)));
  Write(p.client, Wire(Masked(Opcode::kContinuation, "!", true)));
  Frame pong = ReadFrame(p.client);
  EXPECT_EQ(pong.opcode, Opcode::kPong);
  EXPECT_EQ(pong.payload, "beat");
  EXPECT_FALSE(pong.masked);
  std::optional<Message> m = p.server->Receive();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->opcode, Opcode::kBinary);
  EXPECT_EQ(m->data, "hello!");
}

TEST(WebSocketConnectionTest, ServerFramesAreUnmaskedAndCloseIsAnswered) {
  Pair p = MakePair();
  ASSERT_TRUE(p.server->SendBinary(std::string(300, 'z')).ok());
  Frame got = ReadFrame(p.client);
  EXPECT_FALSE(got.masked);
  EXPECT_EQ(got.payload, std::string(300, 'z'));
  Write(p.client, Wire(Masked(Opcode::kClose, Bytes({0x03, 0xe8}))));
  Frame answer = ReadFrame(p.client);
  EXPECT_EQ(answer.opcode, Opcode::kClose);
  EXPECT_EQ(answer.payload, Bytes({0x03, 0xe8}));
  EXPECT_TRUE(p.server->WaitDone(absl::Seconds(5)));
  EXPECT_TRUE(p.server->error().ok());
  EXPECT_EQ(p.server->peer_close_code(), std::optional<uint16_t>(1000));
  EXPECT_FALSE(p.server->Receive().has_value());
  EXPECT_EQ(p.server->SendBinary("late").code(), absl::StatusCode::kUnavailable);
}

TEST(WebSocketConnectionTest, AnUnmaskedClientFrameIsAProtocolError) {
  Pair p = MakePair();
  Frame f = Masked(Opcode::kBinary, "x");
  Write(p.client, EncodeFrame(f, std::nullopt));
  Frame close = ReadFrame(p.client);
  EXPECT_EQ(close.opcode, Opcode::kClose);
  ASSERT_GE(close.payload.size(), 2u);
  EXPECT_EQ(close.payload.substr(0, 2), Bytes({0x03, 0xea}));  // 1002
  EXPECT_TRUE(p.server->WaitDone(absl::Seconds(5)));
  EXPECT_EQ(p.server->error().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketConnectionTest, AMessageOverTheLimitIsTooBig) {
  ConnectionOptions options;
  options.max_message = 10;
  Pair p = MakePair(options);
  Write(p.client, Wire(Masked(Opcode::kBinary, "123456", false)));
  Write(p.client, Wire(Masked(Opcode::kContinuation, "789012", true)));
  Frame close = ReadFrame(p.client);
  EXPECT_EQ(close.opcode, Opcode::kClose);
  EXPECT_EQ(close.payload.substr(0, 2), Bytes({0x03, 0xf1}));  // 1009
  EXPECT_TRUE(p.server->WaitDone(absl::Seconds(5)));
  EXPECT_EQ(p.server->error().code(), absl::StatusCode::kResourceExhausted);
}

TEST(WebSocketConnectionTest, ClientAndServerCloseInOrder) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Connection server(UniqueFd(fds[0]), Connection::Role::kServer);
  // The client's first frame came with the HTTP exchange.
  Connection client(UniqueFd(fds[1]), Connection::Role::kClient);
  ASSERT_TRUE(client.SendBinary("up").ok());
  std::optional<Message> m = server.Receive();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->data, "up");
  ASSERT_TRUE(server.SendBinary("down").ok());
  server.Close(kCloseNormal, absl::Seconds(5));
  m = client.Receive();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->data, "down");
  EXPECT_FALSE(client.Receive().has_value());
  EXPECT_EQ(client.peer_close_code(), std::optional<uint16_t>(kCloseNormal));
  EXPECT_TRUE(server.WaitDone(absl::ZeroDuration()));  // the client answered within linger
  EXPECT_EQ(server.peer_close_code(), std::optional<uint16_t>(kCloseNormal));
}

TEST(WebSocketConnectionTest, BufferedBytesAreTheFirstFrames) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Connection server(UniqueFd(fds[0]), Connection::Role::kServer,
                    Wire(Masked(Opcode::kText, "early")));
  std::optional<Message> m = server.Receive();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->opcode, Opcode::kText);
  EXPECT_EQ(m->data, "early");
  ::close(fds[1]);
  EXPECT_FALSE(server.Receive().has_value());
}

TEST(WebSocketConnectionTest, IdleConnectionsEnd) {
  ConnectionOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  Pair p = MakePair(options);
  EXPECT_TRUE(p.server->WaitDone(absl::Seconds(5)));
  EXPECT_EQ(p.server->error().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(ChannelCodecTest, BinaryFramingIsTheChannelByteThenTheData) {
  ChannelCodec codec = ChannelCodec::ForProtocol("v5.channel.k8s.io");
  EXPECT_FALSE(codec.base64());
  Message m{Opcode::kBinary, std::string("\x02oops", 5)};
  auto decoded = codec.Decode(m);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->first, 2);
  EXPECT_EQ(decoded->second, "oops");
  Message empty{Opcode::kBinary, ""};
  EXPECT_FALSE(codec.Decode(empty).has_value());
}

TEST(ChannelCodecTest, Base64FramingIsADigitThenBase64) {
  ChannelCodec codec = ChannelCodec::ForProtocol("v4.base64.channel.k8s.io");
  EXPECT_TRUE(codec.base64());
  EXPECT_TRUE(ChannelCodec::ForProtocol("base64.channel.k8s.io").base64());
  Message m{Opcode::kText, "1aGVsbG8="};  // channel 1, "hello"
  auto decoded = codec.Decode(m);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->first, 1);
  EXPECT_EQ(decoded->second, "hello");
  for (Message bad : {Message{Opcode::kBinary, "1aGVsbG8="}, Message{Opcode::kText, "1a!!"},
                      Message{Opcode::kText, "xaGVsbG8="}, Message{Opcode::kText, ""}}) {
    EXPECT_FALSE(codec.Decode(bad).has_value()) << bad.data;
  }
}

}  // namespace
}  // namespace ocid::streaming::ws
