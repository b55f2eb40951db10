#include "pkg/streaming/client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"
#include "pkg/streaming/port_forward.h"

namespace ocid::streaming {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);

struct ParsedUrl {
  bool tls = false;
  std::string host, port, path;
};

absl::StatusOr<ParsedUrl> ParseUrl(const std::string& url) {
  absl::string_view rest = url;
  ParsedUrl parsed;
  if (absl::ConsumePrefix(&rest, "https://")) {
    parsed.tls = true;
  } else if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError("streaming URL \"" + url + "\" is not http:// or https://");
  }
  size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  parsed.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = authority.rfind(':');
  if (colon == absl::string_view::npos || authority.back() == ']') {
    parsed.host = std::string(authority);
    parsed.port = parsed.tls ? "443" : "80";
  } else {
    parsed.host = std::string(authority.substr(0, colon));
    parsed.port = std::string(authority.substr(colon + 1));
  }
  if (absl::StartsWith(parsed.host, "[")) parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
  return parsed;
}

absl::StatusOr<UniqueFd> ConnectTcp(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", host, ": ", gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError("no address for " + host);
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0) {
      ::freeaddrinfo(found);
      // No Nagle: a small frame must not wait for the ACK of the one before
      // (40 ms of delayed ACK), as the server does too.
      int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return fd;
    }
    last = absl::ErrnoToStatus(errno, absl::StrCat("connect to ", host, ":", port));
  }
  ::freeaddrinfo(found);
  return last;
}

std::string ReadAll(spdy::Stream& stream) {
  std::string all;
  for (std::string part = stream.Read(); !part.empty(); part = stream.Read()) all += part;
  return all;
}

// https: the TLS relay in front of `fd`, whose plaintext side the caller
// takes.
absl::StatusOr<std::unique_ptr<TlsRelay>> StartClientTls(UniqueFd& fd) {
  // One client context for the process: nothing in it is per connection.
  static absl::StatusOr<std::unique_ptr<TlsContext>>* context =
      new absl::StatusOr<std::unique_ptr<TlsContext>>(TlsContext::InsecureClient());
  if (!context->ok()) return context->status();
  return TlsRelay::Start(***context, fd, kTimeout);
}

// What the error stream said, as a result.
absl::StatusOr<RemoteCommandResult> ResultOfStatus(const std::string& protocol,
                                                   const std::string& status_text) {
  RemoteCommandResult result;
  result.protocol = protocol;
  if (status_text.empty()) return result;
  bool json = protocol == "v5.channel.k8s.io" || protocol == "v4.channel.k8s.io" ||
              protocol == "v4.base64.channel.k8s.io";
  if (!json) {
    result.failure = status_text;
    return result;
  }
  nlohmann::json status = nlohmann::json::parse(status_text, nullptr, false);
  if (!status.is_object()) {
    return absl::DataLossError("the error stream holds no status: " + status_text);
  }
  if (status.value("status", "") == "Success") return result;
  if (status.value("reason", "") == "NonZeroExitCode" && status.contains("details")) {
    for (const auto& cause : status["details"].value("causes", nlohmann::json::array())) {
      if (cause.value("reason", "") == "ExitCode" &&
          absl::SimpleAtoi(cause.value("message", ""), &result.exit_code)) {
        return result;
      }
    }
  }
  result.failure = status.value("message", status_text);
  return result;
}

// An upgrade the server refused: its status and the start of its body.
absl::Status RefusedUpgrade(int fd, const HttpResponse& response) {
  // The body is short; read what has come.
  std::string body = response.rest;
  char buf[1024];
  ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  if (n > 0) body.append(buf, static_cast<size_t>(n));
  std::string message = absl::StrCat("streaming server answered ", response.status, ": ", body);
  if (response.status == 404) return absl::NotFoundError(message);
  return absl::FailedPreconditionError(message);
}

