#include "cmd/ocic/output.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace ocid::ocic {

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a valid message to JSON cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string FormatNanos(int64_t unix_nanos) {
  if (unix_nanos == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixNanos(unix_nanos),
                          absl::UTCTimeZone());
}

std::string ShortId(const std::string& id) { return id.substr(0, 13); }

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, "B") : absl::StrFormat("%.3g%s", value, units[unit]);
}

std::string FormatPullProgress(int layers_done, int layers_total, int64_t bytes_done,
                               int64_t bytes_total, double seconds) {
  constexpr int kWidth = 20;
  double fraction = bytes_total > 0 ? static_cast<double>(bytes_done) / bytes_total
                    : layers_total > 0 ? static_cast<double>(layers_done) / layers_total
                                       : 0;
  int filled = static_cast<int>(std::min(1.0, std::max(0.0, fraction)) * kWidth);
  std::string bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '-') + "]";
  uint64_t speed = seconds > 0 ? static_cast<uint64_t>(bytes_done / seconds) : 0;
  return absl::StrCat(bar, " ", layers_done, "/", layers_total, " layers  ",
                      FormatBytes(static_cast<uint64_t>(bytes_done)), "/",
                      FormatBytes(static_cast<uint64_t>(bytes_total)), "  ", FormatBytes(speed),
                      "/s");
}

}  // namespace ocid::ocic
