#include "pkg/streaming/spdy_headers.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ocid::streaming::spdy {
namespace {

void Put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

// Reads a 32-bit length and that many bytes from `in` at `pos`.
bool TakeString(absl::string_view in, size_t& pos, std::string& out) {
  if (in.size() - pos < 4) return false;
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(in[pos + i])); };
  uint32_t len = b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
  pos += 4;
  if (in.size() - pos < len) return false;
  out = std::string(in.substr(pos, len));
  pos += len;
  return true;
}

}  // namespace

std::string HeaderValue(const Headers& headers, absl::string_view name) {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

std::string EncodeHeaderBlock(const Headers& headers) {
  // Merge repeated names, keeping the order of first appearance.
  std::vector<std::pair<std::string, std::vector<std::string>>> merged;
  for (const auto& [key, value] : headers) {
    std::string name = absl::AsciiStrToLower(key);
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const auto& entry) { return entry.first == name; });
    if (it == merged.end()) {
      merged.push_back({name, {value}});
    } else {
      it->second.push_back(value);
    }
  }
  std::string block;
  Put32(block, static_cast<uint32_t>(merged.size()));
  for (const auto& [name, values] : merged) {
    std::string joined = absl::StrJoin(values, absl::string_view("\0", 1));
    Put32(block, static_cast<uint32_t>(name.size()));
    block += name;
    Put32(block, static_cast<uint32_t>(joined.size()));
    block += joined;
  }
  return block;
}

absl::StatusOr<Headers> DecodeHeaderBlock(absl::string_view block, size_t max_headers) {
  if (block.size() < 4) return absl::InvalidArgumentError("SPDY header block is truncated");
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(block[i])); };
  uint32_t count = b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
  if (count > max_headers) {
    return absl::InvalidArgumentError(
        absl::StrCat("SPDY header block has ", count, " headers, more than ", max_headers));
  }
  Headers headers;
  size_t pos = 4;
  for (uint32_t i = 0; i < count; ++i) {
    std::string name, value;
    if (!TakeString(block, pos, name) || !TakeString(block, pos, value)) {
      return absl::InvalidArgumentError("SPDY header block is truncated");
    }
    if (name.empty() || name != absl::AsciiStrToLower(name)) {
      return absl::InvalidArgumentError(absl::StrCat("bad SPDY header name \"", name, "\""));
    }
    for (absl::string_view one : absl::StrSplit(value, absl::string_view("\0", 1))) {
      headers.emplace_back(name, std::string(one));
    }
  }
  return headers;
}

HeaderCompressor::HeaderCompressor() {
  ok_ = deflateInit(&zs_, Z_DEFAULT_COMPRESSION) == Z_OK &&
        deflateSetDictionary(&zs_, kHeaderDictionary, kHeaderDictionarySize) == Z_OK;
}

HeaderCompressor::~HeaderCompressor() { deflateEnd(&zs_); }

absl::StatusOr<std::string> HeaderCompressor::Compress(const Headers& headers) {
  if (!ok_) return absl::InternalError("zlib deflate could not start");
  std::string in = EncodeHeaderBlock(headers);
  std::string out;
  zs_.next_in = reinterpret_cast<Bytef*>(in.data());
  zs_.avail_in = static_cast<uInt>(in.size());
  char buf[4096];
  do {
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = sizeof(buf);
    int rc = deflate(&zs_, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      ok_ = false;
      return absl::InternalError(absl::StrCat("zlib deflate failed: ", rc));
    }
    out.append(buf, sizeof(buf) - zs_.avail_out);
  } while (zs_.avail_out == 0);
  return out;
}

HeaderDecompressor::HeaderDecompressor(size_t max_block) : max_block_(max_block) {
  ok_ = inflateInit(&zs_) == Z_OK;
}

HeaderDecompressor::~HeaderDecompressor() { inflateEnd(&zs_); }

absl::StatusOr<Headers> HeaderDecompressor::Decompress(absl::string_view compressed) {
  if (!ok_) return absl::InvalidArgumentError("the SPDY header stream is broken");
  std::string out;
  zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs_.avail_in = static_cast<uInt>(compressed.size());
  char buf[4096];
  while (zs_.avail_in > 0) {
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = sizeof(buf);
    int rc = inflate(&zs_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      rc = inflateSetDictionary(&zs_, kHeaderDictionary, kHeaderDictionarySize);
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      ok_ = false;
      return absl::InvalidArgumentError(absl::StrCat("bad compressed SPDY header block (zlib ",
                                                     rc, ")"));
    }
    out.append(buf, sizeof(buf) - zs_.avail_out);
    if (out.size() > max_block_) {
      ok_ = false;
      return absl::InvalidArgumentError(
          absl::StrCat("SPDY header block is larger than ", max_block_, " bytes"));
    }
    if (rc == Z_BUF_ERROR && zs_.avail_out != 0) break;  // no progress possible
  }
  return DecodeHeaderBlock(out);
}

}  // namespace ocid::streaming::spdy
