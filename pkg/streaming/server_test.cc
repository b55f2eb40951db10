#include "pkg/streaming/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pkg/streaming/client.h"

namespace ocid::streaming {
namespace {

// Plays a command from its argv:
//   print OUT ERR CODE   writes OUT and ERR, exits with CODE
//   cat                  echoes its input until the input ends
//   size                 waits for a resize, prints "W H"
//   wait                 runs until cancelled
class FakeChannel : public Channel {
 public:
  FakeChannel(std::vector<std::string> cmd, std::atomic<int>* cancels)
      : cmd_(std::move(cmd)), cancels_(cancels) {
    if (cmd_[0] == "print") {
      if (!cmd_[1].empty()) out_.push_back({OutputKind::kStdout, cmd_[1]});
      if (!cmd_[2].empty()) out_.push_back({OutputKind::kStderr, cmd_[2]});
      absl::SimpleAtoi(cmd_[3], &exit_code_);
      ended_ = true;
    }
  }

  absl::StatusOr<Output> ReadOutput() override {
    absl::MutexLock lock(&mu_, absl::Condition(
                                   +[](FakeChannel* c) {
                                     return !c->out_.empty() || c->ended_ || c->cancelled_;
                                   },
                                   this));
    if (out_.empty()) return Output{};
    Output next = std::move(out_.front());
    out_.pop_front();
    return next;
  }
  absl::Status WriteInput(absl::string_view data) override {
    absl::MutexLock lock(&mu_);
    if (cmd_[0] == "cat") out_.push_back({OutputKind::kStdout, std::string(data)});
    return absl::OkStatus();
  }
  void CloseInput() override {
    absl::MutexLock lock(&mu_);
    if (cmd_[0] == "cat") ended_ = true;
  }
  absl::Status Resize(uint16_t width, uint16_t height) override {
    absl::MutexLock lock(&mu_);
    if (cmd_[0] == "size" && !ended_) {
      out_.push_back({OutputKind::kStdout, absl::StrCat(width, " ", height)});
      ended_ = true;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<int>> Wait() override {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return std::optional<int>(137);
    return std::optional<int>(exit_code_);
  }
  void Cancel() override {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) ++*cancels_;
    cancelled_ = true;
  }

 private:
  std::vector<std::string> cmd_;
  std::atomic<int>* cancels_;
  absl::Mutex mu_;
  std::deque<Output> out_;
  bool ended_ = false;
  bool cancelled_ = false;
  int exit_code_ = 0;
};

// Listens on loopback and echoes one connection's bytes upper-cased.
class EchoServer {
 public:
  EchoServer() {
    fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_.get(), 8), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) return;
      char buf[4096];
      ssize_t n;
      while ((n = ::read(conn.get(), buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; ++i) buf[i] = static_cast<char>(toupper(buf[i]));
        if (::write(conn.get(), buf, static_cast<size_t>(n)) != n) break;
      }
    });
  }
  ~EchoServer() {
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
  std::thread thread_;
};

class FakeBackend : public Backend {
 public:
  absl::StatusOr<std::unique_ptr<Channel>> Exec(const ExecRequest& request,
                                                TerminalSize size) override {
    last_size = size;
    if (request.container_id == "stopped") {
      return absl::FailedPreconditionError("container stopped is not running");
    }
    return std::unique_ptr<Channel>(new FakeChannel(request.cmd, &cancels));
  }
  absl::StatusOr<std::unique_ptr<Channel>> Attach(const AttachRequest&) override {
    return std::unique_ptr<Channel>(new FakeChannel({"cat"}, &cancels));
  }
  absl::StatusOr<UniqueFd> DialPod(const std::string& pod_id, int32_t port) override {
    if (pod_id != "pod") return absl::NotFoundError("no pod " + pod_id);
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      return absl::ErrnoToStatus(errno, "connect");
    }
    return fd;
  }
  std::atomic<int> cancels{0};
  TerminalSize last_size;  // of the last Exec
};

class StreamingServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.token_ttl = absl::Seconds(2);
    options.stream_creation_timeout = absl::Seconds(2);
    auto started = Server::Start(options, &backend_);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  std::string Exec(std::vector<std::string> cmd, bool tty = false, bool stdin = false) {
    ExecRequest r;
    r.container_id = "c1";
    r.cmd = std::move(cmd);
    r.tty = tty;
    r.stdin = stdin;
    r.stdout = true;
    r.stderr = !tty;
    return server_->ExecUrl(r);
  }

  struct Run {
    RemoteCommandResult result;
    std::string out, err;
  };
  Run RunIt(const std::string& url, RemoteCommandIo io = {}) {
    Run run;
    io.on_stdout = [&](absl::string_view d) { absl::StrAppend(&run.out, d); };
    io.on_stderr = [&](absl::string_view d) { absl::StrAppend(&run.err, d); };
    absl::StatusOr<RemoteCommandResult> result = RunRemoteCommand(url, io);
    EXPECT_TRUE(result.ok()) << result.status();
    if (result.ok()) run.result = *result;
    return run;
  }

  FakeBackend backend_;
  std::unique_ptr<Server> server_;
};

TEST_F(StreamingServerTest, ExecUrlPointsAtTheServer) {
  std::string url = Exec({"print", "", "", "0"});
  EXPECT_TRUE(absl::StartsWith(url, absl::StrCat("http://127.0.0.1:", server_->port(), "/exec/")))
      << url;
  EXPECT_EQ(url.size(), absl::StrCat("http://127.0.0.1:", server_->port(), "/exec/").size() + 64);
}

TEST_F(StreamingServerTest, ExecSeparatesStdoutAndStderrAndReportsSuccess) {
  Run run = RunIt(Exec({"print", "hello\n", "oops\n", "0"}));
  EXPECT_EQ(run.result.protocol, "v5.channel.k8s.io");
  EXPECT_EQ(run.out, "hello\n");
  EXPECT_EQ(run.err, "oops\n");
  EXPECT_EQ(run.result.exit_code, 0);
  EXPECT_EQ(run.result.failure, "");
}

TEST_F(StreamingServerTest, NonZeroExitCodeTravelsAsTheExitCodeCause) {
  Run run = RunIt(Exec({"print", "", "", "3"}));
  EXPECT_EQ(run.result.exit_code, 3);
  EXPECT_EQ(run.result.failure, "");
}

TEST_F(StreamingServerTest, OlderProtocolsStillWork) {
  RemoteCommandIo io;
  io.protocols = {"v2.channel.k8s.io"};
  Run run = RunIt(Exec({"print", "x", "", "3"}), io);
  EXPECT_EQ(run.result.protocol, "v2.channel.k8s.io");
  EXPECT_EQ(run.out, "x");
  EXPECT_NE(run.result.failure.find("non-zero exit code"), std::string::npos)
      << run.result.failure;
}

TEST_F(StreamingServerTest, StdinReachesTheCommandAndItsEndEndsIt) {
  RemoteCommandIo io;
  io.stdin_data = "echo me";
  Run run = RunIt(Exec({"cat"}, false, true), io);
  EXPECT_EQ(run.out, "echo me");
  EXPECT_EQ(run.result.exit_code, 0);
}

TEST_F(StreamingServerTest, TtyResizeEventsReachTheChannel) {
  RemoteCommandIo io;
  io.tty = true;
  io.sizes = {{120, 40}};
  Run run = RunIt(Exec({"size"}, true, false), io);
  EXPECT_EQ(run.out, "120 40");
}

TEST_F(StreamingServerTest, TheFirstSizeIsThereBeforeTheCommandStarts) {
  RemoteCommandIo io;
  io.tty = true;
  io.sizes = {{132, 43}, {80, 25}};
  Run run = RunIt(Exec({"size"}, true, false), io);
  EXPECT_EQ(backend_.last_size.width, 132);
  EXPECT_EQ(backend_.last_size.height, 43);
  // And the channel was resized to it (the fake prints its first resize).
  EXPECT_EQ(run.out, "132 43");
}

