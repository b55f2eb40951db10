// The optional features this binary was built with: bazel build
// --config=seccomp|apparmor|selinux (the seed's BUILDTAGS).
#ifndef OCID_PKG_BASE_BUILD_FEATURES_H_
#define OCID_PKG_BASE_BUILD_FEATURES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ocid {

enum class BuildFeature { kSeccomp, kAppArmor, kSelinux };

bool IsBuiltWith(BuildFeature feature);

// "seccomp apparmor selinux", or "none".
std::string DescribeBuildFeatures();

// OK when built with `feature`; otherwise FailedPrecondition saying how to
// build it in, for a request that needs it.
absl::Status RequireBuildFeature(BuildFeature feature);

}  // namespace ocid

#endif  // OCID_PKG_BASE_BUILD_FEATURES_H_
