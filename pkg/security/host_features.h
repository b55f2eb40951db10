// Security features ocid does not build yet, checked where a request asks for
// them, so that none is silently ignored: SELinux labels are refused on a host
// that enforces SELinux and ignored, with one log line, on a host without it.
// (User namespaces are pkg/security/userns.h.)
#ifndef OCID_PKG_SECURITY_HOST_FEATURES_H_
#define OCID_PKG_SECURITY_HOST_FEATURES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/runtime/v1/api.pb.h"

namespace ocid {

// `selinux_root` holds the kernel's SELinux state (tests give a fake):
// selinuxfs' `enforce` there means SELinux is on.
absl::Status CheckSelinuxOptions(const runtime::v1::SELinuxOption& options, absl::string_view field,
                                 const std::string& selinux_root = "/sys/fs/selinux");

}  // namespace ocid

#endif  // OCID_PKG_SECURITY_HOST_FEATURES_H_
