// Security features ocid does not build yet, checked where a request asks for
// them, so that none is silently ignored: user namespaces (mode POD) are
// refused naming what this host lacks. (SELinux labels: selinux.h.)
#ifndef OCID_PKG_SECURITY_HOST_FEATURES_H_
#define OCID_PKG_SECURITY_HOST_FEATURES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/runtime/v1/api.pb.h"

namespace ocid {

// OK for no user namespace (no userns_options, which kubelet sends only
// when it asks for one, or mode NODE); InvalidArgument naming `field`
// (the userns_options) otherwise. POD is mode 0: a present message with no
// mode set asks for a pod user namespace.
absl::Status CheckUserNamespace(const runtime::v1::NamespaceOption& options,
                                absl::string_view field);

}  // namespace ocid

#endif  // OCID_PKG_SECURITY_HOST_FEATURES_H_
