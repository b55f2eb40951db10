#include "pkg/base/trash.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/random_id.h"

namespace ocid {

absl::Status Trash::Open() {
  absl::Status made = MakeDirs(dir_, 0700);
  if (!made.ok()) return made;
  absl::StatusOr<std::vector<std::string>> left = ListDir(dir_);
  if (!left.ok()) return left.status();
  for (const std::string& name : *left) RemoveLater(absl::StrCat(dir_, "/", name));
  return absl::OkStatus();
}

absl::Status Trash::Discard(const std::string& path) {
  // A fresh name each time: an older tree of the same name may still be
  // in the trash.
  std::string name = path.substr(path.rfind('/') + 1);
  std::string target = absl::StrCat(dir_, "/", name, ".", NewRandomId().substr(0, 16));
  if (::rename(path.c_str(), target.c_str()) == 0) {
    RemoveLater(std::move(target));
    return absl::OkStatus();
  }
  if (errno == ENOENT) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();  // gone already
  }
  return RemoveAll(path);  // the trash is missing or elsewhere: the slow way
}

void Trash::RemoveLater(std::string path) {
  queue_.Run([path = std::move(path)] {
    absl::Status removed = RemoveAll(path);
    if (!removed.ok()) OCID_LOG(kWarn) << "trash: remove " << path << ": " << removed;
  });
}

}  // namespace ocid
