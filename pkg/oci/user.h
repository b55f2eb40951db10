// The user a container's process runs as: a CRI/image user string resolved
// against the container's own /etc/passwd and /etc/group.
#ifndef OCID_PKG_OCI_USER_H_
#define OCID_PKG_OCI_USER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ocid {

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // Groups listing the user as a member, then `supplemental_groups`; no
  // duplicates, and not the primary gid.
  std::vector<uint32_t> additional_gids;
  std::string home = "/";
};

// Resolves `user_spec` ("", "name", "uid", "name:group", "uid:gid"; "" is
// root) in `rootfs`'s etc/passwd and etc/group. The files are opened inside
// rootfs (openat2 RESOLVE_IN_ROOT), so their symlinks can't reach the host's
// files; a missing or non-regular file counts as empty. A numeric uid without
// a passwd entry gets gid 0 and home "/". Errors: InvalidArgument for an
// unknown user or group name (named in the message), a malformed spec, or an
// id out of range; the errno status when a file exists but can't be read.
absl::StatusOr<ResolvedUser> ResolveUser(const std::string& rootfs, const std::string& user_spec,
                                         const std::vector<int64_t>& supplemental_groups);

}  // namespace ocid

#endif  // OCID_PKG_OCI_USER_H_
