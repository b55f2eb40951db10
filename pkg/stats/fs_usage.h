// Disk use of a directory tree: bytes (allocated blocks) and inodes, each
// hard-linked file counted once, not crossing mount points.
#ifndef OCID_PKG_STATS_FS_USAGE_H_
#define OCID_PKG_STATS_FS_USAGE_H_

#include <cstdint>
#include <string>

namespace ocid {

struct FsUsage {
  uint64_t bytes = 0;
  uint64_t inodes = 0;
};

// Usage under `root`; a missing root is zero. Entries that vanish during
// the walk (a container writing) are skipped.
FsUsage MeasureTree(const std::string& root);

}  // namespace ocid

#endif  // OCID_PKG_STATS_FS_USAGE_H_
