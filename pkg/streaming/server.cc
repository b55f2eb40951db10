#include "pkg/streaming/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "pkg/base/log.h"
#include "pkg/streaming/http_upgrade.h"
#include "pkg/streaming/port_forward.h"
#include "pkg/streaming/remote_command.h"
#include "pkg/streaming/spdy_session.h"
#include "pkg/streaming/websocket.h"
#include "pkg/streaming/websocket_tunnel.h"

namespace ocid::streaming {
namespace {

constexpr absl::Duration kRequestTimeout = absl::Seconds(30);

bool HasToken(const HttpHeaders& headers, absl::string_view name, absl::string_view token) {
  for (const std::string& value : HeaderValues(headers, name)) {
    if (absl::EqualsIgnoreCase(value, token)) return true;
  }
  return false;
}

// The first of `ours` that the client offers, "" if none.
std::string Negotiate(const HttpHeaders& headers, const std::vector<std::string>& ours) {
  std::vector<std::string> theirs = HeaderValues(headers, "X-Stream-Protocol-Version");
  for (const std::string& protocol : ours) {
    if (std::find(theirs.begin(), theirs.end(), protocol) != theirs.end()) return protocol;
  }
  return "";
}

// The first protocol the client offers that is one of `ours`, as kubelet's
// WebSocket handshake picks; "" when the client offers none; nullopt when
// none of its offers is ours.
std::optional<std::string> NegotiateWebSocket(const HttpHeaders& headers,
                                              const std::vector<std::string>& ours) {
  std::vector<std::string> theirs = HeaderValues(headers, "Sec-WebSocket-Protocol");
  if (theirs.empty()) return "";
  for (const std::string& protocol : theirs) {
    if (std::find(ours.begin(), ours.end(), protocol) != ours.end()) return protocol;
  }
  return std::nullopt;
}

// Kubelet's `port` query parameter, repeated or comma-separated:
// "?port=80,443&port=8080".
absl::StatusOr<std::vector<int32_t>> PortsOfQuery(absl::string_view target) {
  std::vector<int32_t> ports;
  size_t q = target.find('?');
  if (q == absl::string_view::npos) return ports;
  for (absl::string_view pair : absl::StrSplit(target.substr(q + 1), '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, '=');
    if (kv.first != "port") continue;
    for (absl::string_view one : absl::StrSplit(kv.second, ',')) {
      int32_t port = 0;
      if (!absl::SimpleAtoi(one, &port) || port < 1 || port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat("unable to parse \"", one, "\" as a port"));
      }
      ports.push_back(port);
    }
  }
  return ports;
}

absl::StatusOr<sockaddr_storage> ParseAddress(const std::string& address, int port,
                                              socklen_t& length) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v4);
    return storage;
  }
  if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v6);
    return storage;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("stream_address \"", address, "\" is not an IPv4 or IPv6 address"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options, Backend* backend) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream_port ", options.port, " is not a port (0 to 65535)"));
  }
  socklen_t length = 0;
  absl::StatusOr<sockaddr_storage> address = ParseAddress(options.address, options.port, length);
  if (!address.ok()) return address.status();
  UniqueFd listener(::socket(address->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return absl::ErrnoToStatus(errno, "streaming socket");
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&*address), length) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("streaming server: bind ", options.address, ":", options.port));
  }
  std::unique_ptr<TlsContext> tls;
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("stream_tls_cert and stream_tls_key go together");
  }
  if (!options.tls_cert.empty()) {
    absl::StatusOr<std::unique_ptr<TlsContext>> loaded =
        TlsContext::Server(options.tls_cert, options.tls_key);
    if (!loaded.ok()) return loaded.status();
    tls = std::move(*loaded);
  }
  if (::listen(listener.get(), 128) != 0) return absl::ErrnoToStatus(errno, "listen");
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof(bound);
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length);
  int port = ntohs(bound.ss_family == AF_INET
                       ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                       : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  std::unique_ptr<Server> server(
      new Server(std::move(options), backend, std::move(listener), port, std::move(tls)));
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

Server::Server(ServerOptions options, Backend* backend, UniqueFd listener, int port,
               std::unique_ptr<TlsContext> tls)
    : options_(std::move(options)),
      backend_(backend),
      listener_(std::move(listener)),
      port_(port),
      tls_(std::move(tls)),
      exec_tokens_(options_.token_ttl, [] { return absl::Now(); }),
      attach_tokens_(options_.token_ttl, [] { return absl::Now(); }),
      port_forward_tokens_(options_.token_ttl, [] { return absl::Now(); }) {}

Server::~Server() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  {
    absl::MutexLock lock(&mu_);
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  }
  absl::MutexLock counted(&serving_->mu);
  serving_->mu.Await(absl::Condition(
      +[](ServingCount* c) ABSL_NO_THREAD_SAFETY_ANALYSIS { return c->n == 0; }, serving_.get()));
}

