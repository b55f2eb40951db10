#include "pkg/base/fs.h"

#include <errno.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"

namespace ocid {

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty() || path == "/") return absl::OkStatus();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a directory"));
  }
  absl::Status parent = MakeDirs(path.substr(0, path.rfind('/')), mode);
  if (!parent.ok()) return parent;
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("create dir ", path));
  }
  return absl::OkStatus();
}

}  // namespace ocid