absl::StatusOr<RemoteCommandResult> RunOverWebSocket(const std::string& url,
                                                     const RemoteCommandIo& io) {
  ASSIGN_OR_RETURN(WebSocketUpgraded up, DialWebSocket(url, io.websocket_protocols));
  std::shared_ptr<ws::Connection> connection = up.connection;
  const ws::ChannelCodec codec = ws::ChannelCodec::ForProtocol(up.protocol);
  const bool v5 = up.protocol == "v5.channel.k8s.io";
  bool with_stdin = io.stdin_data.has_value() || io.stdin_fd >= 0;
  for (const auto& [width, height] : io.sizes) {
    if (!io.tty) break;
    nlohmann::json size = {{"Width", width}, {"Height", height}};
    RETURN_IF_ERROR(codec.Send(*connection, 4, size.dump()));
  }
  if (io.tty && io.watch_resizes) {
    std::thread([connection, codec, watch = io.watch_resizes] {
      watch([&connection, &codec](uint16_t width, uint16_t height) {
        nlohmann::json size = {{"Width", width}, {"Height", height}};
        codec.Send(*connection, 4, size.dump()).IgnoreError();
      });
    }).detach();
  }
  auto end_stdin = [connection, codec, v5] {
    if (v5) codec.Send(*connection, 255, std::string(1, '\0')).IgnoreError();
  };
  std::thread writer;
  if (with_stdin && io.stdin_data.has_value()) {
    writer = std::thread([&, connection] {
      absl::string_view data = *io.stdin_data;
      for (size_t at = 0; at < data.size(); at += 32 << 10) {
        if (!codec.Send(*connection, 0, data.substr(at, 32 << 10)).ok()) return;
      }
      end_stdin();
    });
  }
  if (with_stdin && io.stdin_fd >= 0) {
    // Reads the caller's terminal until its end; the process exits with us.
    std::thread([connection, codec, end_stdin, fd = io.stdin_fd] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 ||
            !codec.Send(*connection, 0, absl::string_view(buf, static_cast<size_t>(n))).ok()) {
          break;
        }
      }
      end_stdin();
    }).detach();
  }
  std::string status_text;
  for (std::optional<ws::Message> m = connection->Receive(); m.has_value();
       m = connection->Receive()) {
    std::optional<std::pair<uint8_t, absl::string_view>> decoded = codec.Decode(*m);
    if (!decoded.has_value()) continue;
    absl::string_view data = decoded->second;
    switch (decoded->first) {
      case 1:
        if (io.on_stdout && !data.empty()) io.on_stdout(data);
        break;
      case 2:
        if (io.on_stderr && !data.empty()) io.on_stderr(data);
        break;
      case 3:
        status_text.append(data.data(), data.size());
        break;
      default:
        break;
    }
  }
  connection->Shutdown();
  if (writer.joinable()) writer.join();
  if (!connection->error().ok()) return connection->error();
  if (!connection->peer_close_code().has_value()) {
    return absl::UnavailableError("the WebSocket connection ended with no close frame");
  }
  return ResultOfStatus(up.protocol, status_text);
}

}  // namespace

absl::StatusOr<WebSocketUpgraded> DialWebSocket(const std::string& url,
                                                const std::vector<std::string>& protocols) {
  ASSIGN_OR_RETURN(ParsedUrl parsed, ParseUrl(url));
  ASSIGN_OR_RETURN(UniqueFd fd, ConnectTcp(parsed.host, parsed.port));
  WebSocketUpgraded upgraded;
  if (parsed.tls) {
    ASSIGN_OR_RETURN(upgraded.tls, StartClientTls(fd));
    fd = upgraded.tls->TakePlain();
  }
  std::string key = ws::NewKey();
  HttpHeaders headers = {{"Host", absl::StrCat(parsed.host, ":", parsed.port)},
                         {"Connection", "Upgrade"},
                         {"Upgrade", "websocket"},
                         {"Sec-WebSocket-Version", "13"},
                         {"Sec-WebSocket-Key", key}};
  if (!protocols.empty()) {
    headers.emplace_back("Sec-WebSocket-Protocol", absl::StrJoin(protocols, ", "));
  }
  RETURN_IF_ERROR(WriteRequest(fd.get(), "GET", parsed.path, headers));
  ASSIGN_OR_RETURN(HttpResponse response, ReadResponse(fd.get(), kTimeout));
  if (response.status != 101) return RefusedUpgrade(fd.get(), response);
  std::vector<std::string> accept = HeaderValues(response.headers, "Sec-WebSocket-Accept");
  if (accept.size() != 1 || accept[0] != ws::AcceptKey(key)) {
    return absl::DataLossError("the server's Sec-WebSocket-Accept does not match our key");
  }
  std::vector<std::string> chosen = HeaderValues(response.headers, "Sec-WebSocket-Protocol");
  upgraded.protocol = chosen.empty() ? "" : chosen.front();
  upgraded.connection = std::make_shared<ws::Connection>(
      std::move(fd), ws::Connection::Role::kClient, std::move(response.rest));
  return upgraded;
}

