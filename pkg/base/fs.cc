#include "pkg/base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "pkg/base/unique_fd.h"

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

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return absl::ErrnoToStatus(errno, "open dir " + path);
  std::vector<std::string> names;
  while (true) {
    // readdir returns nullptr both at the end and on error: only errno tells.
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    absl::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int read_errno = errno;
  ::closedir(dir);
  if (read_errno != 0) return absl::ErrnoToStatus(read_errno, "read dir " + path);
  return names;
}

namespace {

absl::Status WriteAll(int fd, absl::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write " + what);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 mode_t mode, Durability durability) {
  const bool synced = durability != Durability::kVolatile;
  std::string temp = path + ".tmp-XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "create temp file for " + path);
  bool committed = false;
  struct RemoveTemp {
    const std::string& temp;
    const bool& committed;
    ~RemoveTemp() {
      if (!committed) ::unlink(temp.c_str());
    }
  } remove_temp{temp, committed};

  absl::Status status = WriteAll(fd.get(), contents, temp);
  if (!status.ok()) return status;
  if (::fchmod(fd.get(), mode) != 0) return absl::ErrnoToStatus(errno, "chmod " + temp);
  if (synced && ::fsync(fd.get()) != 0) return absl::ErrnoToStatus(errno, "fsync " + temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("rename ", temp, " to ", path));
  }
  committed = true;
  if (durability != Durability::kDurable) return absl::OkStatus();
  std::string dir = path.substr(0, path.rfind('/'));
  UniqueFd dir_fd(::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.valid()) ::fsync(dir_fd.get());
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + path);
  std::string contents;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read " + path);
    if (n == 0) break;
    if (contents.size() + static_cast<size_t>(n) > max_bytes) {
      return absl::OutOfRangeError(absl::StrCat(path, " is larger than ", max_bytes, " bytes"));
    }
    contents.append(buffer, static_cast<size_t>(n));
  }
  return contents;
}

absl::Status RemoveAll(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : absl::ErrnoToStatus(errno, "stat " + path);
  }
  auto remove_one = [](const char* entry, const struct stat*, int, struct FTW*) {
    return ::remove(entry) == 0 || errno == ENOENT ? 0 : -1;
  };
  if (::nftw(path.c_str(), remove_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) {
    return absl::ErrnoToStatus(errno, "remove " + path);
  }
  return absl::OkStatus();
}

ScopedMount& ScopedMount::operator=(ScopedMount&& other) noexcept {
  if (this != &other) {
    Unmount().IgnoreError();
    target_ = std::exchange(other.target_, std::string());
  }
  return *this;
}

absl::Status ScopedMount::Unmount() {
  if (target_.empty()) return absl::OkStatus();
  std::string target = std::exchange(target_, std::string());
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "unmount " + target);
  }
  return absl::OkStatus();
}

}  // namespace ocid