size_t Server::ActiveSessions() {
  absl::MutexLock lock(&mu_);
  return connections_.size();
}

std::string Server::Url(absl::string_view kind, const std::string& token) const {
  std::string host = options_.advertise_address.empty() ? options_.address
                                                        : options_.advertise_address;
  if (absl::StrContains(host, ':')) host = absl::StrCat("[", host, "]");
  return absl::StrCat(tls_ ? "https://" : "http://", host, ":", port_, "/", kind, "/", token);
}

std::string Server::ExecUrl(ExecRequest request) {
  return Url("exec", exec_tokens_.Insert(std::move(request)));
}

std::string Server::AttachUrl(AttachRequest request) {
  return Url("attach", attach_tokens_.Insert(std::move(request)));
}

std::string Server::PortForwardUrl(PortForwardRequest request) {
  return Url("portforward", port_forward_tokens_.Insert(std::move(request)));
}

void Server::AcceptLoop() {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) {
      if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE && errno != ENFILE) {
        OCID_LOG(kError) << "streaming: accept: " << strerror(errno);
        return;
      }
      continue;
    }
    // Frames go out as written: with Nagle's algorithm a small frame behind
    // an unacknowledged one (a stream's FIN after another's) waits for the
    // peer's delayed ACK, 40 ms. Go's peers do the same on every TCP socket.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    connections_.insert(fd);
    {
      absl::MutexLock counted(&serving_->mu);
      ++serving_->n;
    }
    std::thread([this, fd, serving = serving_] {
      Serve(fd);
      absl::MutexLock done(&serving->mu);
      --serving->n;
    }).detach();
  }
}

