#include "pkg/streaming/spdy_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <algorithm>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
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

// A patterned run of bytes: a reordered or lost piece shows.
std::string Pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return out;
}

struct SinkPair {
  UniqueFd ours, theirs;  // CopyTo writes `ours`; the test reads `theirs`
};

SinkPair SmallSink() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  int small = 4096;  // fills at once: the reader's writes meet a full socket
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string ReadToEnd(int fd) {
  std::string all;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return all;
    all.append(buf, static_cast<size_t>(n));
  }
}

TEST(SpdySession, CopyToKeepsOrderThroughASlowSink) {
  Pair p = Connect();
  auto opened = p.client->Open({{"streamType", "data"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::shared_ptr<Stream> accepted = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(accepted, nullptr);
  const std::string data = Pattern(6 << 20);  // past the 4 MiB queue limit
  // Some of it is queued before CopyTo starts: that goes out first.
  ASSERT_TRUE((*opened)->Write(absl::string_view(data).substr(0, 100000)).ok());
  absl::SleepFor(absl::Milliseconds(50));
  SinkPair sink = SmallSink();
  absl::Status copied;
  std::thread copier([&] {
    copied = accepted->CopyTo(sink.ours.get());
    ::shutdown(sink.ours.get(), SHUT_WR);
  });
  std::thread writer([&] {
    // Frames of odd sizes, so that they straddle the reader's reads.
    absl::string_view rest = absl::string_view(data).substr(100000);
    for (size_t n = 1; !rest.empty(); n = n * 3 + 1) {
      n = std::min(n % 300000 + 1, rest.size());
      ASSERT_TRUE((*opened)->Write(rest.substr(0, n)).ok());
      rest.remove_prefix(n);
    }
    ASSERT_TRUE((*opened)->Close().ok());
  });
  absl::SleepFor(absl::Milliseconds(200));  // let the queue fill
  std::string got = ReadToEnd(sink.theirs.get());
  writer.join();
  copier.join();
  EXPECT_TRUE(copied.ok()) << copied;
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "reordered or damaged";
  EXPECT_TRUE(accepted->AtEnd());
}

TEST(SpdySession, ReadGetsWholeFramesSentByteByByte) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd peer(fds[1]);
  Session server(UniqueFd(fds[0]), Session::Role::kServer);
  HeaderCompressor compressor;
  auto block = compressor.Compress({{"streamType", "resize"}});
  ASSERT_TRUE(block.ok());
  Frame syn;
  syn.type = FrameType::kSynStream;
  syn.stream_id = 1;
  syn.payload = *block;
  Frame data;
  data.type = FrameType::kData;
  data.stream_id = 1;
  data.payload = R"({"Width":80,"Height":24})";
  Frame fin;
  fin.type = FrameType::kData;
  fin.stream_id = 1;
  fin.flags = kFlagFin;
  std::string wire = Encode(syn) + Encode(data) + Encode(data) + Encode(fin);
  std::thread writer([&] {
    for (char c : wire) {
      ASSERT_EQ(::write(peer.get(), &c, 1), 1);
      absl::SleepFor(absl::Microseconds(20));
    }
  });
  std::shared_ptr<Stream> stream = server.Accept(absl::Seconds(5));
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->Read(), data.payload);  // one frame, one message
  EXPECT_EQ(stream->Read(), data.payload);
  EXPECT_EQ(stream->Read(), "");
  EXPECT_TRUE(stream->AtEnd());
  writer.join();
}

TEST(SpdySession, AFailedSinkDropsTheRestAndTheSessionGoesOn) {
  Pair p = Connect();
  auto opened = p.client->Open({{"streamType", "data"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<Stream> accepted = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(accepted, nullptr);
  SinkPair sink = SmallSink();
  sink.theirs.Reset();  // nobody reads: writes fail with EPIPE
  absl::Status copied;
  std::thread copier([&] { copied = accepted->CopyTo(sink.ours.get()); });
  const std::string data = Pattern(8 << 20);  // more than the queue holds
  ASSERT_TRUE((*opened)->Write(data).ok());
  copier.join();
  EXPECT_FALSE(copied.ok());
  // The reader did not stall on the dead stream: another one still works.
  auto second = p.client->Open({{"streamType", "other"}}, absl::Seconds(5));
  ASSERT_TRUE(second.ok()) << second.status();
  std::shared_ptr<Stream> other = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE((*second)->Write("still here").ok());
  EXPECT_EQ(other->Read(), "still here");
}

}  // namespace
}  // namespace ocid::streaming::spdy
