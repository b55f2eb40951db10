// Unmodified kubectl (client-go's WebSocket executor: v5.channel.k8s.io,
// pings, the close signal of stdin) against our server. kubectl speaks to
// an API server, so the test plays one, as small as kubectl needs: the
// discovery documents, one running pod, and for its exec upgrade what
// kubelet does, a streaming URL of ours that the connection is spliced to.
// Skipped where /usr/bin/kubectl is missing.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <list>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/base/subprocess.h"
#include "pkg/streaming/http_upgrade.h"
#include "pkg/streaming/server.h"
#include "pkg/streaming/websocket_tunnel.h"

namespace ocid::streaming {
namespace {

constexpr char kKubectl[] = "/usr/bin/kubectl";

// print OUT ERR CODE: writes OUT and ERR, exits with CODE; cat: echoes its
// input until the input ends.
class ScriptChannel : public Channel {
 public:
  explicit ScriptChannel(std::vector<std::string> cmd) : cmd_(std::move(cmd)) {
    if (cmd_.size() == 4 && cmd_[0] == "print") {
      out_.push_back({OutputKind::kStdout, cmd_[1]});
      out_.push_back({OutputKind::kStderr, cmd_[2]});
      absl::SimpleAtoi(cmd_[3], &exit_code_);
      ended_ = true;
    } else if (cmd_[0] != "cat") {
      ended_ = true;
      exit_code_ = 127;
    }
  }
  absl::StatusOr<Output> ReadOutput() override {
    absl::MutexLock lock(
        &mu_, absl::Condition(
                  +[](ScriptChannel* c) { return !c->out_.empty() || c->ended_; }, this));
    if (out_.empty()) return Output{};
    Output next = std::move(out_.front());
    out_.pop_front();
    return next;
  }
  absl::Status WriteInput(absl::string_view data) override {
    absl::MutexLock lock(&mu_);
    out_.push_back({OutputKind::kStdout, std::string(data)});
    return absl::OkStatus();
  }
  void CloseInput() override {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  absl::Status Resize(uint16_t, uint16_t) override { return absl::OkStatus(); }
  absl::StatusOr<std::optional<int>> Wait() override { return std::optional<int>(exit_code_); }
  void Cancel() override {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }

 private:
  std::vector<std::string> cmd_;
  absl::Mutex mu_;
  std::deque<Output> out_;
  bool ended_ = false;
  int exit_code_ = 0;
};

class ScriptBackend : public Backend {
 public:
  absl::StatusOr<std::unique_ptr<Channel>> Exec(const ExecRequest& request, TerminalSize) override {
    return std::unique_ptr<Channel>(new ScriptChannel(request.cmd));
  }
  absl::StatusOr<std::unique_ptr<Channel>> Attach(const AttachRequest&) override {
    return std::unique_ptr<Channel>(new ScriptChannel({"cat"}));
  }
  // The pod is this host: its ports are loopback's.
  absl::StatusOr<UniqueFd> DialPod(const std::string&, int32_t port) override {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("connect to port ", port));
    }
    return fd;
  }
};

std::string PercentDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    int hex = 0;
    if (in[i] == '%' && i + 2 < in.size() && absl::SimpleHexAtoi(in.substr(i + 1, 2), &hex)) {
      out.push_back(static_cast<char>(hex));
      i += 2;
    } else {
      out.push_back(in[i] == '+' ? ' ' : in[i]);
    }
  }
  return out;
}