void Server::Serve(int raw_fd) {
  UniqueFd fd(raw_fd);
  // With TLS, the relay holds the TCP socket (still `raw_fd`, which ~Server
  // shuts down) and everything below reads plaintext from its pair.
  std::unique_ptr<TlsRelay> relay;
  // Forgets the fd before it closes, so that ~Server never shuts down a
  // reused number.
  auto forget = [this, raw_fd] {
    absl::MutexLock lock(&mu_);
    connections_.erase(raw_fd);
  };
  if (tls_) {
    absl::StatusOr<std::unique_ptr<TlsRelay>> started =
        TlsRelay::Start(*tls_, fd, kRequestTimeout);
    if (!started.ok()) {
      OCID_LOG(kWarn) << "streaming: " << started.status().message();
      forget();
      return;
    }
    relay = std::move(*started);
    fd = relay->TakePlain();
  }
  absl::StatusOr<HttpRequest> request = ReadRequest(fd.get(), kRequestTimeout);
  if (!request.ok()) {
    if (request.status().code() == absl::StatusCode::kInvalidArgument) {
      WriteResponse(fd.get(), 400, {}, std::string(request.status().message()) + "\n")
          .IgnoreError();
    }
    forget();
    return;
  }
  std::string path(request->target.substr(0, request->target.find('?')));
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  auto reply = [&](int status, const HttpHeaders& headers, absl::string_view body) {
    WriteResponse(fd.get(), status, headers, body).IgnoreError();
    forget();
  };
  if (parts.size() != 2 || (parts[0] != "exec" && parts[0] != "attach" &&
                            parts[0] != "portforward")) {
    return reply(404, {}, "404 page not found\n");
  }
  if (request->method != "GET" && request->method != "POST") {
    return reply(405, {}, "only GET and POST upgrade\n");
  }
  const std::string& kind = parts[0];
  const std::string& token = parts[1];
  // Claim the token first: a URL is good for one try, whatever its outcome.
  std::optional<ExecRequest> exec;
  std::optional<AttachRequest> attach;
  std::optional<PortForwardRequest> forward;
  absl::Status claimed;
  if (kind == "exec") {
    absl::StatusOr<ExecRequest> r = exec_tokens_.Consume(token);
    if (r.ok()) exec = std::move(*r); else claimed = r.status();
  } else if (kind == "attach") {
    absl::StatusOr<AttachRequest> r = attach_tokens_.Consume(token);
    if (r.ok()) attach = std::move(*r); else claimed = r.status();
  } else {
    absl::StatusOr<PortForwardRequest> r = port_forward_tokens_.Consume(token);
    if (r.ok()) forward = std::move(*r); else claimed = r.status();
  }
  if (!claimed.ok()) return reply(404, {}, std::string(claimed.message()) + "\n");

  if (!HasToken(request->headers, "Connection", "upgrade")) {
    return reply(400, {}, "unable to upgrade: missing upgrade headers in request\n");
  }
  if (HasToken(request->headers, "Upgrade", "websocket")) {
    ServeWebSocket(std::move(fd), *request, exec, attach, forward);
    forget();
    return;
  }
  if (!HasToken(request->headers, "Upgrade", "SPDY/3.1")) {
    return reply(400, {}, "unable to upgrade: missing upgrade headers in request (SPDY/3.1)\n");
  }
  const std::vector<std::string> ours =
      forward ? std::vector<std::string>{kPortForwardProtocol} : kRemoteCommandProtocols;
  std::string protocol = Negotiate(request->headers, ours);
  if (protocol.empty()) {
    HttpHeaders accepted;
    for (const std::string& p : ours) accepted.emplace_back("X-Accepted-Stream-Protocol-Versions", p);
    return reply(403, accepted,
                 absl::StrCat("unable to upgrade: unable to negotiate protocol: client supports [",
                              absl::StrJoin(HeaderValues(request->headers,
                                                         "X-Stream-Protocol-Version"),
                                            " "),
                              "], server accepts [", absl::StrJoin(ours, " "), "]\n"));
  }
  if (!WriteResponse(fd.get(), 101,
                     {{"Connection", "Upgrade"},
                      {"Upgrade", "SPDY/3.1"},
                      {"X-Stream-Protocol-Version", protocol}})
           .ok()) {
    forget();
    return;
  }

  spdy::Session session(std::move(fd), spdy::Session::Role::kServer, std::move(request->rest),
                        options_.idle_timeout);
  if (forward) {
    ServePortForward(session, forward->pod_id, forward->ports, [&](int32_t port) {
      return backend_->DialPod(forward->pod_id, port);
    });
  } else {
    ServeRemoteCommand(session, CommandOptions(protocol, exec, attach), Opener(exec, attach));
  }
  forget();
}

RemoteCommandOptions Server::CommandOptions(const std::string& protocol,
                                            const std::optional<ExecRequest>& exec,
                                            const std::optional<AttachRequest>& attach) const {
  RemoteCommandOptions options;
  options.protocol = protocol;
  options.stream_creation_timeout = options_.stream_creation_timeout;
  if (exec) {
    options.stdin = exec->stdin;
    options.stdout = exec->stdout;
    options.stderr = exec->stderr;
    options.tty = exec->tty;
  } else {
    options.stdin = attach->stdin;
    options.stdout = attach->stdout;
    options.stderr = attach->stderr;
    options.tty = attach->tty;
  }
  return options;
}