TEST_F(StreamingServerTest, LaterResizesComeFromTheWatcher) {
  RemoteCommandIo io;
  io.tty = true;
  io.watch_resizes = [](std::function<void(uint16_t, uint16_t)> send) { send(50, 10); };
  Run run = RunIt(Exec({"size"}, true, false), io);
  EXPECT_EQ(run.out, "50 10");
}

TEST_F(StreamingServerTest, AttachCarriesInput) {
  AttachRequest r;
  r.container_id = "c1";
  r.stdin = r.stdout = r.stderr = true;
  RemoteCommandIo io;
  io.stdin_data = "typed";
  Run run = RunIt(server_->AttachUrl(r), io);
  EXPECT_EQ(run.out, "typed");
}

TEST_F(StreamingServerTest, BackendRefusalIsTheSessionsFailure) {
  ExecRequest r;
  r.container_id = "stopped";
  r.cmd = {"true"};
  r.stdout = r.stderr = true;
  Run run = RunIt(server_->ExecUrl(r));
  EXPECT_NE(run.result.failure.find("not running"), std::string::npos) << run.result.failure;
}

TEST_F(StreamingServerTest, TokensAreSingleUseAndUnknownOnesAre404) {
  std::string url = Exec({"print", "", "", "0"});
  RunIt(url);
  absl::StatusOr<RemoteCommandResult> again = RunRemoteCommand(url, {});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kNotFound) << again.status();
  std::string made_up = absl::StrCat("http://127.0.0.1:", server_->port(), "/exec/",
                                     std::string(64, 'a'));
  EXPECT_EQ(RunRemoteCommand(made_up, {}).status().code(), absl::StatusCode::kNotFound);
  std::string wrong_kind = absl::StrCat("http://127.0.0.1:", server_->port(), "/nope/x");
  EXPECT_EQ(RunRemoteCommand(wrong_kind, {}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StreamingServerTest, ExpiredTokensAre404) {
  std::string url = Exec({"print", "", "", "0"});
  absl::SleepFor(absl::Milliseconds(2100));
  EXPECT_EQ(RunRemoteCommand(url, {}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StreamingServerTest, NoCommonProtocolIsRefused) {
  RemoteCommandIo io;
  io.protocols = {"v9.channel.k8s.io"};
  absl::StatusOr<RemoteCommandResult> r = RunRemoteCommand(Exec({"print", "", "", "0"}), io);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("403"), std::string::npos) << r.status();
}

TEST_F(StreamingServerTest, ClientGoingAwayCancelsTheCommand) {
  absl::StatusOr<Upgraded> up = DialStreaming(Exec({"wait"}), {"v4.channel.k8s.io"});
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE(up->session->Open({{"streamType", "error"}}, absl::Seconds(5)).ok());
  ASSERT_TRUE(up->session->Open({{"streamType", "stdout"}}, absl::Seconds(5)).ok());
  ASSERT_TRUE(up->session->Open({{"streamType", "stderr"}}, absl::Seconds(5)).ok());
  absl::SleepFor(absl::Milliseconds(100));
  up->session.reset();  // drops the connection
  for (int i = 0; i < 200 && backend_.cancels == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(backend_.cancels, 1);
}

TEST_F(StreamingServerTest, AnUnknownStreamTypeEndsOnlyThatSession) {
  absl::StatusOr<Upgraded> up = DialStreaming(Exec({"print", "", "", "0"}), {"v4.channel.k8s.io"});
  ASSERT_TRUE(up.ok());
  up->session->Open({{"streamType", "bogus"}}, absl::Seconds(5)).IgnoreError();
  EXPECT_TRUE(up->session->WaitDone(absl::Seconds(5)));
  // The server still serves.
  EXPECT_EQ(RunIt(Exec({"print", "ok", "", "0"})).out, "ok");
}

TEST_F(StreamingServerTest, GarbageInsteadOfFramesEndsOnlyThatConnection) {
  absl::StatusOr<Upgraded> up = DialStreaming(Exec({"print", "", "", "0"}), {"v4.channel.k8s.io"});
  ASSERT_TRUE(up.ok());
  up->session.reset();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(server_->port()));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  std::string junk = "\x16\x03\x01 not http at all\r\n\r\n";
  ASSERT_GT(::write(fd, junk.data(), junk.size()), 0);
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  EXPECT_GT(n, 0);
  EXPECT_EQ(std::string(buf, std::max<ssize_t>(n, 0)).substr(0, 12), "HTTP/1.1 400");
  EXPECT_EQ(RunIt(Exec({"print", "still", "", "0"})).out, "still");
}

// One forwarded connection echoed through, then one to a closed port.
void ExpectForwardsAndReportsDialErrors(absl::StatusOr<std::unique_ptr<PortForwarder>> pf,
                                        const EchoServer& echo) {
  ASSERT_TRUE(pf.ok()) << pf.status();
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  UniqueFd ours(pair[0]);
  std::thread forward([&, local = pair[1]] {
    EXPECT_TRUE((*pf)->Forward(local, echo.port()).ok());
    ::close(local);
  });
  ASSERT_EQ(::write(ours.get(), "ping", 4), 4);
  char buf[16];
  ASSERT_EQ(::read(ours.get(), buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "PING");
  ::shutdown(ours.get(), SHUT_WR);
  EXPECT_EQ(::read(ours.get(), buf, sizeof(buf)), 0);  // the pod side closed
  forward.join();

  // Nothing listens on port 1: the error stream says so.
  int pair2[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair2), 0);
  UniqueFd ours2(pair2[0]);
  absl::Status failed = (*pf)->Forward(pair2[1], 1);
  ::close(pair2[1]);
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("error forwarding port 1"), std::string::npos) << failed;
}

TEST_F(StreamingServerTest, PortForwardCopiesBothWaysAndReportsDialErrors) {
  EchoServer echo;
  PortForwardRequest r;
  r.pod_id = "pod";
  ExpectForwardsAndReportsDialErrors(PortForwarder::Dial(server_->PortForwardUrl(r)), echo);
}

// Each forwarded connection exchanges a few small frames (two streams
// opened, their FINs, the error's text): with Nagle's algorithm on either
// side one of them waits for a delayed ACK, 40 ms a connection.
TEST_F(StreamingServerTest, ForwardedConnectionsDoNotWaitForDelayedAcks) {
  PortForwardRequest r;
  r.pod_id = "pod";
  absl::StatusOr<std::unique_ptr<PortForwarder>> pf =
      PortForwarder::Dial(server_->PortForwardUrl(r));
  ASSERT_TRUE(pf.ok()) << pf.status();
  std::vector<double> ms;
  for (int i = 0; i < 9; ++i) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    UniqueFd ours(pair[0]), local(pair[1]);
    absl::Time start = absl::Now();
    EXPECT_FALSE((*pf)->Forward(local.get(), 1).ok());  // nothing listens on port 1
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  // A forward that waits for the peer's delayed ACK waits at least its 40 ms
  // minimum, every time; without that wait a forward takes about 3 ms. The
  // fastest of 9 tells the two apart however busy the machine is.
  std::sort(ms.begin(), ms.end());
  EXPECT_LT(ms.front(), 35) << "fastest of " << ms.size() << " forwards, ms";
}

TEST_F(StreamingServerTest, PortForwardOverTheWebSocketTunnel) {
  EchoServer echo;
  PortForwardRequest r;
  r.pod_id = "pod";
  ExpectForwardsAndReportsDialErrors(PortForwarder::DialWebSocket(server_->PortForwardUrl(r)),
                                     echo);
}

TEST_F(StreamingServerTest, TheTunnelIsOnlyForPortForward) {
  absl::StatusOr<WebSocketUpgraded> refused =
      DialWebSocket(Exec({"print", "x", "", "0"}), {kPortForwardTunnelProtocol});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("not supported"), std::string::npos)
      << refused.status();
}

