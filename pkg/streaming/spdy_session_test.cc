#include "pkg/streaming/spdy_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pkg/streaming/testing/tcp_pair.h"

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

// ---- the splice path (TCP) against the copying path ----

void SendAllOrFail(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << strerror(errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

enum class Transport { kSocketPair, kTcpCopy, kTcpSplice, kTcpSpliceSmallPipe };

std::string TransportName(const ::testing::TestParamInfo<Transport>& info) {
  switch (info.param) {
    case Transport::kSocketPair:
      return "SocketPair";
    case Transport::kTcpCopy:
      return "TcpCopy";
    case Transport::kTcpSplice:
      return "TcpSplice";
    case Transport::kTcpSpliceSmallPipe:
      return "TcpSpliceSmallPipe";
  }
  return "";
}

class CopyPaths : public ::testing::TestWithParam<Transport> {
 protected:
  Pair Connect() {
    if (GetParam() == Transport::kSocketPair) return spdy::Connect();
    SpliceOptions options;
    options.enabled = GetParam() != Transport::kTcpCopy;
    // One page: every frame is bigger than the pipe.
    if (GetParam() == Transport::kTcpSpliceSmallPipe) options.pipe_size = 4096;
    auto [a, b] = TcpPair();
    Pair p;
    p.server = std::make_unique<Session>(std::move(b), Session::Role::kServer, "",
                                         absl::InfiniteDuration(), options);
    p.client = std::make_unique<Session>(std::move(a), Session::Role::kClient, "",
                                         absl::InfiniteDuration(), options);
    bool spliced =
        GetParam() == Transport::kTcpSplice || GetParam() == Transport::kTcpSpliceSmallPipe;
    EXPECT_EQ(p.server->splicing(), spliced);
    EXPECT_EQ(p.client->splicing(), spliced);
    return p;
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, CopyPaths,
                         ::testing::Values(Transport::kSocketPair, Transport::kTcpCopy,
                                           Transport::kTcpSplice, Transport::kTcpSpliceSmallPipe),
                         TransportName);

// A port-forward in miniature: sources and sinks are TCP connections, the
// client's CopyFrom feeds the server's CopyTo and back.
TEST_P(CopyPaths, CopyFromAndCopyToCarryBigDataBothWays) {
  Pair p = Connect();
  auto opened = p.client->Open({{"streamType", "data"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::shared_ptr<Stream> accepted = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(accepted, nullptr);
  auto [local_app, local] = TcpPair();  // the client's local connection
  auto [pod, pod_app] = TcpPair();      // the server's dial into the pod
  const std::string up = Pattern(5 << 20), down = Pattern(3 << 20).substr(1);
  std::thread client_out([&, s = *opened, fd = local.get()] {
    EXPECT_TRUE(s->CopyFrom(fd).ok());
    EXPECT_TRUE(s->Close().ok());
  });
  std::thread server_out([&, fd = pod.get()] {
    EXPECT_TRUE(accepted->CopyFrom(fd).ok());
    EXPECT_TRUE(accepted->Close().ok());
  });
  std::thread client_in([&, s = *opened, fd = local.get()] {
    EXPECT_TRUE(s->CopyTo(fd).ok());
    ::shutdown(fd, SHUT_WR);
  });
  std::thread server_in([&, fd = pod.get()] {
    EXPECT_TRUE(accepted->CopyTo(fd).ok());
    ::shutdown(fd, SHUT_WR);
  });
  std::thread feed_up([&, fd = local_app.get()] {
    SendAllOrFail(fd, up);
    ::shutdown(fd, SHUT_WR);
  });
  std::thread feed_down([&, fd = pod_app.get()] {
    SendAllOrFail(fd, down);
    ::shutdown(fd, SHUT_WR);
  });
  std::string got_down;
  std::thread drain_down([&, fd = local_app.get()] { got_down = ReadToEnd(fd); });
  std::string got_up = ReadToEnd(pod_app.get());
  for (std::thread* t :
       {&feed_up, &feed_down, &drain_down, &client_out, &server_out, &client_in, &server_in}) {
    t->join();
  }
  EXPECT_EQ(got_up.size(), up.size());
  EXPECT_TRUE(got_up == up) << "damaged or reordered";
  EXPECT_EQ(got_down.size(), down.size());
  EXPECT_TRUE(got_down == down) << "damaged or reordered";
}

TEST_P(CopyPaths, CopyToKeepsOrderThroughASlowSink) {
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
  absl::SleepFor(absl::Milliseconds(200));  // let the queue or the sink fill
  std::string got = ReadToEnd(sink.theirs.get());
  writer.join();
  copier.join();
  EXPECT_TRUE(copied.ok()) << copied;
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "reordered or damaged";
  EXPECT_TRUE(accepted->AtEnd());
}

TEST_P(CopyPaths, AFailedSinkIsCopyTosErrorAndTheSessionGoesOn) {
  Pair p = Connect();
  auto opened = p.client->Open({{"streamType", "data"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<Stream> accepted = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(accepted, nullptr);
  auto [sink, gone] = TcpPair();
  gone.Reset();  // writes fail (EPIPE or ECONNRESET), and SIGPIPE must not kill us
  absl::Status copied;
  std::thread copier([&] { copied = accepted->CopyTo(sink.get()); });
  const std::string data = Pattern(8 << 20);
  ASSERT_TRUE((*opened)->Write(data).ok());
  copier.join();
  EXPECT_FALSE(copied.ok());
  auto second = p.client->Open({{"streamType", "other"}}, absl::Seconds(5));
  ASSERT_TRUE(second.ok()) << second.status();
  std::shared_ptr<Stream> other = p.server->Accept(absl::Seconds(5));
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE((*second)->Write("still here").ok());
  EXPECT_EQ(other->Read(), "still here");
}

// Several forwarded connections on one session at once, while control frames
// (new streams, their replies) and plain Writes go by: a frame interleaved
// into another would garble the peer's decoding or the data.
TEST_P(CopyPaths, ConcurrentStreamsKeepTheirFramesWhole) {
  Pair p = Connect();
  constexpr int kStreams = 4;
  std::vector<std::shared_ptr<Stream>> ours, theirs;
  for (int i = 0; i < kStreams; ++i) {
    auto opened =
        p.client->Open({{"streamType", "data"}, {"i", absl::StrCat(i)}}, absl::Seconds(5));
    ASSERT_TRUE(opened.ok());
    ours.push_back(*opened);
    theirs.push_back(p.server->Accept(absl::Seconds(5)));
    ASSERT_NE(theirs.back(), nullptr);
  }
  std::vector<std::string> data, got(kStreams);
  std::vector<std::pair<UniqueFd, UniqueFd>> sources, sinks;
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    data.push_back(Pattern((2 << 20) + 12345 * i).substr(i));
    sources.push_back(TcpPair());
    sinks.push_back(TcpPair());
  }
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      SendAllOrFail(sources[i].first.get(), data[i]);
      ::shutdown(sources[i].first.get(), SHUT_WR);
    });
    threads.emplace_back([&, i] {
      EXPECT_TRUE(ours[i]->CopyFrom(sources[i].second.get()).ok());
      EXPECT_TRUE(ours[i]->Close().ok());
    });
    threads.emplace_back([&, i] {
      EXPECT_TRUE(theirs[i]->CopyTo(sinks[i].first.get()).ok());
      ::shutdown(sinks[i].first.get(), SHUT_WR);
    });
    threads.emplace_back([&, i] { got[i] = ReadToEnd(sinks[i].second.get()); });
  }
  // Meanwhile: streams opened and written in small frames.
  for (int k = 0; k < 20; ++k) {
    auto extra = p.client->Open({{"streamType", "extra"}}, absl::Seconds(5));
    ASSERT_TRUE(extra.ok()) << extra.status();
    std::shared_ptr<Stream> accepted = p.server->Accept(absl::Seconds(5));
    ASSERT_NE(accepted, nullptr);
    ASSERT_TRUE((*extra)->Write(absl::StrCat("message ", k)).ok());
    EXPECT_EQ(accepted->Read(), absl::StrCat("message ", k));
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(got[i].size(), data[i].size()) << "stream " << i;
    EXPECT_TRUE(got[i] == data[i]) << "stream " << i << " damaged or reordered";
  }
  EXPECT_TRUE(p.server->error().ok()) << p.server->error();
}

// A raw peer on TCP writing crafted frames to a splicing server session.
struct RawPeer {
  UniqueFd fd;
  std::unique_ptr<Session> server;
  HeaderCompressor compressor;

  explicit RawPeer(size_t pipe_size, absl::Duration idle_timeout = absl::InfiniteDuration()) {
    auto [a, b] = TcpPair();
    fd = std::move(a);
    SpliceOptions options;
    options.pipe_size = pipe_size;
    server =
        std::make_unique<Session>(std::move(b), Session::Role::kServer, "", idle_timeout, options);
  }
  std::string Syn(uint32_t id) {
    Frame syn;
    syn.type = FrameType::kSynStream;
    syn.stream_id = id;
    syn.payload = *compressor.Compress({{"streamType", "data"}});
    return Encode(syn);
  }
};

std::string DataFrame(uint32_t id, absl::string_view payload, uint8_t flags = 0) {
  Frame frame;
  frame.type = FrameType::kData;
  frame.stream_id = id;
  frame.flags = flags;
  frame.payload = std::string(payload);
  return Encode(frame);
}

// What the session sent the raw peer, as frames, until `want` came.
std::vector<Frame> ReadFrames(int fd, size_t want) {
  std::vector<Frame> frames;
  std::string in;
  char buf[4096];
  while (frames.size() < want) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    for (;;) {
      absl::StatusOr<std::optional<Decoded>> decoded = Decode(in);
      if (!decoded.ok() || !decoded->has_value()) break;
      frames.push_back(std::move((*decoded)->frame));
      in.erase(0, (*decoded)->consumed);
    }
  }
  return frames;
}

TEST(SpdySessionSplice, FramesSplitAcrossReadsAndLargerThanThePipeArriveWhole) {
  RawPeer peer(4096);
  ASSERT_TRUE(peer.server->splicing());
  SendAllOrFail(peer.fd.get(), peer.Syn(1));
  std::shared_ptr<Stream> stream = peer.server->Accept(absl::Seconds(5));
  ASSERT_NE(stream, nullptr);
  auto [sink, sink_reader] = TcpPair();
  absl::Status copied;
  std::thread copier([&, fd = sink.get()] {
    copied = stream->CopyTo(fd);
    ::shutdown(fd, SHUT_WR);
  });
  absl::SleepFor(absl::Milliseconds(20));  // CopyTo is the sink before the data comes
  const std::string first = Pattern(kMaxPayload), second = Pattern(70000).substr(3);
  // Control frames between the data frames: flow control (which we do not
  // enforce, as the Go peers do not), settings, and a ping to answer.
  Frame window;
  window.type = FrameType::kWindowUpdate;
  window.stream_id = 1;
  window.delta = 65536;
  Frame settings;
  settings.type = FrameType::kSettings;
  settings.settings.push_back({0, 7, 1 << 20});  // SETTINGS_INITIAL_WINDOW_SIZE
  Frame ping;
  ping.type = FrameType::kPing;
  ping.ping_id = 9;
  std::string wire = DataFrame(1, first) + Encode(window) + Encode(settings) + Encode(ping) +
                     DataFrame(1, second) + DataFrame(1, "", kFlagFin);
  std::string got;
  std::thread reader([&, fd = sink_reader.get()] { got = ReadToEnd(fd); });
  // Odd pieces: headers split, payloads cut anywhere, with pauses so that
  // the reader meets each cut.
  absl::string_view rest = wire;
  for (size_t n = 3; !rest.empty(); n = (n * 7 + 5) % 200003 + 1) {
    size_t piece = std::min(n, rest.size());
    SendAllOrFail(peer.fd.get(), rest.substr(0, piece));
    rest.remove_prefix(piece);
    absl::SleepFor(absl::Microseconds(300));
  }
  copier.join();
  reader.join();
  EXPECT_TRUE(copied.ok()) << copied;
  EXPECT_EQ(got.size(), first.size() + second.size());
  EXPECT_TRUE(got == first + second) << "damaged or reordered";
  // SYN_REPLY, then the ping's answer.
  std::vector<Frame> answers = ReadFrames(peer.fd.get(), 2);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].type, FrameType::kSynReply);
  EXPECT_EQ(answers[1].type, FrameType::kPing);
  EXPECT_EQ(answers[1].ping_id, 9u);
  EXPECT_TRUE(peer.server->error().ok()) << peer.server->error();
}

TEST(SpdySessionSplice, TheEndMidFrameEndsTheStreamWithWhatCame) {
  RawPeer peer(kSplicePipeSize);
  SendAllOrFail(peer.fd.get(), peer.Syn(1));
  std::shared_ptr<Stream> stream = peer.server->Accept(absl::Seconds(5));
  ASSERT_NE(stream, nullptr);
  auto [sink, sink_reader] = TcpPair();
  absl::Status copied;
  std::thread copier([&, fd = sink.get()] {
    copied = stream->CopyTo(fd);
    ::shutdown(fd, SHUT_WR);
  });
  absl::SleepFor(absl::Milliseconds(20));
  const std::string payload = Pattern(300000);
  std::string wire = DataFrame(1, payload);
  // The header and part of the payload alone first: the rest is spliced.
  SendAllOrFail(peer.fd.get(), absl::string_view(wire).substr(0, kFrameHeaderSize));
  absl::SleepFor(absl::Milliseconds(20));
  SendAllOrFail(peer.fd.get(), absl::string_view(wire).substr(kFrameHeaderSize, 100000));
  absl::SleepFor(absl::Milliseconds(20));
  ::shutdown(peer.fd.get(), SHUT_WR);
  std::string got = ReadToEnd(sink_reader.get());
  copier.join();
  EXPECT_TRUE(copied.ok()) << copied;
  EXPECT_EQ(got, payload.substr(0, 100000));
  EXPECT_TRUE(peer.server->WaitDone(absl::Seconds(5)));
  EXPECT_TRUE(peer.server->error().ok()) << peer.server->error();  // an orderly close
}

TEST(SpdySessionSplice, APeerSilentMidFrameEndsTheSessionAtTheIdleTimeout) {
  RawPeer peer(kSplicePipeSize, absl::Milliseconds(300));
  SendAllOrFail(peer.fd.get(), peer.Syn(1));
  std::shared_ptr<Stream> stream = peer.server->Accept(absl::Seconds(5));
  ASSERT_NE(stream, nullptr);
  auto [sink, sink_reader] = TcpPair();
  absl::Status copied;
  std::thread copier([&, fd = sink.get()] { copied = stream->CopyTo(fd); });
  absl::SleepFor(absl::Milliseconds(20));
  std::string wire = DataFrame(1, Pattern(1000));
  SendAllOrFail(peer.fd.get(), absl::string_view(wire).substr(0, kFrameHeaderSize));
  absl::SleepFor(absl::Milliseconds(20));
  SendAllOrFail(peer.fd.get(), absl::string_view(wire).substr(kFrameHeaderSize, 10));
  absl::Time start = absl::Now();
  // The reader waits in the splice; the receive timeout wakes it to look.
  ASSERT_TRUE(peer.server->WaitDone(absl::Seconds(10)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(peer.server->error().code(), absl::StatusCode::kDeadlineExceeded)
      << peer.server->error();
  copier.join();
  ::shutdown(sink.get(), SHUT_WR);
  EXPECT_EQ(ReadToEnd(sink_reader.get()), Pattern(1000).substr(0, 10));
}

TEST(SpdySessionSplice, CopyFromAStreamClosedMeanwhileFails) {
  auto [a, b] = TcpPair();
  Session server(std::move(b), Session::Role::kServer);
  Session client(std::move(a), Session::Role::kClient);
  auto opened = client.Open({{"streamType", "data"}}, absl::Seconds(5));
  ASSERT_TRUE(opened.ok());
  ASSERT_TRUE((*opened)->Close().ok());
  auto [source_writer, source] = TcpPair();
  SendAllOrFail(source_writer.get(), "late");
  EXPECT_EQ((*opened)->CopyFrom(source.get()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SpdySessionSplice, OnlyTcpIsSpliced) {
  EXPECT_FALSE(spdy::Connect().server->splicing());
  auto [a, b] = TcpPair();
  Session spliced(std::move(a), Session::Role::kClient);
  EXPECT_TRUE(spliced.splicing());
  SpliceOptions off;
  off.enabled = false;
  Session copied(std::move(b), Session::Role::kServer, "", absl::InfiniteDuration(), off);
  EXPECT_FALSE(copied.splicing());
}

}  // namespace
}  // namespace ocid::streaming::spdy
