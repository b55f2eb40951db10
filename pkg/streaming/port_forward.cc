#include "pkg/streaming/port_forward.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <list>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"
#include "pkg/streaming/http_upgrade.h"
#include "pkg/streaming/websocket_tunnel.h"

namespace ocid::streaming {
namespace {

// One forwarded connection: its two streams, the pod-side socket, and the
// threads copying each way.
struct Forward {
  int32_t port = 0;
  std::shared_ptr<spdy::Stream> error, data;
  UniqueFd conn;
  std::thread to_pod, from_pod;
  std::atomic<int> copies_done{0};
};

void Copy(Forward& f) {
  f.to_pod = std::thread([&f] {
    // Mostly the session's reader writes into the pod's socket itself; this
    // thread writes what the socket did not take at once.
    f.data->CopyTo(f.conn.get()).IgnoreError();
    ::shutdown(f.conn.get(), SHUT_WR);
    ++f.copies_done;
  });
  f.from_pod = std::thread([&f] {
    f.data->CopyFrom(f.conn.get()).IgnoreError();
    f.data->Close().IgnoreError();
    f.error->Close().IgnoreError();
    ++f.copies_done;
  });
}

}  // namespace

void ServePortForward(spdy::Session& session, const std::string& pod_id,
                      const std::vector<int32_t>& allowed,
                      const std::function<absl::StatusOr<UniqueFd>(int32_t port)>& dial) {
  // Streams wait here for their partner, by requestID.
  absl::flat_hash_map<std::string, std::unique_ptr<Forward>> pending;
  std::list<std::unique_ptr<Forward>> running;
  for (;;) {
    std::shared_ptr<spdy::Stream> stream = session.Accept(absl::InfiniteDuration());
    if (stream == nullptr) break;  // the session ended
    std::string type = absl::AsciiStrToLower(stream->Header("streamtype"));
    int32_t port = 0;
    if (!absl::SimpleAtoi(stream->Header("port"), &port) || port <= 0 || port > 65535) {
      OCID_LOG(kWarn) << "streaming: port-forward stream with bad port \""
                      << stream->Header("port") << "\"";
      stream->Reset();
      continue;
    }
    if (type != "error" && type != "data") {
      OCID_LOG(kWarn) << "streaming: port-forward stream of unknown type \"" << type << "\"";
      stream->Reset();
      continue;
    }
    std::string key = absl::StrCat(stream->Header("requestid"), "/", port);
    std::unique_ptr<Forward>& slot = pending[key];
    if (slot == nullptr) {
      slot = std::make_unique<Forward>();
      slot->port = port;
    }
    (type == "error" ? slot->error : slot->data) = std::move(stream);
    if (slot->error == nullptr || slot->data == nullptr) continue;

    std::unique_ptr<Forward> forward = std::move(slot);
    pending.erase(key);
    absl::StatusOr<UniqueFd> conn = absl::PermissionDeniedError("");
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), port) == allowed.end()) {
      conn = absl::PermissionDeniedError(absl::StrCat("port ", port, " was not requested"));
    } else {
      conn = dial(port);
    }
    if (!conn.ok()) {
      forward->error
          ->Write(absl::StrCat("error forwarding port ", port, " to pod ", pod_id, ": ",
                               conn.status().message()))
          .IgnoreError();
      forward->error->Close().IgnoreError();
      forward->data->Close().IgnoreError();
      continue;
    }
    forward->conn = std::move(*conn);
    Copy(*forward);
    running.push_back(std::move(forward));
    // Reap the connections that are over, so a long session stays small.
    for (auto it = running.begin(); it != running.end();) {
      Forward& f = **it;
      if (f.copies_done == 2) {
        f.to_pod.join();
        f.from_pod.join();
        it = running.erase(it);
      } else {
        ++it;
      }
    }
  }
  // The client is gone: unblock and join every copy.
  for (auto& f : running) ::shutdown(f->conn.get(), SHUT_RDWR);
  for (auto& f : running) {
    if (f->to_pod.joinable()) f->to_pod.join();
    if (f->from_pod.joinable()) f->from_pod.join();
  }
  session.Close(absl::ZeroDuration());
}

const std::vector<std::string> kWebSocketPortForwardProtocols = {
    "v4.channel.k8s.io", "v4.base64.channel.k8s.io", kPortForwardTunnelProtocol};

void ServePortForwardWebSocket(ws::Connection& connection, const std::string& protocol,
                               const std::string& pod_id, const std::vector<int32_t>& ports,
                               const std::function<absl::StatusOr<UniqueFd>(int32_t port)>& dial) {
  const ws::ChannelCodec codec = ws::ChannelCodec::ForProtocol(protocol);
  auto send = [&](size_t channel, absl::string_view data) {
    return codec.Send(connection, static_cast<uint8_t>(channel), data);
  };
  const size_t n = std::min<size_t>(ports.size(), 127);  // channels fit a byte
  for (size_t i = 0; i < n; ++i) {
    char port_bytes[2] = {static_cast<char>(ports[i] & 0xff),
                          static_cast<char>((ports[i] >> 8) & 0xff)};
    send(2 * i, absl::string_view(port_bytes, 2)).IgnoreError();
    send(2 * i + 1, absl::string_view(port_bytes, 2)).IgnoreError();
  }
  std::vector<UniqueFd> conns(n);
  std::atomic<size_t> open_ports{n};
  auto port_done = [&] {
    if (--open_ports == 0) connection.Close();
  };
  std::vector<std::thread> from_pod;
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<UniqueFd> conn = dial(ports[i]);
    if (!conn.ok()) {
      send(2 * i + 1, absl::StrCat("error forwarding port ", ports[i], " to pod ", pod_id, ": ",
                                   conn.status().message()))
          .IgnoreError();
      port_done();
      continue;
    }
    conns[i] = std::move(*conn);
    from_pod.emplace_back([&, i] {
      char buf[32 << 10];
      for (;;) {
        ssize_t got = ::recv(conns[i].get(), buf, sizeof(buf), 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        if (!send(2 * i, absl::string_view(buf, static_cast<size_t>(got))).ok()) break;
      }
      port_done();
    });
  }
  for (std::optional<ws::Message> m = connection.Receive(); m.has_value();
       m = connection.Receive()) {
    std::optional<std::pair<uint8_t, absl::string_view>> decoded = codec.Decode(*m);
    if (!decoded.has_value()) continue;
    size_t channel = decoded->first;
    // Only data channels carry anything to the pod; the rest is ignored, as
    // kubelet does.
    if (channel % 2 != 0 || channel / 2 >= n || !conns[channel / 2].valid()) continue;
    SendAll(conns[channel / 2].get(), decoded->second).IgnoreError();
  }
  // The client left (or every port ended): unblock and join the copies.
  for (UniqueFd& conn : conns) {
    if (conn.valid()) ::shutdown(conn.get(), SHUT_RDWR);
  }
  for (std::thread& t : from_pod) t.join();
  connection.Close(ws::kCloseNormal, absl::ZeroDuration());
}

}  // namespace ocid::streaming
