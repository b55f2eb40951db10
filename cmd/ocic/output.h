// How ocic prints: JSON (the CRI message as proto3 JSON) or human tables.
#ifndef OCID_CMD_OCIC_OUTPUT_H_
#define OCID_CMD_OCIC_OUTPUT_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ocid::ocic {

// Proto3 JSON with the CRI field names (snake_case), indented.
std::string ToJson(const google::protobuf::Message& message);

// Columns padded to the widest cell, like crictl's tables.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "2026-11-28T06:40:07Z" from CRI nanoseconds; "" for 0.
std::string FormatNanos(int64_t unix_nanos);

// "k=v,k2=v2" from a proto map, sorted by key.
template <typename Map>
std::string FormatLabels(const Map& labels);

// A shortened ID for tables (13 characters, like crictl).
std::string ShortId(const std::string& id);

// "1.2MB" style sizes.
std::string FormatBytes(uint64_t bytes);

// One line of the pull progress bar:
// "[##########----------] 3/9 layers  105MB/210MB  52.5MB/s".
std::string FormatPullProgress(int layers_done, int layers_total, int64_t bytes_done,
                               int64_t bytes_total, double seconds);

}  // namespace ocid::ocic

#include <algorithm>

#include "absl/strings/str_join.h"

namespace ocid::ocic {

template <typename Map>
std::string FormatLabels(const Map& labels) {
  std::vector<std::string> pairs;
  for (const auto& [key, value] : labels) pairs.push_back(key + "=" + value);
  std::sort(pairs.begin(), pairs.end());
  return absl::StrJoin(pairs, ",");
}

}  // namespace ocid::ocic

#endif  // OCID_CMD_OCIC_OUTPUT_H_