UniqueFd Listen(int& port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(::listen(fd.get(), 16), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

UniqueFd Connect(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Copies `from` to `to` until `from` ends, then ends `to`'s writing side.
void Pipe(int from, int to) {
  char buf[32 << 10];
  for (;;) {
    ssize_t n = ::recv(from, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || !SendAll(to, absl::string_view(buf, static_cast<size_t>(n))).ok()) break;
  }
  ::shutdown(to, SHUT_WR);
}

class FakeApiServer {
 public:
  explicit FakeApiServer(Server* streaming) : streaming_(streaming) {
    listener_ = Listen(port_);
    acceptor_ = std::thread([this] {
      for (;;) {
        int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        absl::MutexLock lock(&mu_);
        threads_.emplace_back([this, fd] { Handle(UniqueFd(fd)); });
      }
    });
  }
  ~FakeApiServer() {
    ::shutdown(listener_.get(), SHUT_RDWR);
    acceptor_.join();
    absl::MutexLock lock(&mu_);
    for (std::thread& t : threads_) t.join();
  }
  int port() const { return port_; }
  std::vector<std::string> upgrades() {
    absl::MutexLock lock(&mu_);
    return upgrades_;
  }

 private:
  void Handle(UniqueFd fd) {
    absl::StatusOr<HttpRequest> request = ReadRequest(fd.get(), absl::Seconds(30));
    if (!request.ok()) return;
    std::string path = request->target.substr(0, request->target.find('?'));
    if (!HeaderValues(request->headers, "Upgrade").empty() &&
        (absl::EndsWith(path, "/pods/p/exec") || absl::EndsWith(path, "/pods/p/attach"))) {
      return Splice(std::move(fd), *request, absl::EndsWith(path, "/attach"));
    }
    if (!HeaderValues(request->headers, "Upgrade").empty() &&
        absl::EndsWith(path, "/pods/p/portforward")) {
      return SplicePortForward(std::move(fd), *request);
    }
    std::string body;
    if (path == "/api") {
      body = R"({"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]})";
    } else if (path == "/apis") {
      body = R"({"kind":"APIGroupList","apiVersion":"v1","groups":[]})";
    } else if (path == "/api/v1") {
      body = R"({"kind":"APIResourceList","groupVersion":"v1","resources":[)"
             R"({"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod",)"
             R"("verbs":["get","list"],"shortNames":["po"]},)"
             R"({"name":"pods/exec","singularName":"","namespaced":true,"kind":"PodExecOptions",)"
             R"("verbs":["create","get"]},)"
             R"({"name":"pods/attach","singularName":"","namespaced":true,)"
             R"("kind":"PodAttachOptions","verbs":["create","get"]},)"
             R"({"name":"pods/portforward","singularName":"","namespaced":true,)"
             R"("kind":"PodPortForwardOptions","verbs":["create","get"]}]})";
    } else if (path == "/api/v1/namespaces/default/pods/p") {
      body = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},)"
             R"("spec":{"containers":[{"name":"c1","image":"busybox","stdin":true}]},)"
             R"("status":{"phase":"Running"}})";
    }
    std::string status = body.empty() ? "404 Not Found" : "200 OK";
    if (body.empty()) {
      body =
          R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404})";
    }
    SendAll(fd.get(), absl::StrCat("HTTP/1.1 ", status,
                                   "\r\nContent-Type: application/json\r\nContent-Length: ",
                                   body.size(), "\r\nConnection: close\r\n\r\n", body))
        .IgnoreError();
    ::shutdown(fd.get(), SHUT_WR);
    char drain[256];
    while (::recv(fd.get(), drain, sizeof(drain), 0) > 0) {
    }
  }

  // What kubelet does for an exec or attach: the request's options become a
  // streaming URL of ours, and the upgrade goes there as the client sent it.
  void Splice(UniqueFd client, const HttpRequest& request, bool attach) {
    ExecRequest exec;
    exec.container_id = "c1";
    size_t q = request.target.find('?');
    absl::string_view query =
        q == std::string::npos ? "" : absl::string_view(request.target).substr(q + 1);
    for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(pair, '=');
      std::string value = PercentDecode(kv.second);
      bool on = value == "true" || value == "1";
      if (kv.first == "command") exec.cmd.push_back(value);
      if (kv.first == "stdin") exec.stdin = on;
      if (kv.first == "stdout") exec.stdout = on;
      if (kv.first == "stderr") exec.stderr = on;
      if (kv.first == "tty") exec.tty = on;
    }
    {
      absl::MutexLock lock(&mu_);
      for (const std::string& u : HeaderValues(request.headers, "Upgrade")) upgrades_.push_back(u);
    }
    std::string url;
    if (attach) {
      AttachRequest a;
      a.container_id = exec.container_id;
      a.stdin = exec.stdin;
      a.stdout = exec.stdout;
      a.stderr = exec.stderr;
      a.tty = exec.tty;
      url = streaming_->AttachUrl(a);
    } else {
      url = streaming_->ExecUrl(exec);
    }
    Forward(std::move(client), request, url.substr(url.find(attach ? "/attach/" : "/exec/")));
  }

  // Kubelet's port-forward: a URL for the pod, any port.
  void SplicePortForward(UniqueFd client, const HttpRequest& request) {
    {
      absl::MutexLock lock(&mu_);
      for (const std::string& u : HeaderValues(request.headers, "Upgrade")) upgrades_.push_back(u);
      for (const std::string& p : HeaderValues(request.headers, "Sec-WebSocket-Protocol")) {
        subprotocols_.push_back(p);
      }
    }
    PortForwardRequest forward;
    forward.pod_id = "p";
    std::string url = streaming_->PortForwardUrl(forward);
    Forward(std::move(client), request, url.substr(url.find("/portforward/")));
  }

  // The client's upgrade request, to `target` on our streaming server, and
  // then its bytes both ways.
  void Forward(UniqueFd client, const HttpRequest& request, const std::string& target) {
    HttpHeaders headers;
    for (const auto& [name, value] : request.headers) {
      if (!absl::EqualsIgnoreCase(name, "Content-Length")) headers.emplace_back(name, value);
    }
    UniqueFd server = Connect(streaming_->port());
    if (!WriteRequest(server.get(), request.method, target, headers).ok() ||
        !SendAll(server.get(), request.rest).ok()) {
      return;
    }
    std::thread up([&] { Pipe(client.get(), server.get()); });
    Pipe(server.get(), client.get());
    up.join();
  }

  Server* const streaming_;
  UniqueFd listener_;
  int port_ = 0;
  std::thread acceptor_;
  absl::Mutex mu_;
  std::list<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> upgrades_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> subprotocols_ ABSL_GUARDED_BY(mu_);

 public:
  std::vector<std::string> subprotocols() {
    absl::MutexLock lock(&mu_);
    return subprotocols_;
  }
};

class KubectlInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kKubectl, X_OK) != 0) GTEST_SKIP() << kKubectl << " is not installed";
    absl::StatusOr<std::unique_ptr<Server>> started = Server::Start({}, &backend_);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    api_ = std::make_unique<FakeApiServer>(server_.get());
  }

  CommandResult Kubectl(std::vector<std::string> args, std::string stdin_data = "") {
    const char* tmp = std::getenv("TEST_TMPDIR");
    Subprocess::Options options;
    options.argv = {kKubectl, absl::StrCat("--server=http://127.0.0.1:", api_->port()),
                    "--request-timeout=30s"};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.env = {absl::StrCat("HOME=", tmp != nullptr ? tmp : "/tmp"),
                   "KUBECONFIG=", "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true"};
    options.stdin_io = Stdio::Data(std::move(stdin_data));
    absl::StatusOr<CommandResult> result = RunCommand(std::move(options), absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  ScriptBackend backend_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<FakeApiServer> api_;
};

TEST_F(KubectlInteropTest, ExecOverWebSocketCarriesStreamsAndTheExitCode) {
  CommandResult r = Kubectl({"exec", "p", "-c", "c1", "--", "print", "hello\n", "oops\n", "3"});
  EXPECT_TRUE(WIFEXITED(r.wait_status)) << r.wait_status;
  EXPECT_EQ(WEXITSTATUS(r.wait_status), 3) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "hello\n");
  EXPECT_TRUE(absl::StartsWith(r.stderr_data, "oops\n")) << r.stderr_data;
  EXPECT_EQ(api_->upgrades(), std::vector<std::string>{"websocket"});
}

