#include "pkg/streaming/spdy_frame.h"

#include "absl/strings/str_cat.h"

namespace ocid::streaming::spdy {
namespace {

constexpr uint32_t k31Bits = 0x7fffffff;

void Put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t Get32(std::string_view in, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(
                               static_cast<uint8_t>(in[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

std::string ControlBody(const Frame& f) {
  std::string body;
  switch (f.type) {
    case FrameType::kSynStream:
      Put32(body, f.stream_id & k31Bits);
      Put32(body, f.assoc_stream_id & k31Bits);
      body.push_back(static_cast<char>((f.priority & 0x7) << 5));
      body.push_back(0);  // slot, unused in 3.1
      body += f.payload;
      break;
    case FrameType::kSynReply:
    case FrameType::kHeaders:
      Put32(body, f.stream_id & k31Bits);
      body += f.payload;
      break;
    case FrameType::kRstStream:
    case FrameType::kGoAway:
      Put32(body, f.stream_id & k31Bits);
      Put32(body, f.status);
      break;
    case FrameType::kSettings:
      Put32(body, static_cast<uint32_t>(f.settings.size()));
      for (const Setting& s : f.settings) {
        Put32(body, static_cast<uint32_t>(s.flags) << 24 | (s.id & 0xffffff));
        Put32(body, s.value);
      }
      break;
    case FrameType::kPing:
      Put32(body, f.ping_id);
      break;
    case FrameType::kWindowUpdate:
      Put32(body, f.stream_id & k31Bits);
      Put32(body, f.delta & k31Bits);
      break;
    case FrameType::kData:
      break;
  }
  return body;
}

absl::Status NeedLength(const Frame& f, size_t len, size_t want, bool exact) {
  if (exact ? len == want : len >= want) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "SPDY control frame of type ", static_cast<int>(f.type), " has length ",
      len, ", want ", exact ? "" : "at least ", want));
}

absl::Status DecodeControl(std::string_view body, Frame& f) {
  switch (f.type) {
    case FrameType::kSynStream:
      if (auto s = NeedLength(f, body.size(), 10, false); !s.ok()) return s;
      f.stream_id = Get32(body, 0) & k31Bits;
      f.assoc_stream_id = Get32(body, 4) & k31Bits;
      f.priority = static_cast<uint8_t>(body[8]) >> 5;
      f.payload = std::string(body.substr(10));
      return absl::OkStatus();
    case FrameType::kSynReply:
    case FrameType::kHeaders:
      if (auto s = NeedLength(f, body.size(), 4, false); !s.ok()) return s;
      f.stream_id = Get32(body, 0) & k31Bits;
      f.payload = std::string(body.substr(4));
      return absl::OkStatus();
    case FrameType::kRstStream:
    case FrameType::kGoAway:
      if (auto s = NeedLength(f, body.size(), 8, true); !s.ok()) return s;
      f.stream_id = Get32(body, 0) & k31Bits;
      f.status = Get32(body, 4);
      return absl::OkStatus();
    case FrameType::kSettings: {
      if (auto s = NeedLength(f, body.size(), 4, false); !s.ok()) return s;
      uint32_t n = Get32(body, 0);
      if (auto s = NeedLength(f, body.size(), 4 + size_t{n} * 8, true);
          !s.ok()) {
        return s;
      }
      for (uint32_t i = 0; i < n; ++i) {
        uint32_t head = Get32(body, 4 + i * 8);
        f.settings.push_back(Setting{static_cast<uint8_t>(head >> 24),
                                     head & 0xffffff,
                                     Get32(body, 8 + i * 8)});
      }
      return absl::OkStatus();
    }
    case FrameType::kPing:
      if (auto s = NeedLength(f, body.size(), 4, true); !s.ok()) return s;
      f.ping_id = Get32(body, 0);
      return absl::OkStatus();
    case FrameType::kWindowUpdate:
      if (auto s = NeedLength(f, body.size(), 8, true); !s.ok()) return s;
      f.stream_id = Get32(body, 0) & k31Bits;
      f.delta = Get32(body, 4) & k31Bits;
      return absl::OkStatus();
    case FrameType::kData:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown SPDY control frame type ", static_cast<int>(f.type)));
}

}  // namespace

std::string Encode(const Frame& f) {
  std::string body =
      f.type == FrameType::kData ? f.payload : ControlBody(f);
  std::string out;
  out.reserve(kFrameHeaderSize + body.size());
  if (f.type == FrameType::kData) {
    Put32(out, f.stream_id & k31Bits);
  } else {
    Put32(out, 0x80000000u | uint32_t{kVersion} << 16 |
                   static_cast<uint16_t>(f.type));
  }
  Put32(out, static_cast<uint32_t>(f.flags) << 24 |
                 (static_cast<uint32_t>(body.size()) & 0xffffff));
  out += body;
  return out;
}

absl::StatusOr<std::optional<Decoded>> Decode(std::string_view in) {
  if (in.size() < kFrameHeaderSize) return std::nullopt;
  uint32_t first = Get32(in, 0);
  uint32_t second = Get32(in, 4);
  uint32_t length = second & 0xffffff;
  if (length > kMaxPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("SPDY frame of ", length, " bytes exceeds ", kMaxPayload));
  }
  Frame f;
  f.flags = static_cast<uint8_t>(second >> 24);
  bool control = (first & 0x80000000u) != 0;
  if (control) {
    uint16_t version = (first >> 16) & 0x7fff;
    if (version != kVersion) {
      return absl::InvalidArgumentError(
          absl::StrCat("SPDY version ", version, ", want 3"));
    }
    uint16_t type = first & 0xffff;
    if (type == 0 || type == 5 || type > 9) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown SPDY control frame type ", type));
    }
    f.type = static_cast<FrameType>(type);
  }
  if (in.size() < kFrameHeaderSize + length) return std::nullopt;
  std::string_view body = in.substr(kFrameHeaderSize, length);
  if (control) {
    if (absl::Status s = DecodeControl(body, f); !s.ok()) return s;
  } else {
    f.stream_id = first & k31Bits;
    f.payload = std::string(body);
  }
  return Decoded{std::move(f), kFrameHeaderSize + length};
}

absl::StatusOr<std::optional<DataHeader>> DecodeDataHeader(std::string_view in) {
  uint32_t first = Get32(in, 0);
  if (first & 0x80000000u) return std::nullopt;
  uint32_t second = Get32(in, 4);
  uint32_t length = second & 0xffffff;
  if (length > kMaxPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("SPDY frame of ", length, " bytes exceeds ", kMaxPayload));
  }
  return DataHeader{first & k31Bits, static_cast<uint8_t>(second >> 24), length};
}

}  // namespace ocid::streaming::spdy
