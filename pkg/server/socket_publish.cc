#include "pkg/server/socket_publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "pkg/base/status_macros.h"

namespace ocid {

std::string PrivateSocketPath(const std::string& path, pid_t pid) {
  size_t slash = path.rfind('/');
  size_t base = slash == std::string::npos ? 0 : slash + 1;
  std::string bind_path = absl::StrCat(path.substr(0, base), ".", path.substr(base), ".", pid);
  if (bind_path.size() >= sizeof(sockaddr_un::sun_path)) return "";
  return bind_path;
}

namespace {

// rename(2) that fails with EEXIST instead of replacing `to`.
int RenameNoReplace(const char* from, const char* to) {
  if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  // A file system without RENAME_NOREPLACE: PrepareSocketPath found `to`
  // free a moment ago; a plain rename is the best left.
  return ::rename(from, to);
}

}  // namespace

absl::Status ListenThenPublish(const std::string& path, mode_t mode,
                               absl::FunctionRef<absl::Status(const std::string&)> listen) {
  std::string bind_path = PrivateSocketPath(path, ::getpid());
  if (bind_path.empty()) {
    // No room for a private name: bind in place, with the short window
    // between bind and listen that the private name avoids.
    RETURN_IF_ERROR(listen(path));
    if (::chmod(path.c_str(), mode) != 0) {
      absl::Status status = absl::ErrnoToStatus(errno, absl::StrCat("chmod ", path));
      ::unlink(path.c_str());
      return status;
    }
    return absl::OkStatus();
  }
  // Only a killed ocid with our pid leaves this behind.
  if (::unlink(bind_path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("remove stale ", bind_path));
  }
  absl::Cleanup remove_bind_path = [&] { ::unlink(bind_path.c_str()); };
  RETURN_IF_ERROR(listen(bind_path));
  if (::chmod(bind_path.c_str(), mode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", bind_path));
  }
  if (RenameNoReplace(bind_path.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " appeared while ocid started; another server is starting there?"));
    }
    return absl::ErrnoToStatus(errno, absl::StrCat("rename ", bind_path, " to ", path));
  }
  std::move(remove_bind_path).Cancel();
  return absl::OkStatus();
}

}  // namespace ocid