absl::StatusOr<Upgraded> DialStreaming(const std::string& url,
                                       const std::vector<std::string>& protocols) {
  ASSIGN_OR_RETURN(ParsedUrl parsed, ParseUrl(url));
  ASSIGN_OR_RETURN(UniqueFd fd, ConnectTcp(parsed.host, parsed.port));
  Upgraded upgraded;
  if (parsed.tls) {
    ASSIGN_OR_RETURN(upgraded.tls, StartClientTls(fd));
    fd = upgraded.tls->TakePlain();
  }
  HttpHeaders headers = {{"Host", absl::StrCat(parsed.host, ":", parsed.port)},
                         {"Connection", "Upgrade"},
                         {"Upgrade", "SPDY/3.1"}};
  for (const std::string& p : protocols) headers.emplace_back("X-Stream-Protocol-Version", p);
  RETURN_IF_ERROR(WriteRequest(fd.get(), "POST", parsed.path, headers));
  ASSIGN_OR_RETURN(HttpResponse response, ReadResponse(fd.get(), kTimeout));
  if (response.status != 101) return RefusedUpgrade(fd.get(), response);
  std::vector<std::string> chosen = HeaderValues(response.headers, "X-Stream-Protocol-Version");
  upgraded.protocol = chosen.empty() ? "" : chosen.front();
  upgraded.session = std::make_unique<spdy::Session>(std::move(fd), spdy::Session::Role::kClient,
                                                     std::move(response.rest));
  return upgraded;
}

absl::StatusOr<RemoteCommandResult> RunRemoteCommand(const std::string& url,
                                                     const RemoteCommandIo& io) {
  if (io.websocket) return RunOverWebSocket(url, io);
  ASSIGN_OR_RETURN(Upgraded up, DialStreaming(url, io.protocols));
  spdy::Session& session = *up.session;
  auto open = [&](const char* type) { return session.Open({{"streamType", type}}, kTimeout); };
  ASSIGN_OR_RETURN(std::shared_ptr<spdy::Stream> error, open("error"));
  std::shared_ptr<spdy::Stream> in, out, err, resize;
  bool with_stdin = io.stdin_data.has_value() || io.stdin_fd >= 0;
  bool resizable = up.protocol != "v2.channel.k8s.io" && up.protocol != "channel.k8s.io";
  for (auto [wanted, type, slot] :
       {std::make_tuple(with_stdin, "stdin", &in), std::make_tuple(io.stdout, "stdout", &out),
        std::make_tuple(io.stderr && !io.tty, "stderr", &err),
        std::make_tuple(io.tty && resizable, "resize", &resize)}) {
    if (!wanted) continue;
    ASSIGN_OR_RETURN(*slot, open(type));
  }
  if (resize) {
    for (const auto& [width, height] : io.sizes) {
      nlohmann::json size = {{"Width", width}, {"Height", height}};
      RETURN_IF_ERROR(resize->Write(size.dump()));
    }
  }
  if (resize && io.watch_resizes) {
    std::thread([resize, watch = io.watch_resizes] {
      watch([&resize](uint16_t width, uint16_t height) {
        resize->Write(nlohmann::json({{"Width", width}, {"Height", height}}).dump()).IgnoreError();
      });
    }).detach();
  }
  if (in && io.stdin_data.has_value()) {
    RETURN_IF_ERROR(in->Write(*io.stdin_data));
    RETURN_IF_ERROR(in->Close());
  }
  if (in && io.stdin_fd >= 0) {
    // Reads the caller's terminal until its end; the process exits with us.
    std::thread([in, fd = io.stdin_fd] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || !in->Write(absl::string_view(buf, static_cast<size_t>(n))).ok()) break;
      }
      in->Close().IgnoreError();
    }).detach();
  }
  auto pump = [](std::shared_ptr<spdy::Stream> stream,
                 const std::function<void(absl::string_view)>& sink) {
    return std::thread([stream, &sink] {
      for (std::string part = stream->Read(); !part.empty(); part = stream->Read()) {
        if (sink) sink(part);
      }
    });
  };
  std::thread out_pump, err_pump;
  if (out) out_pump = pump(out, io.on_stdout);
  if (err) err_pump = pump(err, io.on_stderr);
  std::string status_text = ReadAll(*error);
  if (out_pump.joinable()) out_pump.join();
  if (err_pump.joinable()) err_pump.join();
  session.Close(absl::ZeroDuration());

  return ResultOfStatus(up.protocol, status_text);
}

absl::StatusOr<std::unique_ptr<PortForwarder>> PortForwarder::Dial(const std::string& url) {
  ASSIGN_OR_RETURN(Upgraded up, DialStreaming(url, {kPortForwardProtocol}));
  return std::unique_ptr<PortForwarder>(new PortForwarder(std::move(up)));
}

absl::StatusOr<std::unique_ptr<PortForwarder>> PortForwarder::DialWebSocket(
    const std::string& url) {
  ASSIGN_OR_RETURN(WebSocketUpgraded up,
                   streaming::DialWebSocket(url, {kPortForwardTunnelProtocol}));
  if (up.protocol != kPortForwardTunnelProtocol) {
    return absl::FailedPreconditionError(
        absl::StrCat("the server chose WebSocket subprotocol \"", up.protocol, "\", not ",
                     kPortForwardTunnelProtocol));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<WebSocketTunnel> tunnel,
                   WebSocketTunnel::Start(*up.connection));
  Upgraded inner;
  inner.protocol = kPortForwardProtocol;
  inner.session =
      std::make_unique<spdy::Session>(tunnel->TakeStream(), spdy::Session::Role::kClient);
  return std::unique_ptr<PortForwarder>(
      new PortForwarder(std::move(up), std::move(tunnel), std::move(inner)));
}