TEST_F(StreamingServerTest, HundredConcurrentExecSessions) {
  for (bool websocket : {false, true}) {
    SCOPED_TRACE(websocket ? "WebSocket" : "SPDY");
    std::vector<std::thread> clients;
    std::atomic<int> good{0};
    for (int i = 0; i < 100; ++i) {
      std::string url = Exec({"print", absl::StrCat("n", i), "", absl::StrCat(i % 5)});
      clients.emplace_back([&, url, i] {
        std::string out;
        RemoteCommandIo io;
        io.websocket = websocket;
        io.on_stdout = [&](absl::string_view d) { absl::StrAppend(&out, d); };
        absl::StatusOr<RemoteCommandResult> r = RunRemoteCommand(url, io);
        if (r.ok() && r->exit_code == i % 5 && out == absl::StrCat("n", i)) ++good;
      });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(good, 100);
    for (int i = 0; i < 100 && server_->ActiveSessions() > 0; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(server_->ActiveSessions(), 0u);
  }
}

// WebSocket, as kubectl and crictl >= 1.30 speak it.

TEST_F(StreamingServerTest, WebSocketExecSeparatesStreamsAndReportsTheExitCode) {
  RemoteCommandIo io;
  io.websocket = true;
  Run run = RunIt(Exec({"print", "hello\n", "oops\n", "3"}), io);
  EXPECT_EQ(run.result.protocol, "v5.channel.k8s.io");
  EXPECT_EQ(run.out, "hello\n");
  EXPECT_EQ(run.err, "oops\n");
  EXPECT_EQ(run.result.exit_code, 3);
  EXPECT_EQ(run.result.failure, "");
  run = RunIt(Exec({"print", "fine", "", "0"}), io);
  EXPECT_EQ(run.out, "fine");
  EXPECT_EQ(run.result.exit_code, 0);
}

TEST_F(StreamingServerTest, WebSocketV4AndNoSubprotocolWork) {
  RemoteCommandIo io;
  io.websocket = true;
  io.websocket_protocols = {"v4.channel.k8s.io"};
  Run run = RunIt(Exec({"print", "x", "", "2"}), io);
  EXPECT_EQ(run.result.protocol, "v4.channel.k8s.io");
  EXPECT_EQ(run.out, "x");
  EXPECT_EQ(run.result.exit_code, 2);
  // No subprotocol: channel.k8s.io's meaning, the failure as text.
  io.websocket_protocols = {};
  run = RunIt(Exec({"print", "y", "", "2"}), io);
  EXPECT_EQ(run.result.protocol, "");
  EXPECT_EQ(run.out, "y");
  EXPECT_NE(run.result.failure.find("non-zero exit code: 2"), std::string::npos)
      << run.result.failure;
}

TEST_F(StreamingServerTest, WebSocketBase64FormsCarryStreamsAndStatus) {
  RemoteCommandIo io;
  io.websocket = true;
  io.websocket_protocols = {"v4.base64.channel.k8s.io"};
  // Bytes that are not text survive the base64 round trip.
  std::string binary("\x00\xff\x80 bytes", 9);
  Run run = RunIt(Exec({"print", binary, "oops", "4"}), io);
  EXPECT_EQ(run.result.protocol, "v4.base64.channel.k8s.io");
  EXPECT_EQ(run.out, binary);
  EXPECT_EQ(run.err, "oops");
  EXPECT_EQ(run.result.exit_code, 4);  // v4: the status as JSON
  // The client's messages decoded too: a terminal size.
  io.tty = true;
  io.sizes = {{120, 40}};
  run = RunIt(Exec({"size"}, true, false), io);
  EXPECT_EQ(run.out, "120 40");
  // The old form: the failure as text.
  io = RemoteCommandIo();
  io.websocket = true;
  io.websocket_protocols = {"base64.channel.k8s.io"};
  run = RunIt(Exec({"print", "y", "", "2"}), io);
  EXPECT_EQ(run.result.protocol, "base64.channel.k8s.io");
  EXPECT_EQ(run.out, "y");
  EXPECT_NE(run.result.failure.find("non-zero exit code: 2"), std::string::npos)
      << run.result.failure;
}

TEST_F(StreamingServerTest, WebSocketStdinEndsWithTheV5CloseSignal) {
  RemoteCommandIo io;
  io.websocket = true;
  io.stdin_data = std::string(100000, 'i') + "end";
  Run run = RunIt(Exec({"cat"}, false, true), io);
  EXPECT_EQ(run.out, *io.stdin_data);
  EXPECT_EQ(run.result.exit_code, 0);
}

TEST_F(StreamingServerTest, WebSocketResizeReachesTheChannel) {
  RemoteCommandIo io;
  io.websocket = true;
  io.tty = true;
  io.sizes = {{132, 43}};
  Run run = RunIt(Exec({"size"}, true, false), io);
  EXPECT_EQ(run.out, "132 43");
}

TEST_F(StreamingServerTest, WebSocketResizesFromTheWatchHookReachTheChannel) {
  RemoteCommandIo io;
  io.websocket = true;
  io.tty = true;
  io.watch_resizes = [](std::function<void(uint16_t, uint16_t)> send) { send(77, 11); };
  Run run = RunIt(Exec({"size"}, true, false), io);
  EXPECT_EQ(run.out, "77 11");
}

TEST_F(StreamingServerTest, WebSocketAttachAndBackendRefusal) {
  AttachRequest a;
  a.container_id = "c1";
  a.stdin = a.stdout = a.stderr = true;
  RemoteCommandIo io;
  io.websocket = true;
  io.stdin_data = "typed";
  EXPECT_EQ(RunIt(server_->AttachUrl(a), io).out, "typed");
  ExecRequest r;
  r.container_id = "stopped";
  r.cmd = {"true"};
  r.stdout = r.stderr = true;
  Run run = RunIt(server_->ExecUrl(r), io);
  EXPECT_NE(run.result.failure.find("not running"), std::string::npos) << run.result.failure;
}

TEST_F(StreamingServerTest, WebSocketTokensAreSingleUseAndUnknownOnesAre404) {
  RemoteCommandIo io;
  io.websocket = true;
  std::string url = Exec({"print", "", "", "0"});
  RunIt(url, io);
  EXPECT_EQ(RunRemoteCommand(url, io).status().code(), absl::StatusCode::kNotFound);
  std::string made_up =
      absl::StrCat("http://127.0.0.1:", server_->port(), "/exec/", std::string(64, 'b'));
  EXPECT_EQ(RunRemoteCommand(made_up, io).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StreamingServerTest, WebSocketWithNoCommonSubprotocolIsRefused) {
  absl::StatusOr<WebSocketUpgraded> up =
      DialWebSocket(Exec({"print", "", "", "0"}), {"v3.channel.k8s.io", "v9.channel.k8s.io"});
  EXPECT_EQ(up.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(up.status().message().find("403"), std::string::npos) << up.status();
}

TEST_F(StreamingServerTest, WebSocketSendsTheGreetingAndAnswersPings) {
  absl::StatusOr<WebSocketUpgraded> up = DialWebSocket(Exec({"wait"}), {"v5.channel.k8s.io"});
  ASSERT_TRUE(up.ok()) << up.status();
  std::optional<ws::Message> first = up->connection->Receive();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->data, std::string(1, '\1'));  // empty, on stdout
  ASSERT_TRUE(up->connection->Send(ws::Opcode::kPing, "hb").ok());
  // The session is still up: a pong does not end it, and the command runs
  // until we leave, which cancels it.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(up->connection->WaitDone(absl::ZeroDuration()));
  EXPECT_EQ(backend_.cancels, 0);
  up->connection.reset();
  for (int i = 0; i < 200 && backend_.cancels == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(backend_.cancels, 1);
}

TEST_F(StreamingServerTest, WebSocketUpgradeErrors) {
  std::string url = Exec({"print", "", "", "0"});
  std::string path = url.substr(url.find("/exec/"));
  auto ask = [&](const std::string& head) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(server_->port()));
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_GT(::write(fd, head.data(), head.size()), 0);
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ::close(fd);
    return std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))).substr(0, 12);
  };
  EXPECT_EQ(ask("GET " + path +
                " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
            "HTTP/1.1 426");
  url = Exec({"print", "", "", "0"});
  path = url.substr(url.find("/exec/"));
  EXPECT_EQ(ask("GET " + path +
                " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n"),
            "HTTP/1.1 400");
  url = Exec({"print", "", "", "0"});
  path = url.substr(url.find("/exec/"));
  EXPECT_EQ(ask("POST " + path +
                " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Content-Length: 0\r\n\r\n"),
            "HTTP/1.1 400");
}