TEST_F(KubectlInteropTest, StdinEndsWithTheV5CloseSignal) {
  std::string input = std::string(70000, 'k') + "end\n";
  CommandResult r = Kubectl({"exec", "-i", "p", "-c", "c1", "--", "cat"}, input);
  EXPECT_TRUE(ExitedZero(r.wait_status))
      << DescribeWaitStatus(r.wait_status) << ": " << r.stderr_data;
  EXPECT_EQ(r.stdout_data.size(), input.size());
  EXPECT_EQ(r.stdout_data, input);
  EXPECT_EQ(api_->upgrades(), std::vector<std::string>{"websocket"});
}

TEST_F(KubectlInteropTest, AttachOverWebSocketCarriesInput) {
  CommandResult r = Kubectl({"attach", "-i", "p", "-c", "c1"}, "typed into attach\n");
  EXPECT_TRUE(ExitedZero(r.wait_status))
      << DescribeWaitStatus(r.wait_status) << ": " << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "typed into attach\n");
  EXPECT_EQ(api_->upgrades(), std::vector<std::string>{"websocket"});
}

TEST_F(KubectlInteropTest, PortForwardOverTheWebSocketTunnel) {
  // The "pod's" port: echoes one line upper-cased.
  int pod_port = 0;
  UniqueFd pod_listener = Listen(pod_port);
  std::thread pod([&] {
    UniqueFd conn(::accept4(pod_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) return;
    std::string line;
    char c;
    while (::recv(conn.get(), &c, 1, 0) == 1 && c != '\n') line.push_back(c);
    SendAll(conn.get(), absl::AsciiStrToUpper(line) + "\n").IgnoreError();
  });
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string out_path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/port-forward.out");
  ::unlink(out_path.c_str());
  Subprocess::Options options;
  options.argv = {kKubectl, absl::StrCat("--server=http://127.0.0.1:", api_->port()),
                  "port-forward", "--address=127.0.0.1", "p", absl::StrCat(":", pod_port)};
  options.env = {absl::StrCat("HOME=", tmp != nullptr ? tmp : "/tmp"), "KUBECONFIG=",
                 "KUBECTL_PORT_FORWARD_WEBSOCKETS=true"};
  options.stdout_io = Stdio::File(out_path);
  options.stderr_io = Stdio::File(out_path);
  absl::StatusOr<Subprocess> kubectl = Subprocess::Spawn(std::move(options));
  ASSERT_TRUE(kubectl.ok()) << kubectl.status();
  // "Forwarding from 127.0.0.1:LOCAL -> POD_PORT"
  int local = 0;
  std::string printed;
  for (int i = 0; i < 100 && local == 0 && kubectl->Running(); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    printed = ReadFileToString(out_path, 1 << 20).value_or("");
    size_t at = printed.find("Forwarding from 127.0.0.1:");
    if (at == std::string::npos) continue;
    absl::string_view rest = absl::string_view(printed).substr(at + 26);
    absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &local);
  }
  ASSERT_NE(local, 0) << printed;
  UniqueFd conn = Connect(local);
  ASSERT_TRUE(SendAll(conn.get(), "through the tunnel\n").ok());
  std::string reply;
  char c;
  while (::recv(conn.get(), &c, 1, 0) == 1 && c != '\n') reply.push_back(c);
  EXPECT_EQ(reply, "THROUGH THE TUNNEL") << ReadFileToString(out_path, 1 << 20).value_or("");
  conn.Reset();
  pod.join();
  kubectl->Signal(SIGTERM).IgnoreError();
  kubectl->Wait(absl::Seconds(10)).IgnoreError();
  // One WebSocket upgrade, offering the tunnel: no fallback to SPDY.
  EXPECT_EQ(api_->upgrades(), std::vector<std::string>{"websocket"});
  std::vector<std::string> offered = api_->subprotocols();
  EXPECT_NE(std::find(offered.begin(), offered.end(), kPortForwardTunnelProtocol), offered.end())
      << absl::StrJoin(offered, ",");
}

}  // namespace
}  // namespace ocid::streaming