PortForwarder::~PortForwarder() { upgraded_.session->Close(absl::ZeroDuration()); }

absl::Status PortForwarder::Forward(int local, int32_t port) {
  std::string request_id = absl::StrCat(next_request_++);
  spdy::Headers headers = {{"streamType", "error"},
                           {"port", absl::StrCat(port)},
                           {"requestID", request_id}};
  ASSIGN_OR_RETURN(std::shared_ptr<spdy::Stream> error, upgraded_.session->Open(headers, kTimeout));
  RETURN_IF_ERROR(error->Close());  // we never write on it
  headers[0].second = "data";
  ASSIGN_OR_RETURN(std::shared_ptr<spdy::Stream> data, upgraded_.session->Open(headers, kTimeout));
  std::thread to_pod([&] {
    data->CopyFrom(local).IgnoreError();
    data->Close().IgnoreError();
  });
  data->CopyTo(local).IgnoreError();
  ::shutdown(local, SHUT_WR);
  std::string message = ReadAll(*error);
  // The pod side is done: stop reading the local side too.
  ::shutdown(local, SHUT_RD);
  to_pod.join();
  if (!message.empty()) return absl::UnavailableError(message);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WebSocketPortForward>> WebSocketPortForward::Dial(
    const std::string& url, std::vector<int32_t> ports, std::vector<std::string> protocols) {
  if (ports.empty()) return absl::InvalidArgumentError("no port to forward");
  std::string with_ports = absl::StrCat(url, url.find('?') == std::string::npos ? "?" : "&",
                                        "port=", absl::StrJoin(ports, ","));
  ASSIGN_OR_RETURN(WebSocketUpgraded up, DialWebSocket(with_ports, protocols));
  return std::unique_ptr<WebSocketPortForward>(
      new WebSocketPortForward(std::move(up), std::move(ports)));
}

WebSocketPortForward::~WebSocketPortForward() { upgraded_.connection->Shutdown(); }

void WebSocketPortForward::Close() {
  upgraded_.connection->Close(ws::kCloseNormal, absl::ZeroDuration());
}

absl::Status WebSocketPortForward::Copy(const std::vector<int>& locals) {
  ws::Connection* connection = upgraded_.connection.get();
  const ws::ChannelCodec codec = ws::ChannelCodec::ForProtocol(upgraded_.protocol);
  if (locals.size() != ports_.size()) {
    return absl::InvalidArgumentError("one local socket per port is needed");
  }
  std::vector<std::thread> to_pod;
  for (size_t i = 0; i < locals.size(); ++i) {
    to_pod.emplace_back([connection, &codec, i, local = locals[i]] {
      char buf[32 << 10];
      for (;;) {
        ssize_t n = ::recv(local, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!codec
                 .Send(*connection, static_cast<uint8_t>(2 * i),
                       absl::string_view(buf, static_cast<size_t>(n)))
                 .ok()) {
          break;
        }
      }
    });
  }
  // Each channel's first message names its port.
  std::vector<bool> named(2 * ports_.size(), false);
  absl::Status result;
  std::vector<std::string> errors(ports_.size());
  for (std::optional<ws::Message> m = connection->Receive(); m.has_value();
       m = connection->Receive()) {
    std::optional<std::pair<uint8_t, absl::string_view>> decoded = codec.Decode(*m);
    if (!decoded.has_value()) continue;
    size_t channel = decoded->first;
    if (channel >= named.size()) continue;
    absl::string_view data = decoded->second;
    size_t i = channel / 2;
    if (!named[channel]) {
      named[channel] = true;
      uint16_t port = data.size() >= 2 ? static_cast<uint16_t>(static_cast<uint8_t>(data[0]) |
                                                               (static_cast<uint8_t>(data[1]) << 8))
                                       : 0;
      if (port != ports_[i] && result.ok()) {
        result = absl::DataLossError(
            absl::StrCat("channel ", channel, " names port ", port, ", not ", ports_[i]));
      }
      data.remove_prefix(std::min<size_t>(2, data.size()));
    }
    if (channel % 2 == 0) {
      SendAll(locals[i], data).IgnoreError();
    } else {
      errors[i].append(data.data(), data.size());
    }
  }
  for (int local : locals) ::shutdown(local, SHUT_RDWR);  // ends the copies to the pod
  for (std::thread& t : to_pod) t.join();
  for (const std::string& error : errors) {
    if (!error.empty() && result.ok()) result = absl::UnavailableError(error);
  }
  return result;
}

}  // namespace ocid::streaming
