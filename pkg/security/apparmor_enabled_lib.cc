// AppArmorEnabled for a build with libapparmor (--config=apparmor): the
// library's aa_is_enabled() for the kernel's own state (it also checks that
// securityfs is mounted and that we may use it); a fake file (tests) is read.
#include <sys/apparmor.h>

#include "absl/strings/ascii.h"
#include "pkg/base/fs.h"
#include "pkg/security/apparmor.h"

namespace ocid {

bool AppArmorEnabled(const std::string& enabled_file) {
  if (enabled_file == AppArmorHost().enabled_file) return aa_is_enabled() == 1;
  absl::StatusOr<std::string> enabled = ReadFileToString(enabled_file, 16);
  return enabled.ok() && absl::StripAsciiWhitespace(*enabled) == "Y";
}

}  // namespace ocid
