// Finding and reading the files of a dir of persisted records: the one
// loader behind RecordStore (pods, containers), the image store and the
// layer store.
#ifndef OCID_PKG_BASE_RECORD_FILES_H_
#define OCID_PKG_BASE_RECORD_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

struct RecordFile {
  std::string entry;  // the name of its entry in the records dir
  std::string path;   // the file read
  // Its contents, or why it could not be read: the caller decides whether
  // that fails the load or drops the record (a layer never completed).
  absl::StatusOr<std::string> text;
};

struct RecordDirLayout {
  // Entries taken are those whose name ends in this (".json", so not the
  // "<name>.tmp-*" of an atomic write cut short). Hidden entries (a layer's
  // ".unpack-*" temp dir) never are.
  std::string suffix;
  // "" when each entry is a record file; else each entry is a dir holding
  // its record in this file (a layer's "layer.json").
  std::string file_in_entry;
  size_t max_bytes = 1 << 20;
};

// Makes `dir` if missing, then reads each record file in it, sorted by entry
// name. Errors are those of making or listing the dir.
absl::StatusOr<std::vector<RecordFile>> ReadRecordFiles(const std::string& dir,
                                                        const RecordDirLayout& layout);

}  // namespace ocid

#endif  // OCID_PKG_BASE_RECORD_FILES_H_