OpenChannel Server::Opener(const std::optional<ExecRequest>& exec,
                           const std::optional<AttachRequest>& attach) {
  if (exec) return [this, &exec](TerminalSize size) { return backend_->Exec(*exec, size); };
  return [this, &attach](TerminalSize) { return backend_->Attach(*attach); };
}

void Server::ServeWebSocket(UniqueFd fd, const HttpRequest& request,
                            const std::optional<ExecRequest>& exec,
                            const std::optional<AttachRequest>& attach,
                            const std::optional<PortForwardRequest>& forward) {
  auto reply = [&](int status, const HttpHeaders& headers, absl::string_view body) {
    WriteResponse(fd.get(), status, headers, body).IgnoreError();
  };
  if (request.method != "GET") {
    return reply(400, {}, "unable to upgrade: a WebSocket upgrade must be a GET\n");
  }
  if (HeaderValues(request.headers, "Sec-WebSocket-Version") != std::vector<std::string>{"13"}) {
    return reply(426, {{"Sec-WebSocket-Version", "13"}},
                 "unable to upgrade: only WebSocket version 13 is served\n");
  }
  std::vector<std::string> keys = HeaderValues(request.headers, "Sec-WebSocket-Key");
  if (keys.size() != 1 || !ws::ValidKey(keys[0])) {
    return reply(400, {}, "unable to upgrade: Sec-WebSocket-Key is not 16 bytes of base64\n");
  }
  const std::vector<std::string>& ours =
      forward ? kWebSocketPortForwardProtocols : kWebSocketRemoteCommandProtocols;
  std::optional<std::string> protocol = NegotiateWebSocket(request.headers, ours);
  if (!protocol.has_value()) {
    return reply(
        403, {},
        absl::StrCat("unable to upgrade: requested protocol(s) are not supported: [",
                     absl::StrJoin(HeaderValues(request.headers, "Sec-WebSocket-Protocol"), " "),
                     "]; supports [", absl::StrJoin(ours, " "), "]\n"));
  }
  const bool tunnel = forward && *protocol == kPortForwardTunnelProtocol;
  std::vector<int32_t> ports;
  if (forward && !tunnel) {
    // The CRI request's ports; kubelet's query parameter when it named none.
    ports = forward->ports;
    if (ports.empty()) {
      absl::StatusOr<std::vector<int32_t>> queried = PortsOfQuery(request.target);
      if (!queried.ok()) return reply(400, {}, std::string(queried.status().message()) + "\n");
      ports = std::move(*queried);
    }
    if (ports.empty() || ports.size() > 127) {
      return reply(400, {},
                   "port-forward over WebSocket needs 1 to 127 ports (query parameter \"port\")\n");
    }
  }
  HttpHeaders headers = {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Accept", ws::AcceptKey(keys[0])}};
  if (!protocol->empty()) headers.emplace_back("Sec-WebSocket-Protocol", *protocol);
  if (!WriteResponse(fd.get(), 101, headers).ok()) return;

  ws::ConnectionOptions options;
  options.idle_timeout = options_.idle_timeout;
  ws::Connection connection(std::move(fd), ws::Connection::Role::kServer, request.rest, options);
  if (tunnel) {
    // A SPDY connection inside the WebSocket: served as one over a socket.
    absl::StatusOr<std::unique_ptr<WebSocketTunnel>> started = WebSocketTunnel::Start(connection);
    if (!started.ok()) {
      OCID_LOG(kWarn) << "streaming: " << started.status().message();
      return;
    }
    spdy::Session session((*started)->TakeStream(), spdy::Session::Role::kServer, "",
                          options_.idle_timeout);
    ServePortForward(session, forward->pod_id, forward->ports, [&](int32_t port) {
      return backend_->DialPod(forward->pod_id, port);
    });
    return;
  }
  if (forward) {
    ServePortForwardWebSocket(connection, *protocol, forward->pod_id, ports, [&](int32_t port) {
      return backend_->DialPod(forward->pod_id, port);
    });
  } else {
    ServeRemoteCommandWebSocket(connection, CommandOptions(*protocol, exec, attach),
                                Opener(exec, attach));
  }
}

}  // namespace ocid::streaming
