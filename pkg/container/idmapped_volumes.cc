#include "pkg/container/idmapped_volumes.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "pkg/base/idmapped_mount.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

// runc mounts from inside a pod's user namespace: others must search the
// dir to reach the trees (names in it are indexes, nothing to hide).
constexpr mode_t kIdmapDirMode = 0711;
constexpr int kMaxStackedMounts = 16;

std::string IdmapDir(const std::string& bundle) { return bundle + "/idmap"; }

absl::Status MakeMountPoint(const std::string& target, bool dir) {
  if (dir) {
    if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, "mkdir " + target);
    }
    return absl::OkStatus();
  }
  UniqueFd file(::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!file.valid()) return absl::ErrnoToStatus(errno, "create " + target);
  return absl::OkStatus();
}

}  // namespace

std::string IdmappedVolumePath(const std::string& bundle, int index) {
  return absl::StrCat(IdmapDir(bundle), "/", index);
}

absl::StatusOr<ScopedMount> MountIdmappedVolume(const runtime::v1::Mount& mount,
                                                const std::string& field, int userns_fd,
                                                const std::string& bundle, int index) {
  const std::string host_field = field + ".host_path";
  const std::string& host_path = mount.host_path();
  if (host_path.empty() || host_path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(host_field, ": \"", host_path, "\" is not absolute"));
  }
  struct stat st;
  if (::stat(host_path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        host_field, ": ", host_path, ": ", errno == ENOENT ? "does not exist" : strerror(errno)));
  }
  RETURN_IF_ERROR(MakeDirs(IdmapDir(bundle), kIdmapDirMode));
  // MakeDirs leaves an existing dir's mode, and the umask narrows a new one.
  if (::chmod(IdmapDir(bundle).c_str(), kIdmapDirMode) != 0) {
    return absl::ErrnoToStatus(errno, "chmod " + IdmapDir(bundle));
  }
  const std::string target = IdmappedVolumePath(bundle, index);
  RETURN_IF_ERROR(MakeMountPoint(target, S_ISDIR(st.st_mode)));
  absl::StatusOr<UniqueFd> tree =
      IdmappedTree(host_path, userns_fd, /*recursive=*/true, "the host path");
  if (!tree.ok()) {
    if (absl::IsFailedPrecondition(tree.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat(host_field, ": ", tree.status().message(),
                       " (uidMappings/gidMappings need a file system that supports idmapped "
                       "mounts, for the path and every mount below it)"));
    }
    return absl::Status(tree.status().code(),
                        absl::StrCat(host_field, ": ", tree.status().message()));
  }
  return AttachTree(tree->get(), target);
}

absl::Status UnmountIdmappedVolumes(const std::string& bundle) {
  absl::StatusOr<std::vector<std::string>> names = ListDir(IdmapDir(bundle));
  if (!names.ok()) return absl::IsNotFound(names.status()) ? absl::OkStatus() : names.status();
  for (const std::string& name : *names) {
    const std::string path = absl::StrCat(IdmapDir(bundle), "/", name);
    int stacked = 0;
    while (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
      if (++stacked == kMaxStackedMounts) {
        return absl::InternalError("too many mounts on " + path);
      }
    }
    // EINVAL: not (or no longer) a mount point.
    if (errno != EINVAL && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, "unmount the idmapped volume " + path);
    }
  }
  return absl::OkStatus();
}

absl::Status RemoveBundle(const std::string& bundle) {
  RETURN_IF_ERROR(UnmountIdmappedVolumes(bundle));
  return RemoveAll(bundle);
}

}  // namespace ocid
