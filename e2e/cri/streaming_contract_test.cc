// Streaming beyond critest's specs (not in specs.txt): exit codes, stdin,
// terminal size, attaching to output, the end of a session a client drops,
// concurrent sessions, and the errors of bad requests.
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e/cri/streaming_support.h"

namespace ocid::e2e {
namespace {

class StreamingContract : public StreamingTest {
 protected:
  void SetUp() override {
    StreamingTest::SetUp();
    if (HasFatalFailure()) return;
    OCID_ASSERT_OK_AND_ASSIGN(pod_, RunDefaultPod("streaming-contract-"));
    OCID_ASSERT_OK_AND_ASSIGN(container_, CreateDefaultContainer(pod_, "streaming-"));
    OCID_ASSERT_OK(StartContainer(container_));
  }

  absl::StatusOr<std::string> Exec(std::vector<std::string> cmd, bool tty, bool stdin) {
    v1::ExecRequest request;
    request.set_container_id(container_);
    for (const std::string& arg : cmd) request.add_cmd(arg);
    request.set_tty(tty);
    request.set_stdin(stdin);
    request.set_stdout(true);
    request.set_stderr(!tty);
    return ExecUrl(request);
  }

  Pod pod_;
  std::string container_;
};

TEST_F(StreamingContract, ExitCodesAndSeparateStreams) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string url,
                            Exec({"sh", "-c", "echo out; echo err >&2; exit 3"}, false, false));
  OCID_ASSERT_OK_AND_ASSIGN(Session session, Run(url));
  EXPECT_EQ(session.result.exit_code, 3);
  EXPECT_EQ(session.result.failure, "");
  EXPECT_EQ(session.out, "out\n");
  EXPECT_EQ(session.err, "err\n");

  OCID_ASSERT_OK_AND_ASSIGN(url, Exec({"true"}, false, false));
  OCID_ASSERT_OK_AND_ASSIGN(session, Run(url));
  EXPECT_EQ(session.result.exit_code, 0);
}

TEST_F(StreamingContract, StdinReachesTheCommandAndItsEndIsEof) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string url, Exec({"cat"}, false, true));
  streaming::RemoteCommandIo io;
  io.stdin_data = std::string(100000, 'x') + "end";
  OCID_ASSERT_OK_AND_ASSIGN(Session session, Run(url, io));
  EXPECT_EQ(session.out, *io.stdin_data);
  EXPECT_EQ(session.result.exit_code, 0);
}

TEST_F(StreamingContract, TerminalResizeReachesTheCommand) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string url, Exec({"sh", "-c", "sleep 1; stty size"}, true, true));
  streaming::RemoteCommandIo io;
  io.tty = true;
  io.stdin_data = "";
  io.sizes = {{100, 30}};
  OCID_ASSERT_OK_AND_ASSIGN(Session session, Run(url, io));
  EXPECT_TRUE(absl::StrContains(session.out, "30 100")) << "stty size printed: " << session.out;
}

TEST_F(StreamingContract, OlderProtocolVersionsWork) {
  for (const char* protocol : {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"}) {
    OCID_ASSERT_OK_AND_ASSIGN(std::string url, Exec({"echo", "hi"}, false, false));
    streaming::RemoteCommandIo io;
    io.protocols = {protocol};
    OCID_ASSERT_OK_AND_ASSIGN(Session session, Run(url, io));
    EXPECT_EQ(session.result.protocol, protocol);
    EXPECT_EQ(session.out, "hi\n") << protocol;
  }
}

// kubectl and crictl >= 1.30 prefer WebSocket: v5.channel.k8s.io, whose
// close signal ends stdin.
TEST_F(StreamingContract, ExecOverWebSocket) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string url,
                            Exec({"sh", "-c", "cat; echo err >&2; exit 5"}, false, true));
  streaming::RemoteCommandIo io;
  io.websocket = true;
  io.stdin_data = std::string(50000, 'w') + "end\n";
  OCID_ASSERT_OK_AND_ASSIGN(Session session, Run(url, io));
  EXPECT_EQ(session.result.protocol, "v5.channel.k8s.io");
  EXPECT_EQ(session.out, *io.stdin_data);
  EXPECT_EQ(session.err, "err\n");
  EXPECT_EQ(session.result.exit_code, 5);
  EXPECT_EQ(session.result.failure, "");

  OCID_ASSERT_OK_AND_ASSIGN(url, Exec({"sh", "-c", "sleep 1; stty size"}, true, true));
  streaming::RemoteCommandIo tty;
  tty.websocket = true;
  tty.tty = true;
  tty.stdin_data = "";
  tty.sizes = {{90, 25}};
  OCID_ASSERT_OK_AND_ASSIGN(session, Run(url, tty));
  EXPECT_TRUE(absl::StrContains(session.out, "25 90")) << "stty size printed: " << session.out;
  EXPECT_EQ(session.result.exit_code, 0);
}

