// SPDY/3 header blocks: the name/value list that SYN_STREAM, SYN_REPLY and
// HEADERS carry, and the zlib compression both ends keep across a
// connection's frames.
#ifndef OCID_PKG_STREAMING_SPDY_HEADERS_H_
#define OCID_PKG_STREAMING_SPDY_HEADERS_H_

#include <zlib.h>

#include <cstddef>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ocid::streaming::spdy {

extern const unsigned char kHeaderDictionary[];
extern const size_t kHeaderDictionarySize;

// Names are lower case on the wire; a name given twice is sent once with its
// values joined by NUL, as SPDY/3 wants.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of `name` (case-insensitive), "" when absent.
std::string HeaderValue(const Headers& headers, absl::string_view name);

// The uncompressed block: a 32-bit count, then length-prefixed names and
// values.
std::string EncodeHeaderBlock(const Headers& headers);
// InvalidArgument for a truncated block, an empty or upper-case name, or a
// block of more than `max_headers` entries.
absl::StatusOr<Headers> DecodeHeaderBlock(absl::string_view block, size_t max_headers = 100);

// One direction's compression context: a single zlib stream primed with the
// dictionary, flushed (not finished) after each block so that every frame
// can be decompressed on arrival.
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;

  absl::StatusOr<std::string> Compress(const Headers& headers);

 private:
  z_stream zs_{};
  bool ok_ = false;
};

class HeaderDecompressor {
 public:
  // `max_block` bounds the uncompressed size of one block: a peer cannot make
  // us inflate a bomb.
  explicit HeaderDecompressor(size_t max_block = 64 << 10);
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;

  absl::StatusOr<Headers> Decompress(absl::string_view compressed);

 private:
  z_stream zs_{};
  bool ok_ = false;
  size_t max_block_;
};

}  // namespace ocid::streaming::spdy

#endif  // OCID_PKG_STREAMING_SPDY_HEADERS_H_
