#include "pkg/streaming/tls_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "pkg/base/status_macros.h"
#include "pkg/crypto/openssl.h"
#include "pkg/streaming/http_upgrade.h"
#include "pkg/streaming/splice_pipe.h"

namespace ocid::streaming {
namespace {

// TlsContext's factories load both libraries or fail: every SSL object, and
// so everything below that uses one, comes after them.
const Libssl& Ssl() { return **LoadLibssl(); }
const Libcrypto& Crypto() { return **LoadLibcrypto(); }

std::string SslErrors() {
  std::string all;
  for (unsigned long e = Crypto().ERR_get_error(); e != 0; e = Crypto().ERR_get_error()) {
    char buf[256];
    Crypto().ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&all, all.empty() ? "" : "; ", buf);
  }
  return all.empty() ? "unknown TLS error" : all;
}

// Waits for `fd` to be ready for what OpenSSL asked, until `deadline`.
bool WaitFor(int fd, int ssl_error, absl::Time deadline) {
  short events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
  int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
  if (ms <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, ms) > 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Server(const std::string& cert_file,
                                                               const std::string& key_file) {
  RETURN_IF_ERROR(LoadLibcrypto().status());
  RETURN_IF_ERROR(LoadLibssl().status());
  SSL_CTX* ctx = Ssl().SSL_CTX_new(Ssl().TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + SslErrors());
  std::unique_ptr<TlsContext> context(new TlsContext(ctx, true));
  Ssl().SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, nullptr);
  if (Ssl().SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream_tls_cert ", cert_file, ": ", SslErrors()));
  }
  if (Ssl().SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("stream_tls_key ", key_file, ": ", SslErrors()));
  }
  if (Ssl().SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream_tls_key ", key_file, " does not match stream_tls_cert ", cert_file));
  }
  return context;
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::InsecureClient() {
  RETURN_IF_ERROR(LoadLibcrypto().status());
  RETURN_IF_ERROR(LoadLibssl().status());
  SSL_CTX* ctx = Ssl().SSL_CTX_new(Ssl().TLS_client_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + SslErrors());
  Ssl().SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  return std::unique_ptr<TlsContext>(new TlsContext(ctx, false));
}

TlsContext::~TlsContext() { Ssl().SSL_CTX_free(ctx_); }

absl::StatusOr<std::unique_ptr<TlsRelay>> TlsRelay::Start(const TlsContext& context, UniqueFd& conn,
                                                          absl::Duration timeout) {
  SSL* ssl = Ssl().SSL_new(context.get());
  if (ssl == nullptr) return absl::InternalError("SSL_new: " + SslErrors());
  // Non-blocking from here on: the relay multiplexes both directions.
  ::fcntl(conn.get(), F_SETFL, ::fcntl(conn.get(), F_GETFL) | O_NONBLOCK);
  Ssl().SSL_set_fd(ssl, conn.get());
  ScopedSigpipeBlock quiet;  // OpenSSL writes with write(2)
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int rc = context.is_server() ? Ssl().SSL_accept(ssl) : Ssl().SSL_connect(ssl);
    if (rc == 1) break;
    int error = Ssl().SSL_get_error(ssl, rc);
    if ((error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) &&
        WaitFor(conn.get(), error, deadline)) {
      continue;
    }
    std::string why =
        error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? "timed out" : SslErrors();
    Ssl().SSL_free(ssl);
    return absl::UnavailableError("TLS handshake: " + why);
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    Ssl().SSL_free(ssl);
    return absl::ErrnoToStatus(errno, "socketpair");
  }
  ::fcntl(pair[0], F_SETFL, ::fcntl(pair[0], F_GETFL) | O_NONBLOCK);
  std::unique_ptr<TlsRelay> relay(
      new TlsRelay(ssl, std::move(conn), UniqueFd(pair[0]), UniqueFd(pair[1])));
  relay->thread_ = std::thread([r = relay.get()] { r->Run(); });
  return relay;
}

TlsRelay::~TlsRelay() {
  ::shutdown(relay_end_.get(), SHUT_RDWR);
  ::shutdown(conn_.get(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  Ssl().SSL_free(ssl_);
}

void TlsRelay::Run() {
  ScopedSigpipeBlock quiet;
  // Bytes read from one side and not yet written to the other.
  std::string to_plain, to_tls;
  bool tls_open = true, plain_open = true;  // each side still sends to us
  bool tls_shut = false;                    // our close_notify sent
  char buf[16 << 10];
  while (tls_open || plain_open || !to_plain.empty() || !to_tls.empty()) {
    bool progress = false;
    // TLS -> plain. SSL_read may have records buffered that poll cannot see.
    while (tls_open && to_plain.size() < (1 << 20)) {
      int n = Ssl().SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        to_plain.append(buf, static_cast<size_t>(n));
        progress = true;
        continue;
      }
      int error = Ssl().SSL_get_error(ssl_, n);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) tls_open = false;
      break;
    }
    if (!to_plain.empty()) {
      ssize_t n = ::send(relay_end_.get(), to_plain.data(), to_plain.size(), MSG_NOSIGNAL);
      if (n > 0) {
        to_plain.erase(0, static_cast<size_t>(n));
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return;
      }
    }
    if (!tls_open && to_plain.empty()) ::shutdown(relay_end_.get(), SHUT_WR);
    // plain -> TLS.
    if (plain_open && to_tls.size() < (1 << 20)) {
      ssize_t n = ::recv(relay_end_.get(), buf, sizeof(buf), 0);
      if (n > 0) {
        to_tls.append(buf, static_cast<size_t>(n));
        progress = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        plain_open = false;
      }
    }
    if (!to_tls.empty()) {
      int n = Ssl().SSL_write(ssl_, to_tls.data(), static_cast<int>(to_tls.size()));
      if (n > 0) {
        to_tls.erase(0, static_cast<size_t>(n));
        progress = true;
      } else {
        int error = Ssl().SSL_get_error(ssl_, n);
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return;
      }
    }
    if (!plain_open && to_tls.empty() && !tls_shut) {
      Ssl().SSL_shutdown(ssl_);
      tls_shut = true;
      if (!tls_open) return;
    }
    if (!tls_open && !plain_open && to_plain.empty() && to_tls.empty()) return;
    if (progress) continue;
    pollfd fds[2] = {{conn_.get(), 0, 0}, {relay_end_.get(), 0, 0}};
    if (tls_open) fds[0].events |= POLLIN;
    if (!to_tls.empty()) fds[0].events |= POLLOUT;
    if (plain_open) fds[1].events |= POLLIN;
    if (!to_plain.empty()) fds[1].events |= POLLOUT;
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return;
    if ((fds[0].revents & (POLLERR | POLLNVAL)) || (fds[1].revents & (POLLERR | POLLNVAL))) return;
  }
}

}  // namespace ocid::streaming