std::string PortBytes(int port) {
  return {static_cast<char>(port & 0xff), static_cast<char>(port >> 8)};
}

TEST_F(StreamingServerTest, WebSocketPortForwardCopiesAndNamesThePortFirst) {
  EchoServer echo;
  PortForwardRequest r;
  r.pod_id = "pod";
  // The CRI request named no port: kubelet's query parameter does, with one
  // that nothing listens on.
  absl::StatusOr<WebSocketUpgraded> up =
      DialWebSocket(server_->PortForwardUrl(r) + absl::StrCat("?port=", echo.port(), ",1"),
                    {"v4.channel.k8s.io"});
  ASSERT_TRUE(up.ok()) << up.status();
  ws::Connection& c = *up->connection;
  std::map<int, std::string> got;
  auto take = [&] {
    std::optional<ws::Message> m = c.Receive();
    if (!m.has_value() || m->data.empty()) return false;
    got[static_cast<uint8_t>(m->data[0])] += m->data.substr(1);
    return true;
  };
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(take());
  for (int channel : {0, 1}) EXPECT_EQ(got[channel], PortBytes(echo.port())) << channel;
  EXPECT_EQ(got[2], PortBytes(1));
  EXPECT_EQ(got[3].substr(0, 2), PortBytes(1));
  ASSERT_TRUE(c.SendBinary(std::string(1, '\0') + "ping").ok());
  while (got[0].size() < 6 && take()) {
  }
  EXPECT_EQ(got[0].substr(2), "PING");
  while (got[3].find("error forwarding port 1") == std::string::npos && take()) {
  }
  EXPECT_NE(got[3].find("error forwarding port 1 to pod pod"), std::string::npos) << got[3];
}

