// Idmapped mounts (new mount API): a tree cloned from a path whose file
// owners are seen through a user namespace's mappings, for pod user
// namespaces (the image's layers, volumes with CRI uid/gid mappings).
#ifndef OCID_PKG_BASE_IDMAPPED_MOUNT_H_
#define OCID_PKG_BASE_IDMAPPED_MOUNT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/base/fs.h"
#include "pkg/base/unique_fd.h"

namespace ocid {

// `path` as a detached mount (open_tree OPEN_TREE_CLONE, with the mounts
// below it when `recursive`) idmapped through the user namespace `userns_fd`
// (mount_setattr MOUNT_ATTR_IDMAP): a file whose id on disk is C shows as
// the host id that C maps to in the namespace, so that inside it the file is
// C's, while nothing on disk changes. The detached mount dissolves when the last
// fd of it closes (unless attached). A host that cannot (no open_tree; the
// file system or a mount below refusing: EINVAL, ENOSYS, EPERM, EOPNOTSUPP)
// is FailedPrecondition "this host cannot idmap <what> <path> (file system
// type 0x...): mount_setattr MOUNT_ATTR_IDMAP: <error>"; a missing path is
// NotFound.
absl::StatusOr<UniqueFd> IdmappedTree(const std::string& path, int userns_fd, bool recursive,
                                      absl::string_view what);

// Attaches the detached mount `tree_fd` at `target` (move_mount); the
// returned ScopedMount detaches it again.
absl::StatusOr<ScopedMount> AttachTree(int tree_fd, const std::string& target);

}  // namespace ocid

#endif  // OCID_PKG_BASE_IDMAPPED_MOUNT_H_
