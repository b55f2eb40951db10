// Fuzz target: the bytes a WebSocket client sends after the upgrade are
// untrusted. Each input is decoded frame by frame, then replayed into a
// server connection over a socket pair whose messages are all taken (and
// decoded as channels, binary and base64);
// nothing may crash or hang.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "pkg/base/unique_fd.h"
#include "pkg/streaming/websocket.h"

namespace {

namespace ws = ocid::streaming::ws;

void DecodeAll(absl::string_view in) {
  for (int frames = 0; frames < 1000; ++frames) {
    auto decoded = ws::DecodeFrame(in, 1 << 16);
    if (!decoded.ok() || !decoded->has_value()) return;
    in.remove_prefix((*decoded)->consumed);
  }
}

void ReplayIntoConnection(absl::string_view in) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
  ocid::UniqueFd peer(fds[1]);
  ws::ConnectionOptions options;
  options.max_message = 1 << 16;
  ws::Connection connection(ocid::UniqueFd(fds[0]), ws::Connection::Role::kServer, std::string(in),
                            options);
  ::shutdown(peer.get(), SHUT_WR);  // all the input there is
  // Every message also through both channel framings.
  const ws::ChannelCodec raw = ws::ChannelCodec::ForProtocol("v4.channel.k8s.io");
  const ws::ChannelCodec base64 = ws::ChannelCodec::ForProtocol("v4.base64.channel.k8s.io");
  for (std::optional<ws::Message> m = connection.Receive(); m.has_value();
       m = connection.Receive()) {
    ws::Message copy = *m;
    raw.Decode(*m);
    base64.Decode(copy);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  DecodeAll(in);
  ReplayIntoConnection(in);
  return 0;
}
