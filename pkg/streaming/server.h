// The streaming server: the HTTP endpoint that the URLs of the Exec, Attach
// and PortForward RPCs point at. A client (kubelet's proxy, kubectl through
// it, crictl) claims a URL's single-use token, upgrades the connection to
// SPDY/3.1 and then speaks Kubernetes' remote command protocol
// (v1-v5.channel.k8s.io: stdin, stdout, stderr, error and resize streams) or
// its port-forward protocol (portforward.k8s.io: a data and an error stream
// per forwarded connection).
//
// One thread per connection, plus a pump per stream direction. What runs is
// the Backend's: the server only moves bytes.
#ifndef OCID_PKG_STREAMING_SERVER_H_
#define OCID_PKG_STREAMING_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/channel.h"
#include "pkg/streaming/http_upgrade.h"
#include "pkg/streaming/remote_command.h"
#include "pkg/streaming/tls_relay.h"
#include "pkg/streaming/token_store.h"

namespace ocid::streaming {

struct ExecRequest {
  std::string container_id;
  std::vector<std::string> cmd;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

struct AttachRequest {
  std::string container_id;
  bool tty = false;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
};

struct PortForwardRequest {
  std::string pod_id;
  std::vector<int32_t> ports;  // empty: any port the client asks for
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Starts the command with a terminal of `size` (request.tty; the client's
  // first resize, or 0x0 if none came soon); the channel ends when it exits.
  virtual absl::StatusOr<std::unique_ptr<Channel>> Exec(const ExecRequest& request,
                                                        TerminalSize size) = 0;
  // Joins the container's stdio; the channel ends when the container exits.
  virtual absl::StatusOr<std::unique_ptr<Channel>> Attach(const AttachRequest& request) = 0;
  // A TCP connection to `port` on localhost as the pod sees it (inside its
  // network namespace, or the host's for a host-network pod).
  virtual absl::StatusOr<UniqueFd> DialPod(const std::string& pod_id, int32_t port) = 0;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;  // 0: any free port
  // What the URLs name as host, when it differs from where we listen (an
  // address of 0.0.0.0 is not one to connect to).
  std::string advertise_address;
  absl::Duration token_ttl = absl::Minutes(1);
  // A session with no traffic either way for this long is closed.
  absl::Duration idle_timeout = absl::Hours(4);
  // How long a client may take to open the streams a session needs.
  absl::Duration stream_creation_timeout = absl::Seconds(30);
  // PEM files: both set, the server speaks TLS only and its URLs are https.
  std::string tls_cert;
  std::string tls_key;
};

class Server {
 public:
  // Listens and starts accepting. `backend` must outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options, Backend* backend);
  // Stops accepting, ends every session (exec'd commands are killed), joins.
  ~Server();

  // The URL a client claims `request` with, valid once within the token TTL.
  std::string ExecUrl(ExecRequest request);
  std::string AttachUrl(AttachRequest request);
  std::string PortForwardUrl(PortForwardRequest request);

  int port() const { return port_; }
  // Connections being served now.
  size_t ActiveSessions() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Server(ServerOptions options, Backend* backend, UniqueFd listener, int port,
         std::unique_ptr<TlsContext> tls);
  void AcceptLoop();
  void Serve(int fd);
  // After the token was claimed: the WebSocket handshake and the session.
  void ServeWebSocket(UniqueFd fd, const HttpRequest& request,
                      const std::optional<ExecRequest>& exec,
                      const std::optional<AttachRequest>& attach,
                      const std::optional<PortForwardRequest>& forward);
  RemoteCommandOptions CommandOptions(const std::string& protocol,
                                      const std::optional<ExecRequest>& exec,
                                      const std::optional<AttachRequest>& attach) const;
  OpenChannel Opener(const std::optional<ExecRequest>& exec,
                     const std::optional<AttachRequest>& attach);
  std::string Url(absl::string_view kind, const std::string& token) const;

  const ServerOptions options_;
  Backend* const backend_;
  UniqueFd listener_;
  const int port_;
  const std::unique_ptr<TlsContext> tls_;  // null: plain HTTP
  TokenStore<ExecRequest> exec_tokens_;
  TokenStore<AttachRequest> attach_tokens_;
  TokenStore<PortForwardRequest> port_forward_tokens_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<int> connections_ ABSL_GUARDED_BY(mu_);  // fds being served
  // Threads in Serve. Shared with them: the last one may still be leaving
  // the counter's Unlock when ~Server, woken, returns.
  struct ServingCount {
    absl::Mutex mu;
    int n ABSL_GUARDED_BY(mu) = 0;
  };
  std::shared_ptr<ServingCount> serving_ = std::make_shared<ServingCount>();
  std::thread acceptor_;
};

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_SERVER_H_
