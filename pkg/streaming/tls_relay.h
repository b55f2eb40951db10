// TLS for the streaming server (and its client), kept out of the protocols:
// a relay thread holds the TLS connection and passes plaintext through a
// socket pair, whose other end the HTTP and SPDY code read and write as if
// it were the TCP socket. One thread owns the SSL object, so no two threads
// ever use it at once (OpenSSL does not allow that).
#ifndef OCID_PKG_STREAMING_TLS_RELAY_H_
#define OCID_PKG_STREAMING_TLS_RELAY_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/base/unique_fd.h"

namespace ocid::streaming {

class TlsContext {
 public:
  // A server context from PEM files; InvalidArgument naming the file that
  // does not load or a key that does not match the certificate.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Server(const std::string& cert_file,
                                                            const std::string& key_file);
  // A client context that does not verify the server (like critest's and
  // crictl's Insecure streaming config).
  static absl::StatusOr<std::unique_ptr<TlsContext>> InsecureClient();
  ~TlsContext();

  SSL_CTX* get() const { return ctx_; }
  bool is_server() const { return server_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
};

class TlsRelay {
 public:
  // Runs the handshake on `conn` (within `timeout`), then relays until either
  // side closes. Takes `conn` only when it succeeds. `context` must outlive
  // the relay.
  static absl::StatusOr<std::unique_ptr<TlsRelay>> Start(const TlsContext& context, UniqueFd& conn,
                                                         absl::Duration timeout);
  // Ends the relay (both sockets shut down) and joins it.
  ~TlsRelay();

  // The plaintext end, once: reads and writes travel over TLS.
  UniqueFd TakePlain() { return std::move(plain_); }

 private:
  TlsRelay(SSL* ssl, UniqueFd conn, UniqueFd relay_end, UniqueFd plain)
      : ssl_(ssl), conn_(std::move(conn)), relay_end_(std::move(relay_end)),
        plain_(std::move(plain)) {}
  void Run();

  SSL* ssl_;
  UniqueFd conn_;       // TCP, TLS on it
  UniqueFd relay_end_;  // our end of the pair
  UniqueFd plain_;      // the caller's end until taken
  std::thread thread_;
};

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_TLS_RELAY_H_
