// Fuzz target: the bytes a streaming client sends after the upgrade are
// untrusted. Each input is decoded frame by frame (header blocks inflated
// with one context, as a session does), parsed as a resize event stream,
// and replayed into a server session over a socket pair; nothing may crash.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "pkg/base/unique_fd.h"
#include "pkg/streaming/remote_command.h"
#include "pkg/streaming/spdy_frame.h"
#include "pkg/streaming/spdy_headers.h"
#include "pkg/streaming/spdy_session.h"

namespace {

void DecodeAll(absl::string_view in) {
  ocid::streaming::spdy::HeaderDecompressor decompressor;
  for (int frames = 0; frames < 1000; ++frames) {
    auto decoded = ocid::streaming::spdy::Decode(std::string_view(in.data(), in.size()));
    if (!decoded.ok() || !decoded->has_value()) return;
    const ocid::streaming::spdy::Frame& frame = (*decoded)->frame;
    using ocid::streaming::spdy::FrameType;
    if (frame.type == FrameType::kSynStream || frame.type == FrameType::kSynReply ||
        frame.type == FrameType::kHeaders) {
      (void)decompressor.Decompress(frame.payload);
    }
    in.remove_prefix((*decoded)->consumed);
  }
}

void ReplayIntoSession(absl::string_view in) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
  ocid::UniqueFd peer(fds[1]);
  ocid::streaming::spdy::Session session(ocid::UniqueFd(fds[0]),
                                         ocid::streaming::spdy::Session::Role::kServer,
                                         std::string(in));
  ::shutdown(peer.get(), SHUT_WR);  // all the input there is
  // Take what it opened, read a little, and end.
  while (auto stream = session.Accept(absl::Milliseconds(1))) (void)stream->AtEnd();
  session.WaitDone(absl::Milliseconds(50));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  DecodeAll(in);
  std::string events(in);
  (void)ocid::streaming::ParseResizeEvents(events, [](uint16_t, uint16_t) {});
  ReplayIntoSession(in);
  return 0;
}
