#include "pkg/base/build_features.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

// Set to 0 or 1 by pkg/base/BUILD.bazel from the --config switches.
static_assert(OCID_WITH_SECCOMP == 0 || OCID_WITH_SECCOMP == 1);
static_assert(OCID_WITH_APPARMOR == 0 || OCID_WITH_APPARMOR == 1);
static_assert(OCID_WITH_SELINUX == 0 || OCID_WITH_SELINUX == 1);

namespace ocid {
namespace {

struct FeatureInfo {
  BuildFeature feature;
  const char* name;
  bool built_in;
};

constexpr FeatureInfo kFeatures[] = {
    {BuildFeature::kSeccomp, "seccomp", OCID_WITH_SECCOMP == 1},
    {BuildFeature::kAppArmor, "apparmor", OCID_WITH_APPARMOR == 1},
    {BuildFeature::kSelinux, "selinux", OCID_WITH_SELINUX == 1},
};

const FeatureInfo& Info(BuildFeature feature) {
  for (const FeatureInfo& info : kFeatures) {
    if (info.feature == feature) return info;
  }
  return kFeatures[0];  // unreachable: every enum value is listed
}

}  // namespace

bool IsBuiltWith(BuildFeature feature) { return Info(feature).built_in; }

std::string DescribeBuildFeatures() {
  std::vector<std::string> names;
  for (const FeatureInfo& info : kFeatures) {
    if (info.built_in) names.push_back(info.name);
  }
  return names.empty() ? "none" : absl::StrJoin(names, " ");
}

absl::Status RequireBuildFeature(BuildFeature feature) {
  const FeatureInfo& info = Info(feature);
  if (info.built_in) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("ocid was built without ", info.name,
                                                    " (bazel build --config=", info.name,
                                                    ")"));
}

}  // namespace ocid
