// Reading and writing the JSON of persisted records (pods, containers,
// images, layers) so that records outlive the release that wrote them.
//
// Rules, for every record type:
// - Serialize writes `"version": kRecordVersion`. Records from before
//   versions existed have no version key and read as version 0.
// - A missing key leaves the field at its default: a release that adds a
//   field still loads the records of the one before. So a new field's
//   default must mean what the old behaviour meant.
// - A key present with the wrong type is DataLoss naming the key: that file
//   was damaged or written by something else, and guessing would be worse.
// - A record with a newer version than ours still loads the keys we know
//   (and logs a warning): a downgrade after an upgrade then keeps managing
//   the pods and containers that run, rather than refusing to start. This
//   holds as long as a key never changes meaning (a new meaning takes a new
//   key). Keys we don't know are dropped when we next write the record.
#ifndef OCID_PKG_BASE_RECORD_JSON_H_
#define OCID_PKG_BASE_RECORD_JSON_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace ocid {

// The version this build writes. Bump it when a record's layout changes in a
// way a reader might need to know about (adding a key needs no bump).
inline constexpr int64_t kRecordVersion = 1;

// Reads fields out of one record's JSON object. Each Read leaves `out`
// untouched when the key is missing; the first wrong-typed key is kept as the
// error that status() returns (later Reads are then no-ops).
//   ASSIGN_OR_RETURN(RecordReader in, RecordReader::Parse(text, "container"));
//   in.Require("id", r.id);
//   in.Read("name", r.name);
//   RETURN_IF_ERROR(in.status());
class RecordReader {
 public:
  // DataLoss unless `text` is a JSON object. `kind` names the record in
  // errors and in the warning for a record newer than kRecordVersion.
  static absl::StatusOr<RecordReader> Parse(absl::string_view text, absl::string_view kind);

  int64_t version() const { return version_; }

  // A key the record cannot do without (its ID): missing is DataLoss too.
  void Require(const char* key, std::string& out);

  void Read(const char* key, std::string& out);
  void Read(const char* key, bool& out);
  void Read(const char* key, int64_t& out);
  void Read(const char* key, int32_t& out);
  void Read(const char* key, uint32_t& out);
  void Read(const char* key, uint64_t& out);  // up to INT64_MAX
  void Read(const char* key, std::vector<std::string>& out);
  void Read(const char* key, std::vector<int64_t>& out);
  void Read(const char* key, std::map<std::string, std::string>& out);

  absl::Status status() const { return status_; }

 private:
  RecordReader(nlohmann::json json, std::string kind)
      : json_(std::move(json)), kind_(std::move(kind)) {}
  // The value at `key`, or nullptr when it is missing or an error is kept.
  const nlohmann::json* Find(const char* key);
  void Integer(const char* key, int64_t min, int64_t max, int64_t& out);
  void WrongType(const char* key, absl::string_view expected);

  nlohmann::json json_;
  std::string kind_;
  int64_t version_ = 0;
  absl::Status status_;
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_RECORD_JSON_H_
