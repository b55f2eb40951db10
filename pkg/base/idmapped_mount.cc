#include "pkg/base/idmapped_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>

#include "absl/strings/str_cat.h"

namespace ocid {

absl::StatusOr<UniqueFd> IdmappedTree(const std::string& path, int userns_fd, bool recursive,
                                      absl::string_view what) {
  const unsigned recursion = recursive ? AT_RECURSIVE : 0;
  UniqueFd tree(
      ::open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | recursion));
  if (!tree.valid()) {
    absl::Status status = absl::ErrnoToStatus(errno, absl::StrCat("open_tree (clone) ", path));
    if (errno == ENOSYS) return absl::FailedPreconditionError(status.message());
    return status;
  }
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | recursion, &attr, sizeof(attr)) != 0) {
    int error = errno;
    struct statfs fs = {};
    ::statfs(path.c_str(), &fs);
    std::string message =
        absl::StrCat("this host cannot idmap ", what, " ", path, " (file system type 0x",
                     absl::Hex(fs.f_type), "): mount_setattr MOUNT_ATTR_IDMAP");
    if (error == EINVAL || error == ENOSYS || error == EPERM || error == EOPNOTSUPP) {
      return absl::FailedPreconditionError(absl::StrCat(message, ": ", strerror(error)));
    }
    return absl::ErrnoToStatus(error, message);
  }
  return tree;
}

absl::StatusOr<ScopedMount> AttachTree(int tree_fd, const std::string& target) {
  if (::move_mount(tree_fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return absl::ErrnoToStatus(errno, "attach the idmapped mount at " + target);
  }
  return ScopedMount(target);
}

}  // namespace ocid