TEST_F(StreamingContract, PortForwardOverWebSocket) {
  v1::ContainerConfig config = DefaultContainerConfig("httpd-");
  config.clear_command();
  for (const char* arg : {"sh", "-c",
                          "mkdir -p /tmp/www && echo served-over-ws > /tmp/www/index.html && "
                          "exec httpd -f -p 8080 -h /tmp/www"}) {
    config.add_command(arg);
  }
  OCID_ASSERT_OK_AND_ASSIGN(std::string httpd, CreateContainer(pod_, config));
  OCID_ASSERT_OK(StartContainer(httpd));
  std::string response;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!absl::StrContains(response, "served-over-ws") && absl::Now() < deadline) {
    OCID_ASSERT_OK_AND_ASSIGN(std::string url, PortForwardUrl(pod_.id));
    OCID_ASSERT_OK_AND_ASSIGN(std::unique_ptr<streaming::WebSocketPortForward> forward,
                              streaming::WebSocketPortForward::Dial(url, {8080}));
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    UniqueFd ours(pair[0]), theirs(pair[1]);
    absl::Status copied;
    std::thread copy([&] { copied = forward->Copy({theirs.get()}); });
    std::string get = "GET /index.html HTTP/1.0\r\n\r\n";
    ASSERT_EQ(::write(ours.get(), get.data(), get.size()), static_cast<ssize_t>(get.size()));
    // httpd answers and closes: the session ends and so does our side.
    response.clear();
    char buf[4096];
    for (ssize_t n; (n = ::read(ours.get(), buf, sizeof(buf))) > 0;) {
      response.append(buf, static_cast<size_t>(n));
    }
    copy.join();
    if (!absl::StrContains(response, "served-over-ws")) {
      absl::SleepFor(absl::Milliseconds(300));  // httpd not listening yet
    } else {
      EXPECT_TRUE(copied.ok()) << copied;
    }
  }
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_TRUE(absl::StrContains(response, "served-over-ws")) << response;
}

TEST_F(StreamingContract, AttachSeesWhatTheContainerPrints) {
  v1::ContainerConfig config = DefaultContainerConfig("printer-");
  config.clear_command();
  for (const char* arg : {"sh", "-c", "while true; do echo tick; sleep 0.2; done"}) {
    config.add_command(arg);
  }
  OCID_ASSERT_OK_AND_ASSIGN(std::string printer, CreateContainer(pod_, config));
  OCID_ASSERT_OK(StartContainer(printer));
  v1::AttachRequest request;
  request.set_container_id(printer);
  request.set_stdout(true);
  request.set_stderr(true);
  OCID_ASSERT_OK_AND_ASSIGN(std::string url, AttachUrl(request));
  // Two attachers at once, each sees the output.
  OCID_ASSERT_OK_AND_ASSIGN(std::string second_url, AttachUrl(request));
  for (const std::string& u : {url, second_url}) {
    OCID_ASSERT_OK_AND_ASSIGN(streaming::Upgraded up,
                              streaming::DialStreaming(u, {"v4.channel.k8s.io"}));
    ASSERT_TRUE(up.session->Open({{"streamType", "error"}}, absl::Seconds(10)).ok());
    absl::StatusOr<std::shared_ptr<streaming::spdy::Stream>> out =
        up.session->Open({{"streamType", "stdout"}}, absl::Seconds(10));
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE(up.session->Open({{"streamType", "stderr"}}, absl::Seconds(10)).ok());
    std::string seen;
    while (!absl::StrContains(seen, "tick") && seen.size() < 4096) {
      std::string part = (*out)->Read();
      if (part.empty()) break;
      seen += part;
    }
    EXPECT_TRUE(absl::StrContains(seen, "tick")) << seen;
  }
  // Detaching leaves the container running.
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(printer));
  EXPECT_EQ(status.status().state(), v1::CONTAINER_RUNNING);
}

