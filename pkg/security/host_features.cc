#include "pkg/security/host_features.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"

namespace ocid {

namespace cri = ::runtime::v1;

absl::Status CheckSelinuxOptions(const cri::SELinuxOption& options, absl::string_view field,
                                 const std::string& selinux_root) {
  if (options.user().empty() && options.role().empty() && options.type().empty() &&
      options.level().empty()) {
    return absl::OkStatus();
  }
  if (::access((selinux_root + "/enforce").c_str(), F_OK) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": SELinux labels are not supported yet, and this host runs SELinux: refused "
               "rather than run the container unlabelled"));
  }
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    OCID_LOG(kInfo) << "SELinux is not enabled on this host: selinux_options are ignored";
  }
  return absl::OkStatus();
}

}  // namespace ocid
