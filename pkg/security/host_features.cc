#include "pkg/security/host_features.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"

namespace ocid {

namespace cri = ::runtime::v1;

absl::Status CheckUserNamespace(const cri::NamespaceOption& options, absl::string_view field) {
  if (!options.has_userns_options()) return absl::OkStatus();
  const cri::UserNamespace& userns = options.userns_options();
  switch (userns.mode()) {
    case cri::NamespaceMode::NODE:
      if (userns.uids_size() > 0 || userns.gids_size() > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": uid/gid mappings need mode POD, not NODE"));
      }
      return absl::OkStatus();
    case cri::NamespaceMode::POD:
      // runc 1.1 cannot mount the container's overlay rootfs with an idmap,
      // so files the image owns would belong to nobody inside.
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": user namespaces (mode POD) are not supported: the runtimes here cannot give "
                 "the container's rootfs an idmapped mount (runc before 1.2)"));
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": mode ", cri::NamespaceMode_Name(userns.mode()),
                       " is not a user namespace mode (NODE or POD)"));
  }
}

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
