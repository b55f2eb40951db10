// Small file-system helpers shared by the packages.
#ifndef OCID_PKG_BASE_FS_H_
#define OCID_PKG_BASE_FS_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

// Creates `path` and any missing parents with `mode` (like mkdir -p). An
// existing dir is fine; an existing non-dir is FailedPrecondition.
absl::Status MakeDirs(const std::string& path, mode_t mode);

// What WriteFileAtomically promises after a power loss (a crash of ocid
// alone leaves the old or the new file in every case: the page cache stays).
enum class Durability {
  kVolatile,  // nothing (runroot files, remade after a reboot): rename only
  kOldOrNew,  // the old or the new file, never a torn one: fsync, rename
  kDurable,   // the new file: fsync, rename, fsync of the dir
};

// Replaces `path` with `contents` through a temp file beside it, renamed
// over it: readers never see half a file.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 mode_t mode = 0644, Durability durability = Durability::kDurable);

// The whole file, refusing files over `max_bytes`.
absl::StatusOr<std::string> ReadFileToString(const std::string& path, size_t max_bytes);

// The names of the entries in the dir `path` (not "." and ".."), in the
// order readdir gives them. Errors from opening or reading the dir are
// returned (NotFound for a missing dir, so callers can treat that as empty).
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path);

// rm -rf: removes `path` and everything under it, not following symlinks.
// A missing path is fine.
absl::Status RemoveAll(const std::string& path);

// A mount that is detached (umount2 MNT_DETACH) when the object goes out of
// scope, unless Release()d to keep it.
class ScopedMount {
 public:
  ScopedMount() = default;
  explicit ScopedMount(std::string target) : target_(std::move(target)) {}
  ScopedMount(ScopedMount&& other) noexcept : target_(std::move(other.target_)) {
    other.target_.clear();
  }
  ScopedMount& operator=(ScopedMount&& other) noexcept;
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  ~ScopedMount() { Unmount().IgnoreError(); }

  const std::string& target() const { return target_; }
  // Keeps the mount; the caller now owns unmounting it.
  std::string Release() { return std::exchange(target_, std::string()); }
  absl::Status Unmount();

 private:
  std::string target_;
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_FS_H_