TEST_F(StreamingContract, ADroppedClientEndsItsCommand) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string url, Exec({"sleep", "7777"}, false, false));
  {
    OCID_ASSERT_OK_AND_ASSIGN(streaming::Upgraded up,
                              streaming::DialStreaming(url, {"v4.channel.k8s.io"}));
    for (const char* type : {"error", "stdout", "stderr"}) {
      ASSERT_TRUE(up.session->Open({{"streamType", type}}, absl::Seconds(10)).ok());
    }
    // The command runs while the client is there.
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    bool running = false;
    while (!running && absl::Now() < deadline) {
      OCID_ASSERT_OK_AND_ASSIGN(ExecResult ps, ExecSync(container_, {"ps", "-o", "args"}, 10));
      running = absl::StrContains(ps.stdout_text, "sleep 7777");
      if (!running) absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_TRUE(running);
  }  // the connection drops here
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  bool gone = false;
  while (!gone && absl::Now() < deadline) {
    OCID_ASSERT_OK_AND_ASSIGN(ExecResult ps, ExecSync(container_, {"ps", "-o", "args"}, 10));
    gone = !absl::StrContains(ps.stdout_text, "sleep 7777");
    if (!gone) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(gone) << "the exec'd command outlived its client";
}

TEST_F(StreamingContract, ConcurrentExecSessions) {
  constexpr int kSessions = 20;
  std::vector<std::string> urls;
  for (int i = 0; i < kSessions; ++i) {
    OCID_ASSERT_OK_AND_ASSIGN(std::string url,
                              Exec({"sh", "-c", absl::StrCat("echo ", i, "; exit ", i % 4)},
                                   false, false));
    urls.push_back(url);
  }
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < kSessions; ++i) {
    clients.emplace_back([&, i] {
      std::string out;
      streaming::RemoteCommandIo io;
      io.on_stdout = [&](absl::string_view d) { absl::StrAppend(&out, d); };
      absl::StatusOr<streaming::RemoteCommandResult> r =
          streaming::RunRemoteCommand(urls[i], io);
      if (r.ok() && r->exit_code == i % 4 && out == absl::StrCat(i, "\n")) ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good, kSessions);
}

TEST_F(StreamingContract, BadRequestsNameTheProblem) {
  v1::ExecRequest exec;
  exec.set_container_id(container_);
  exec.set_stdout(true);
  EXPECT_EQ(ExecUrl(exec).status().message(), "cmd is empty");
  exec.add_cmd("true");
  exec.set_tty(true);
  exec.set_stderr(true);
  EXPECT_TRUE(absl::IsInvalidArgument(ExecUrl(exec).status()));
  exec.set_tty(false);
  exec.set_container_id("no-such-container");
  EXPECT_TRUE(absl::IsNotFound(ExecUrl(exec).status()));

  // A created container does not run yet.
  OCID_ASSERT_OK_AND_ASSIGN(std::string created, CreateDefaultContainer(pod_, "created-"));
  exec.set_container_id(created);
  EXPECT_TRUE(absl::IsFailedPrecondition(ExecUrl(exec).status()));
  v1::AttachRequest attach;
  attach.set_container_id(created);
  attach.set_stdout(true);
  EXPECT_TRUE(absl::IsFailedPrecondition(AttachUrl(attach).status()));

  v1::PortForwardRequest forward;
  forward.set_pod_sandbox_id(pod_.id);
  forward.add_port(70000);
  v1::PortForwardResponse response;
  absl::Status bad_port = Call(&v1::RuntimeService::Stub::PortForward, forward, &response);
  EXPECT_TRUE(absl::IsInvalidArgument(bad_port));
  EXPECT_TRUE(absl::StrContains(bad_port.message(), "port[0]")) << bad_port;
  EXPECT_TRUE(absl::IsNotFound(PortForwardUrl("no-such-pod").status()));

  // A URL is good once.
  exec.set_container_id(container_);
  OCID_ASSERT_OK_AND_ASSIGN(std::string url, ExecUrl(exec));
  OCID_ASSERT_OK_AND_ASSIGN(Session first, Run(url));
  EXPECT_EQ(first.result.exit_code, 0);
  EXPECT_TRUE(absl::IsNotFound(streaming::RunRemoteCommand(url, {}).status()));
}

}  // namespace
}  // namespace ocid::e2e
