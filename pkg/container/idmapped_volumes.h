// CRI mounts with uid/gid mappings (idmapped volumes). runc 1.1 knows no
// per-mount mappings, so ocid makes each such mount itself: the host path is
// cloned and idmapped (IdmappedTree, with the mounts below it, as the bind is
// recursive) and attached at <bundle>/idmap/<mount index>; config.json then
// binds that path, an ordinary bind mount, which keeps the idmap.
#ifndef OCID_PKG_CONTAINER_IDMAPPED_VOLUMES_H_
#define OCID_PKG_CONTAINER_IDMAPPED_VOLUMES_H_

#include <string>

#include "absl/status/statusor.h"
#include "api/runtime/v1/api.pb.h"
#include "pkg/base/fs.h"

namespace ocid {

// Where mount `index`'s idmapped tree is attached.
std::string IdmappedVolumePath(const std::string& bundle, int index);

// Attaches the host path of `mount` (the CRI mount `field`, e.g.
// "config.mounts[2]"), idmapped through the user namespace `userns_fd`, at
// IdmappedVolumePath(bundle, index) (a dir, or a file for a file). A host
// path that is not absolute or does not exist, or whose file system (or a
// mount below it) this host cannot idmap, is InvalidArgument naming
// `field`.host_path and saying what the host lacks.
absl::StatusOr<ScopedMount> MountIdmappedVolume(const runtime::v1::Mount& mount,
                                                const std::string& field, int userns_fd,
                                                const std::string& bundle, int index);

// Detaches every mount under <bundle>/idmap. Idempotent (no dir is fine). An
// error when one could not be detached: the bundle must then not be removed,
// since below that mount are the host's files.
absl::Status UnmountIdmappedVolumes(const std::string& bundle);

// UnmountIdmappedVolumes, then RemoveAll(bundle) if they are all gone.
absl::Status RemoveBundle(const std::string& bundle);

}  // namespace ocid

#endif  // OCID_PKG_CONTAINER_IDMAPPED_VOLUMES_H_
