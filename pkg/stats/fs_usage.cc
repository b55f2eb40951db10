#include "pkg/stats/fs_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <utility>

#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

struct Walk {
  dev_t dev = 0;
  FsUsage usage;
  std::set<std::pair<dev_t, ino_t>> linked;  // multiply-linked files seen
};

void Count(Walk& walk, const struct stat& st) {
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
      !walk.linked.insert({st.st_dev, st.st_ino}).second) {
    return;
  }
  walk.usage.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  walk.usage.inodes += 1;
}

// Walks the dir open at `fd` (taken), by fd so no path is ever rebuilt.
void WalkDir(Walk& walk, int fd, int depth) {
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return;
  }
  while (struct dirent* entry = ::readdir(dir)) {
    const char* name = entry->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    struct stat st;
    if (::fstatat(::dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_dev != walk.dev) continue;  // a mount below: not this tree's
    Count(walk, st);
    if (S_ISDIR(st.st_mode) && depth < 256) {
      int child = ::openat(::dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) WalkDir(walk, child, depth + 1);
    }
  }
  ::closedir(dir);
}

}  // namespace

FsUsage MeasureTree(const std::string& root) {
  Walk walk;
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return walk.usage;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return walk.usage;
  }
  walk.dev = st.st_dev;
  Count(walk, st);
  WalkDir(walk, fd, 0);
  return walk.usage;
}

}  // namespace ocid