TEST_F(StreamingServerTest, WebSocketPortForwardClientCopiesBothWays) {
  PortForwardRequest r;
  r.pod_id = "pod";
  // The binary channels and their base64 form.
  for (const char* protocol : {"v4.channel.k8s.io", "v4.base64.channel.k8s.io"}) {
    SCOPED_TRACE(protocol);
    EchoServer echo;
    absl::StatusOr<std::unique_ptr<WebSocketPortForward>> pf =
        WebSocketPortForward::Dial(server_->PortForwardUrl(r), {echo.port()}, {protocol});
    ASSERT_TRUE(pf.ok()) << pf.status();
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    UniqueFd ours(pair[0]), theirs(pair[1]);
    absl::Status copied;
    std::thread copy([&] { copied = (*pf)->Copy({theirs.get()}); });
    ASSERT_EQ(::write(ours.get(), "hello", 5), 5);
    char buf[16];
    ASSERT_EQ(::read(ours.get(), buf, 5), 5);
    EXPECT_EQ(std::string(buf, 5), "HELLO");
    (*pf)->Close();
    copy.join();
    EXPECT_TRUE(copied.ok()) << copied;
    EXPECT_EQ(::read(ours.get(), buf, sizeof(buf)), 0);  // the local side was ended
  }

  // A port nothing listens on: its error, and the session ends by itself.
  absl::StatusOr<std::unique_ptr<WebSocketPortForward>> pf =
      WebSocketPortForward::Dial(server_->PortForwardUrl(r), {1});
  ASSERT_TRUE(pf.ok()) << pf.status();
  int pair2[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair2), 0);
  UniqueFd ours2(pair2[0]), theirs2(pair2[1]);
  absl::Status failed = (*pf)->Copy({theirs2.get()});
  EXPECT_NE(failed.message().find("error forwarding port 1"), std::string::npos) << failed;
}

