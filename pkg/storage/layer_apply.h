// Unpacking one image layer (a tar, possibly gzip- or zstd-compressed) into a
// directory that becomes an overlayfs lower dir.
#ifndef OCID_PKG_STORAGE_LAYER_APPLY_H_
#define OCID_PKG_STORAGE_LAYER_APPLY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/storage/digest.h"

namespace ocid {

struct AppliedLayer {
  Digest diff_id;         // sha256 of the uncompressed tar stream, every byte
  int64_t unpacked_size;  // sum of the regular files' sizes
};

// Reads one layer from `layer_fd` (from its current offset to its end; the fd
// stays open) and unpacks it into `target_dir`, an existing empty directory.
// The compression (none, gzip, zstd) is detected from the stream's magic
// bytes. OCI whiteouts become overlay whiteouts: `.wh.NAME` a 0/0 character
// device `NAME`, `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its
// directory. Entries keep their owner, mode, mtime and xattrs (trusted.overlay.*
// and user.overlay.* from the tar are dropped: they would forge overlay state).
//
// Nothing is ever written outside `target_dir`: every path is resolved below
// it, one component at a time and without following symlinks. Errors:
//   InvalidArgument: an unsafe or unsupported entry (a ".." component, a path
//     through a symlink, a device node, a hard link to something outside the
//     layer), or a stream that is not a tar;
//   DataLoss: a truncated or corrupt stream;
//   FailedPrecondition: `target_dir` is not an empty directory;
//   others: a system call failed (the message names it and the path).
// On error `target_dir` holds a partial tree; the caller removes it.
absl::StatusOr<AppliedLayer> ApplyLayer(int layer_fd, const std::string& target_dir);

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_LAYER_APPLY_H_
