// Small file-system helpers shared by the packages.
#ifndef OCID_PKG_BASE_FS_H_
#define OCID_PKG_BASE_FS_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace ocid {

// Creates `path` and any missing parents with `mode` (like mkdir -p). An
// existing dir is fine; an existing non-dir is FailedPrecondition.
absl::Status MakeDirs(const std::string& path, mode_t mode);

}  // namespace ocid

#endif  // OCID_PKG_BASE_FS_H_
