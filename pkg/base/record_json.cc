#include "pkg/base/record_json.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"

namespace ocid {

absl::StatusOr<RecordReader> RecordReader::Parse(absl::string_view text, absl::string_view kind) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return absl::DataLossError(absl::StrCat(kind, " record: not a JSON object"));
  }
  RecordReader reader(std::move(json), std::string(kind));
  reader.Integer("version", 0, std::numeric_limits<int64_t>::max(), reader.version_);
  if (!reader.status_.ok()) return reader.status_;
  if (reader.version_ > kRecordVersion) {
    OCID_LOG(kWarn) << kind << " record of version " << reader.version_
                    << " (newer than this ocid's " << kRecordVersion
                    << "): loading the fields this version knows";
  }
  return reader;
}

const nlohmann::json* RecordReader::Find(const char* key) {
  if (!status_.ok()) return nullptr;
  auto it = json_.find(key);
  return it == json_.end() ? nullptr : &*it;
}

void RecordReader::WrongType(const char* key, absl::string_view expected) {
  status_ =
      absl::DataLossError(absl::StrCat(kind_, " record: key \"", key, "\" is not ", expected));
}

void RecordReader::Require(const char* key, std::string& out) {
  if (status_.ok() && !json_.contains(key)) {
    status_ = absl::DataLossError(absl::StrCat(kind_, " record: key \"", key, "\" is missing"));
    return;
  }
  Read(key, out);
}

void RecordReader::Read(const char* key, std::string& out) {
  const nlohmann::json* value = Find(key);
  if (value == nullptr) return;
  if (!value->is_string()) return WrongType(key, "a string");
  out = value->get<std::string>();
}

void RecordReader::Read(const char* key, bool& out) {
  const nlohmann::json* value = Find(key);
  if (value == nullptr) return;
  if (!value->is_boolean()) return WrongType(key, "a boolean");
  out = value->get<bool>();
}

void RecordReader::Integer(const char* key, int64_t min, int64_t max, int64_t& out) {
  const nlohmann::json* value = Find(key);
  if (value == nullptr) return;
  // nlohmann keeps non-negative numbers as unsigned: above int64's range
  // they are out of every range we read.
  bool fits =
      value->is_number_integer() &&
      !(value->is_number_unsigned() &&
        value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  if (fits) {
    int64_t n = value->get<int64_t>();
    fits = n >= min && n <= max;
  }
  if (!fits) return WrongType(key, absl::StrCat("an integer in [", min, ", ", max, "]"));
  out = value->get<int64_t>();
}

void RecordReader::Read(const char* key, int64_t& out) {
  Integer(key, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), out);
}

void RecordReader::Read(const char* key, int32_t& out) {
  int64_t n = out;
  Integer(key, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), n);
  out = static_cast<int32_t>(n);
}

void RecordReader::Read(const char* key, uint32_t& out) {
  int64_t n = out;
  Integer(key, 0, std::numeric_limits<uint32_t>::max(), n);
  out = static_cast<uint32_t>(n);
}

void RecordReader::Read(const char* key, uint64_t& out) {
  int64_t n = static_cast<int64_t>(out);
  Integer(key, 0, std::numeric_limits<int64_t>::max(), n);
  out = static_cast<uint64_t>(n);
}

void RecordReader::Read(const char* key, std::vector<std::string>& out) {
  const nlohmann::json* value = Find(key);
  if (value == nullptr) return;
  if (!value->is_array() ||
      !std::all_of(value->begin(), value->end(), [](const auto& e) { return e.is_string(); })) {
    return WrongType(key, "an array of strings");
  }
  out = value->get<std::vector<std::string>>();
}

void RecordReader::Read(const char* key, std::vector<int64_t>& out) {
  const nlohmann::json* value = Find(key);
  if (value == nullptr) return;
  if (!value->is_array() || !std::all_of(value->begin(), value->end(),
                                         [](const auto& e) { return e.is_number_integer(); })) {
    return WrongType(key, "an array of integers");
  }
  out = value->get<std::vector<int64_t>>();
}

void RecordReader::Read(const char* key, std::map<std::string, std::string>& out) {
  const nlohmann::json* value = Find(key);
  if (value == nullptr) return;
  if (!value->is_object() ||
      !std::all_of(value->begin(), value->end(), [](const auto& e) { return e.is_string(); })) {
    return WrongType(key, "an object of strings");
  }
  out = value->get<std::map<std::string, std::string>>();
}

}  // namespace ocid
