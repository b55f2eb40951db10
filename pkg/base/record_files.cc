#include "pkg/base/record_files.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"

namespace ocid {

absl::StatusOr<std::vector<RecordFile>> ReadRecordFiles(const std::string& dir,
                                                        const RecordDirLayout& layout) {
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  std::sort(names.begin(), names.end());
  std::vector<RecordFile> files;
  for (std::string& name : names) {
    if (name[0] == '.' || !absl::EndsWith(name, layout.suffix)) continue;
    std::string path = absl::StrCat(dir, "/", name);
    if (!layout.file_in_entry.empty()) absl::StrAppend(&path, "/", layout.file_in_entry);
    absl::StatusOr<std::string> text = ReadFileToString(path, layout.max_bytes);
    files.push_back({std::move(name), std::move(path), std::move(text)});
  }
  return files;
}

}  // namespace ocid
