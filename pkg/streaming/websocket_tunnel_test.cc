#include "pkg/streaming/websocket_tunnel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/spdy_session.h"
#include "pkg/streaming/websocket.h"

namespace ocid::streaming {
namespace {

// Both ends of a WebSocket over a socket pair.
struct Connections {
  std::unique_ptr<ws::Connection> server, client;
};

Connections Connected() {
  int pair[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  Connections c;
  c.server = std::make_unique<ws::Connection>(UniqueFd(pair[0]), ws::Connection::Role::kServer);
  c.client = std::make_unique<ws::Connection>(UniqueFd(pair[1]), ws::Connection::Role::kClient);
  return c;
}

std::string ReadSome(int fd) {
  char buffer[256];
  ssize_t n = ::read(fd, buffer, sizeof(buffer));
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

TEST(WebSocketTunnelTest, BytesTravelAsBinaryMessagesBothWays) {
  Connections c = Connected();
  auto tunnel = WebSocketTunnel::Start(*c.server);
  ASSERT_TRUE(tunnel.ok()) << tunnel.status();
  UniqueFd stream = (*tunnel)->TakeStream();

  ASSERT_TRUE(c.client->SendBinary("from the peer").ok());
  EXPECT_EQ(ReadSome(stream.get()), "from the peer");

  ASSERT_EQ(::write(stream.get(), "to the peer", 11), 11);
  std::optional<ws::Message> m = c.client->Receive();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->opcode, ws::Opcode::kBinary);
  EXPECT_EQ(m->data, "to the peer");
}

TEST(WebSocketTunnelTest, OurEndOfStreamIsACloseAndThePeersCloseIsEndOfStream) {
  Connections c = Connected();
  auto tunnel = WebSocketTunnel::Start(*c.server);
  ASSERT_TRUE(tunnel.ok()) << tunnel.status();
  UniqueFd stream = (*tunnel)->TakeStream();
  ::shutdown(stream.get(), SHUT_WR);
  // The client sees the close (Receive ends) and its connection answers it,
  // which ends what the stream can read.
  EXPECT_FALSE(c.client->Receive().has_value());
  EXPECT_EQ(c.client->peer_close_code(), ws::kCloseNormal);
  EXPECT_EQ(ReadSome(stream.get()), "");
}

TEST(WebSocketTunnelTest, ATextMessageEndsTheTunnel) {
  Connections c = Connected();
  auto tunnel = WebSocketTunnel::Start(*c.server);
  ASSERT_TRUE(tunnel.ok()) << tunnel.status();
  UniqueFd stream = (*tunnel)->TakeStream();
  ASSERT_TRUE(c.client->Send(ws::Opcode::kText, "not tunnelled").ok());
  EXPECT_EQ(ReadSome(stream.get()), "");  // nothing of it came through
  EXPECT_FALSE(c.client->Receive().has_value());
  EXPECT_EQ(c.client->peer_close_code(), ws::kCloseProtocolError);
}

TEST(WebSocketTunnelTest, ASpdySessionRunsInsideTheTunnel) {
  Connections c = Connected();
  auto server_tunnel = WebSocketTunnel::Start(*c.server);
  auto client_tunnel = WebSocketTunnel::Start(*c.client);
  ASSERT_TRUE(server_tunnel.ok() && client_tunnel.ok());
  spdy::Session server((*server_tunnel)->TakeStream(), spdy::Session::Role::kServer);
  spdy::Session client((*client_tunnel)->TakeStream(), spdy::Session::Role::kClient);

  auto opened = client.Open({{"streamType", "data"}, {"port", "80"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::shared_ptr<spdy::Stream> accepted = server.Accept(absl::Seconds(5));
  ASSERT_NE(accepted, nullptr);
  EXPECT_EQ(accepted->Header("port"), "80");

  std::string big(300 << 10, 'x');  // several messages' worth
  ASSERT_TRUE((*opened)->Write(big).ok());
  ASSERT_TRUE((*opened)->Close().ok());
  std::string got;
  for (std::string part = accepted->Read(); !part.empty(); part = accepted->Read()) got += part;
  EXPECT_EQ(got.size(), big.size());
  EXPECT_EQ(got, big);
  ASSERT_TRUE(accepted->Write("reply").ok());
  EXPECT_EQ((*opened)->Read(), "reply");
}

}  // namespace
}  // namespace ocid::streaming
