// AppArmorEnabled for a build without libapparmor: the kernel's module
// parameter says "Y".
#include "absl/strings/ascii.h"
#include "pkg/base/fs.h"
#include "pkg/security/apparmor.h"

namespace ocid {

bool AppArmorEnabled(const std::string& enabled_file) {
  absl::StatusOr<std::string> enabled = ReadFileToString(enabled_file, 16);
  return enabled.ok() && absl::StripAsciiWhitespace(*enabled) == "Y";
}

}  // namespace ocid