TEST_F(StreamingServerTest, WebSocketPortForwardWithNoPortIsRefused) {
  PortForwardRequest r;
  r.pod_id = "pod";
  absl::StatusOr<WebSocketUpgraded> up = DialWebSocket(server_->PortForwardUrl(r), {});
  EXPECT_EQ(up.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(up.status().message().find("400"), std::string::npos) << up.status();
}

// A self-signed certificate and its key, as PEM files under TEST_TMPDIR.
struct CertFiles {
  std::string cert, key;
};

CertFiles MakeSelfSigned() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x509 = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509), 3600);
  X509_set_pubkey(x509, key);
  X509_NAME* name = X509_get_subject_name(x509);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x509, name);
  X509_sign(x509, key, EVP_sha256());
  CertFiles files{absl::StrCat(getenv("TEST_TMPDIR"), "/stream.crt"),
                  absl::StrCat(getenv("TEST_TMPDIR"), "/stream.key")};
  FILE* f = fopen(files.cert.c_str(), "w");
  PEM_write_X509(f, x509);
  fclose(f);
  f = fopen(files.key.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  X509_free(x509);
  EVP_PKEY_free(key);
  return files;
}

TEST(StreamingTlsTest, SessionsRunOverTlsWithHttpsUrls) {
  CertFiles files = MakeSelfSigned();
  FakeBackend backend;
  ServerOptions options;
  options.tls_cert = files.cert;
  options.tls_key = files.key;
  auto server = Server::Start(options, &backend);
  ASSERT_TRUE(server.ok()) << server.status();
  ExecRequest r;
  r.container_id = "c1";
  r.cmd = {"print", "secret", "", "4"};
  r.stdout = r.stderr = true;
  std::string url = (*server)->ExecUrl(r);
  EXPECT_TRUE(absl::StartsWith(url, "https://127.0.0.1:")) << url;
  std::string out;
  RemoteCommandIo io;
  io.on_stdout = [&](absl::string_view d) { absl::StrAppend(&out, d); };
  absl::StatusOr<RemoteCommandResult> result = RunRemoteCommand(url, io);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(out, "secret");
  EXPECT_EQ(result->exit_code, 4);

  // WebSocket over the same TLS (wss), stdin ended by v5's close.
  ExecRequest cat;
  cat.container_id = "c1";
  cat.cmd = {"cat"};
  cat.stdin = cat.stdout = cat.stderr = true;
  std::string echoed;
  RemoteCommandIo wss;
  wss.websocket = true;
  wss.stdin_data = std::string(50000, 's');
  wss.on_stdout = [&](absl::string_view d) { absl::StrAppend(&echoed, d); };
  result = RunRemoteCommand((*server)->ExecUrl(cat), wss);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->protocol, "v5.channel.k8s.io");
  EXPECT_EQ(echoed, *wss.stdin_data);

  // Port-forward too, with more than one TLS record each way.
  EchoServer echo;
  PortForwardRequest pf;
  pf.pod_id = "pod";
  auto forwarder = PortForwarder::Dial((*server)->PortForwardUrl(pf));
  ASSERT_TRUE(forwarder.ok()) << forwarder.status();
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  UniqueFd ours(pair[0]);
  std::thread forward([&, local = pair[1]] {
    EXPECT_TRUE((*forwarder)->Forward(local, echo.port()).ok());
    ::close(local);
  });
  std::string sent(100000, 'a');
  std::thread writer([&] {
    ASSERT_EQ(::write(ours.get(), sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
    ::shutdown(ours.get(), SHUT_WR);
  });
  std::string back;
  char buf[8192];
  for (ssize_t n; (n = ::read(ours.get(), buf, sizeof(buf))) > 0;) back.append(buf, n);
  writer.join();
  forward.join();
  EXPECT_EQ(back, std::string(100000, 'A'));

  // A plain-HTTP client gets nowhere.
  std::string plain = url;
  plain.replace(0, 5, "http");
  EXPECT_FALSE(RunRemoteCommand(plain, {}).ok());
}

TEST(StreamingTlsTest, BadCertificatesAreNamed) {
  FakeBackend backend;
  ServerOptions options;
  options.tls_cert = "/nonexistent.crt";
  options.tls_key = "/nonexistent.key";
  auto server = Server::Start(options, &backend);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(server.status().message(), "/nonexistent.crt")) << server.status();
  options.tls_key = "";
  EXPECT_EQ(Server::Start(options, &backend).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ocid::streaming
