// critest's "Runtime info" specs (cri-tools pkg/validate/runtime_info.go).
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

using RuntimeInfo = CriTest;

TEST_F(RuntimeInfo, RuntimeShouldReturnVersionInfo) {
  v1::VersionRequest request;
  request.set_version("v1");  // critest's defaultAPIVersion
  v1::VersionResponse version;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::Version, request, &version));
  // critest only asks that the fields exist; a runtime that fills them with
  // nothing would tell kubelet nothing, so ask for content.
  EXPECT_FALSE(version.version().empty());
  EXPECT_FALSE(version.runtime_name().empty());
  EXPECT_FALSE(version.runtime_version().empty());
  EXPECT_EQ(version.runtime_api_version(), "v1");
}

TEST_F(RuntimeInfo, RuntimeShouldReturnRuntimeConditions) {
  v1::StatusRequest request;
  v1::StatusResponse status;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::Status, request, &status));
  int ready = 0;
  for (const v1::RuntimeCondition& condition : status.status().conditions()) {
    if ((condition.type() == "RuntimeReady" || condition.type() == "NetworkReady") &&
        condition.status()) {
      ++ready;
    }
  }
  EXPECT_GE(ready, 2) << "RuntimeReady and NetworkReady must both be true: "
                      << status.status().ShortDebugString();
}

}  // namespace
}  // namespace ocid::e2e
