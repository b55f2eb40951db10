#include "pkg/streaming/spdy_frame.h"

#include <string>

#include "gtest/gtest.h"

namespace ocid::streaming::spdy {
namespace {

Frame Make(FrameType type, uint32_t stream_id = 0, std::string payload = "",
           uint8_t flags = 0) {
  Frame f;
  f.type = type;
  f.stream_id = stream_id;
  f.payload = std::move(payload);
  f.flags = flags;
  return f;
}

void ExpectSame(const Frame& a, const Frame& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.stream_id, b.stream_id);
  EXPECT_EQ(a.assoc_stream_id, b.assoc_stream_id);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.delta, b.delta);
  EXPECT_EQ(a.ping_id, b.ping_id);
  ASSERT_EQ(a.settings.size(), b.settings.size());
  for (size_t i = 0; i < a.settings.size(); ++i) {
    EXPECT_EQ(a.settings[i].flags, b.settings[i].flags);
    EXPECT_EQ(a.settings[i].id, b.settings[i].id);
    EXPECT_EQ(a.settings[i].value, b.settings[i].value);
  }
  EXPECT_EQ(a.payload, b.payload);
}

Frame RoundTrip(const Frame& in) {
  std::string wire = Encode(in);
  auto got = Decode(wire);
  EXPECT_TRUE(got.ok()) << got.status();
  if (!got.ok() || !got->has_value()) {
    ADD_FAILURE() << "no frame decoded";
    return Frame{};
  }
  EXPECT_EQ((*got)->consumed, wire.size());
  return (*got)->frame;
}

TEST(SpdyFrameTest, EveryTypeRoundTrips) {
  Frame syn = Make(FrameType::kSynStream, 5, std::string("\x00\x01z", 3),
                   kFlagFin);
  syn.assoc_stream_id = 3;
  syn.priority = 7;
  Frame reply = Make(FrameType::kSynReply, 5, "hdrs");
  Frame headers = Make(FrameType::kHeaders, 9, "h");
  Frame rst = Make(FrameType::kRstStream, 7);
  rst.status = 5;
  Frame settings = Make(FrameType::kSettings);
  settings.settings = {{1, 4, 100}, {0, 7, 65536}};
  Frame ping = Make(FrameType::kPing);
  ping.ping_id = 0xdeadbeef;
  Frame goaway = Make(FrameType::kGoAway, 11);
  goaway.status = 1;
  Frame window = Make(FrameType::kWindowUpdate, 3);
  window.delta = 0x7fffffff;
  Frame data = Make(FrameType::kData, 1, std::string(70000, 'x'), kFlagFin);
  for (const Frame& f :
       {syn, reply, headers, rst, settings, ping, goaway, window, data}) {
    SCOPED_TRACE(static_cast<int>(f.type));
    ExpectSame(RoundTrip(f), f);
  }
}

TEST(SpdyFrameTest, ControlFrameWireLayout) {
  Frame ping = Make(FrameType::kPing);
  ping.ping_id = 1;
  // Control bit, version 3, type 6, no flags, length 4, id 1.
  EXPECT_EQ(Encode(ping),
            std::string("\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));
  Frame data = Make(FrameType::kData, 3, "ab", kFlagFin);
  EXPECT_EQ(Encode(data),
            std::string("\x00\x00\x00\x03\x01\x00\x00\x02" "ab", 10));
}

TEST(SpdyFrameTest, PartialInputWaitsForMore) {
  std::string wire = Encode(Make(FrameType::kData, 1, "hello"));
  for (size_t n = 0; n < wire.size(); ++n) {
    auto got = Decode(std::string_view(wire).substr(0, n));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->has_value()) << n;
  }
  std::string two = wire + Encode(Make(FrameType::kPing));
  auto got = Decode(two);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->consumed, wire.size());
}

TEST(SpdyFrameTest, BadFramesAreErrors) {
  // Version 2.
  EXPECT_FALSE(
      Decode(std::string("\x80\x02\x00\x06\x00\x00\x00\x04\0\0\0\1", 12)).ok());
  // Unknown type 5 (NOOP was dropped in SPDY/3).
  EXPECT_FALSE(
      Decode(std::string("\x80\x03\x00\x05\x00\x00\x00\x00", 8)).ok());
  // PING with 3 bytes.
  EXPECT_FALSE(
      Decode(std::string("\x80\x03\x00\x06\x00\x00\x00\x03\0\0\0", 11)).ok());
  // SETTINGS claiming more entries than its length holds.
  EXPECT_FALSE(Decode(std::string(
                          "\x80\x03\x00\x04\x00\x00\x00\x04\x00\x00\x00\x02",
                          12))
                   .ok());
  // Oversized length, rejected before the bytes arrive.
  EXPECT_FALSE(
      Decode(std::string("\x00\x00\x00\x01\x00\xff\xff\xff", 8)).ok());
}

TEST(SpdyFrame, DataHeaderComesBeforeItsPayload) {
  std::string wire = Encode(Make(FrameType::kData, 7, std::string(5000, 'z'), kFlagFin));
  // Only the header is needed: the payload may still be on its way.
  auto header = DecodeDataHeader(std::string_view(wire).substr(0, kFrameHeaderSize));
  ASSERT_TRUE(header.ok()) << header.status();
  ASSERT_TRUE(header->has_value());
  EXPECT_EQ((*header)->stream_id, 7u);
  EXPECT_EQ((*header)->flags, kFlagFin);
  EXPECT_EQ((*header)->length, 5000u);
}

TEST(SpdyFrame, DataHeaderLeavesControlFramesToDecode) {
  std::string wire = Encode(Make(FrameType::kRstStream, 3));
  auto header = DecodeDataHeader(wire);
  ASSERT_TRUE(header.ok());
  EXPECT_FALSE(header->has_value());
}

TEST(SpdyFrame, DataHeaderRefusesAnOversizedPayload) {
  std::string wire = {0, 0, 0, 1, 0, 0x7f, 0, 0};  // 8 MiB
  EXPECT_FALSE(DecodeDataHeader(wire).ok());
}

}  // namespace
}  // namespace ocid::streaming::spdy
