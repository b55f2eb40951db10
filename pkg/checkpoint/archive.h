// Checkpoint archives as cri-o and Podman write them (and checkpointctl
// reads them): an uncompressed tar holding
//   config.dump      JSON: the container's ID, name, image and runtime;
//   spec.dump        the container's OCI runtime spec (its config.json);
//   checkpoint/      CRIU's images (runc checkpoint --image-path);
//   rootfs-diff.tar  the files the container changed (its overlay upper dir);
//   deleted.files    JSON list of the image's files the container removed;
//   dump.log, stats-dump  CRIU's log and statistics, when present.
// Here: writing one from a work dir, reading (and checking) one, and the
// file a CheckpointContainer location names.
#ifndef OCID_PKG_CHECKPOINT_ARCHIVE_H_
#define OCID_PKG_CHECKPOINT_ARCHIVE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "pkg/base/unique_fd.h"

namespace ocid {

inline constexpr char kConfigDump[] = "config.dump";
inline constexpr char kSpecDump[] = "spec.dump";
inline constexpr char kCheckpointDir[] = "checkpoint";
inline constexpr char kRootfsDiffTar[] = "rootfs-diff.tar";
inline constexpr char kDeletedFiles[] = "deleted.files";

// config.dump (checkpointctl's ContainerConfig field names).
struct CheckpointConfig {
  std::string id;
  std::string name;
  std::string rootfs_image;       // the image as the client asked for it
  std::string rootfs_image_ref;   // its ID
  std::string rootfs_image_name;  // a name it can be looked up by
  std::string runtime;            // the runtime handler
  absl::Time created_time = absl::UnixEpoch();
  absl::Time checkpointed_at = absl::UnixEpoch();
  bool restored = false;

  std::string ToJson() const;
  // InvalidArgument naming what is wrong: not a JSON object, no id, no image.
  static absl::StatusOr<CheckpointConfig> FromJson(absl::string_view text);
};

// Writes `work_dir`/rootfs-diff.tar with what the overlay upper dir `upper`
// holds (directories, regular files, symlinks; owners, modes and mtimes
// kept) and `work_dir`/deleted.files with the paths its whiteouts hide.
absl::Status WriteRootfsDiff(const std::string& upper, const std::string& work_dir);

// Writes the archive of `work_dir` to `out_fd`: config.dump, spec.dump and
// checkpoint/ must be there (FailedPrecondition otherwise), the optional
// members are taken when present, nothing else is.
absl::Status WriteCheckpointArchive(const std::string& work_dir, int out_fd);

struct CheckpointContents {
  CheckpointConfig config;
  nlohmann::json spec;
  std::vector<std::string> deleted_files;  // absolute paths in the rootfs
  bool has_rootfs_diff = false;
};

// Unpacks the archive at `path` into `dest_dir` (an existing empty dir;
// nothing is written outside it, no device node is made) and checks it:
// InvalidArgument, naming the reason, for a file that is not a tar, an
// unsafe entry, or a missing or malformed config.dump, spec.dump or
// checkpoint/ (which must hold CRIU's inventory.img). On error the caller
// removes `dest_dir`.
absl::StatusOr<CheckpointContents> ReadCheckpointArchive(const std::string& path,
                                                         const std::string& dest_dir);

// Puts what the container had changed back into an empty overlay upper dir
// `upper`: the archive's rootfs-diff.tar, unpacked from `unpacked_dir` (as
// ReadCheckpointArchive left it) with the layer unpacker's rules, then a
// whiteout for each of `deleted_files`. InvalidArgument for an unsafe
// entry or path.
absl::Status ApplyRootfsDiff(const std::string& unpacked_dir,
                             const std::vector<std::string>& deleted_files,
                             const std::string& upper);

// Creates the file a checkpoint is written to, mode 0600 (it holds every
// memory page of the container). InvalidArgument unless `location` is an
// absolute, normalised path below one of `allowed_dirs` whose parent dir
// exists there (reached without following a symlink), and when it exists
// already. An allowed dir that does not exist yet is made (0700).
absl::StatusOr<UniqueFd> CreateCheckpointFile(const std::string& location,
                                              const std::vector<std::string>& allowed_dirs);

}  // namespace ocid

#endif  // OCID_PKG_CHECKPOINT_ARCHIVE_H_
