#include "pkg/streaming/spdy_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace ocid::streaming::spdy {
namespace {

struct Pair {
  std::unique_ptr<Session> server;
  std::unique_ptr<Session> client;
};

Pair Connect() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Pair p;
  p.server = std::make_unique<Session>(UniqueFd(fds[0]), Session::Role::kServer);
  p.client = std::make_unique<Session>(UniqueFd(fds[1]), Session::Role::kClient);
  return p;
}

std::string ReadAll(Stream& s) {
  std::string all;
  for (std::string part = s.Read(); !part.empty(); part = s.Read()) all += part;
  return all;
}

TEST(SpdySession, StreamsCarryHeadersAndDataBothWays) {
  Pair p = Connect();
  auto opened = p.client->Open({{"streamType", "stdin"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::shared_ptr<Stream> accepted = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(accepted, nullptr);
  EXPECT_EQ(accepted->id(), 1u);
  EXPECT_EQ(accepted->Header("streamtype"), "stdin");

  std::string big(200000, 'x');  // more than one frame
  ASSERT_TRUE((*opened)->Write(big).ok());
  ASSERT_TRUE((*opened)->Close().ok());
  EXPECT_EQ(ReadAll(*accepted), big);
  EXPECT_TRUE(accepted->AtEnd());
  // Our half is still open after the peer finished its own.
  ASSERT_TRUE(accepted->Write("back").ok());
  ASSERT_TRUE(accepted->Close().ok());
  EXPECT_EQ(ReadAll(**opened), "back");
  EXPECT_FALSE((*opened)->Write("more").ok());
}

TEST(SpdySession, SecondStreamGetsTheNextOddId) {
  Pair p = Connect();
  ASSERT_TRUE(p.client->Open({{"a", "1"}}, absl::Seconds(5)).ok());
  auto second = p.client->Open({{"a", "2"}}, absl::Seconds(5));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->id(), 3u);
  EXPECT_EQ(p.server->Accept(absl::Seconds(5))->Header("a"), "1");
  EXPECT_EQ(p.server->Accept(absl::Seconds(5))->Header("a"), "2");
  EXPECT_EQ(p.server->Accept(absl::Milliseconds(50)), nullptr);
}

TEST(SpdySession, ResetEndsTheStreamForTheReader) {
  Pair p = Connect();
  auto opened = p.client->Open({{"x", "y"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<Stream> accepted = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(accepted, nullptr);
  (*opened)->Reset();
  EXPECT_EQ(accepted->Read(), "");
  EXPECT_TRUE(accepted->AtEnd());
}

TEST(SpdySession, CloseEndsThePeerAndReadersSeeTheEnd) {
  Pair p = Connect();
  auto opened = p.client->Open({{"x", "y"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<Stream> accepted = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(accepted, nullptr);
  ASSERT_TRUE(accepted->Write("last words").ok());
  std::thread closer([&] { p.server->Close(absl::Seconds(5)); });
  EXPECT_EQ((*opened)->Read(), "last words");
  EXPECT_TRUE(p.client->WaitDone(absl::Seconds(5)));
  EXPECT_EQ((*opened)->Read(), "");
  p.client->Shutdown();
  closer.join();
  EXPECT_TRUE(p.server->WaitDone(absl::Seconds(1)));
  EXPECT_TRUE(p.client->error().ok());
}

TEST(SpdySession, GarbageClosesTheSessionWithAnError) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd peer(fds[1]);
  Session server(UniqueFd(fds[0]), Session::Role::kServer);
  // A control frame of version 2: never valid here.
  std::string bad("\x80\x02\x00\x01\x00\x00\x00\x00", 8);
  ASSERT_EQ(::write(peer.get(), bad.data(), bad.size()), 8);
  EXPECT_TRUE(server.WaitDone(absl::Seconds(5)));
  EXPECT_FALSE(server.error().ok());
  EXPECT_EQ(server.Accept(absl::Milliseconds(10)), nullptr);
}

// Frames made by another implementation (Python's zlib with the SPDY/3
// dictionary as zdict, as Go's framer uses it): the fuzz corpus's seed.
TEST(SpdySession, ReadsFramesAnotherCompressorWrote) {
  std::ifstream file("pkg/streaming/testdata/fuzz/spdy_fuzzer/exec_streams", std::ios::binary);
  std::string wire((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(wire.empty());
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd peer(fds[1]);
  Session server(UniqueFd(fds[0]), Session::Role::kServer, wire);
  std::shared_ptr<Stream> error = server.Accept(absl::Seconds(5));
  std::shared_ptr<Stream> in = server.Accept(absl::Seconds(5));
  ASSERT_NE(error, nullptr);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(error->Header("streamtype"), "error");
  EXPECT_EQ(in->Header("streamtype"), "stdin");
  EXPECT_EQ(ReadAll(*in), "hello\n");
}

TEST(SpdySession, AnIdleSessionEnds) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd peer(fds[1]);
  Session server(UniqueFd(fds[0]), Session::Role::kServer, "", absl::Milliseconds(200));
  EXPECT_FALSE(server.WaitDone(absl::Milliseconds(100))) << "ended before its time";
  EXPECT_TRUE(server.WaitDone(absl::Seconds(5)));
  EXPECT_EQ(server.error().code(), absl::StatusCode::kDeadlineExceeded) << server.error();
}

TEST(SpdySession, PingsAreAnswered) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd peer(fds[1]);
  Session server(UniqueFd(fds[0]), Session::Role::kServer);
  Frame ping;
  ping.type = FrameType::kPing;
  ping.ping_id = 7;
  std::string wire = Encode(ping);
  ASSERT_EQ(::write(peer.get(), wire.data(), wire.size()), static_cast<ssize_t>(wire.size()));
  char buf[64];
  ssize_t n = ::read(peer.get(), buf, sizeof(buf));
  ASSERT_EQ(n, static_cast<ssize_t>(wire.size()));
  EXPECT_EQ(std::string(buf, n), wire);
}

}  // namespace
}  // namespace ocid::streaming::spdy
