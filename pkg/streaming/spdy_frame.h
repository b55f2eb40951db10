#ifndef OCID_PKG_STREAMING_SPDY_FRAME_H_
#define OCID_PKG_STREAMING_SPDY_FRAME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ocid::streaming::spdy {

// SPDY/3.1 frame layout (draft-mbelshe-httpbis-spdy-00 and the 3.1 update).
// Header blocks travel as their compressed bytes; compressing them is a
// separate step.
enum class FrameType : uint16_t {
  kData = 0,  // not a control type: data frames have the control bit clear
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;
inline constexpr uint8_t kFlagUnidirectional = 0x02;
inline constexpr uint16_t kVersion = 3;
inline constexpr size_t kFrameHeaderSize = 8;
// The largest payload we accept; the 24-bit length field allows 16 MiB, far
// more than any client of ours sends in one frame.
inline constexpr uint32_t kMaxPayload = 1 << 20;

struct Setting {
  uint8_t flags = 0;
  uint32_t id = 0;  // 24 bits
  uint32_t value = 0;
};

struct Frame {
  FrameType type = FrameType::kData;
  uint8_t flags = 0;
  uint32_t stream_id = 0;         // data, SYN_*, RST, HEADERS, WINDOW_UPDATE;
                                  // GOAWAY's last good stream
  uint32_t assoc_stream_id = 0;   // SYN_STREAM
  uint8_t priority = 0;           // SYN_STREAM, 3 bits
  uint32_t status = 0;            // RST_STREAM, GOAWAY
  uint32_t delta = 0;             // WINDOW_UPDATE, 31 bits
  uint32_t ping_id = 0;           // PING
  std::vector<Setting> settings;  // SETTINGS
  std::string payload;            // data bytes, or a compressed header block
};

// The wire form of `frame`.
std::string Encode(const Frame& frame);

// Reads one frame from the front of `in`. nullopt when `in` holds only part
// of a frame; otherwise the frame and the bytes it took. An error for a frame
// that can never be valid (wrong version, oversized, bad length for its
// type): the session must close.
struct Decoded {
  Frame frame;
  size_t consumed;
};
absl::StatusOr<std::optional<Decoded>> Decode(std::string_view in);

// The header of a DATA frame at the front of `in`, which must hold at least
// kFrameHeaderSize bytes; nullopt for a control frame (Decode it whole). Lets
// a reader pass a DATA payload on as it arrives instead of buffering the
// frame. The same length limit as Decode.
struct DataHeader {
  uint32_t stream_id;
  uint8_t flags;
  uint32_t length;
};
absl::StatusOr<std::optional<DataHeader>> DecodeDataHeader(std::string_view in);

}  // namespace ocid::streaming::spdy

#endif  // OCID_PKG_STREAMING_SPDY_FRAME_H_
