#include "pkg/security/host_features.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

TEST(CheckUserNamespace, NodeIsFinePodAndOthersAreRefusedNamingTheField) {
  cri::NamespaceOption options;
  EXPECT_TRUE(CheckUserNamespace(options, "f").ok()) << "none asked";
  cri::UserNamespace& userns = *options.mutable_userns_options();
  userns.set_mode(cri::NamespaceMode::NODE);
  EXPECT_TRUE(CheckUserNamespace(options, "f").ok()) << "NODE: the host's";
  userns.set_mode(cri::NamespaceMode::POD);
  absl::Status pod = CheckUserNamespace(options, "config.x.userns_options");
  EXPECT_TRUE(absl::IsInvalidArgument(pod));
  EXPECT_TRUE(absl::StartsWith(pod.message(), "config.x.userns_options: ")) << pod;
  EXPECT_TRUE(absl::StrContains(pod.message(), "idmapped")) << pod;
  userns.set_mode(cri::NamespaceMode::TARGET);
  EXPECT_TRUE(absl::StrContains(CheckUserNamespace(options, "f").message(), "TARGET"));
  userns.set_mode(cri::NamespaceMode::NODE);
  userns.add_uids()->set_length(1);
  EXPECT_TRUE(absl::IsInvalidArgument(CheckUserNamespace(options, "f")));
}

}  // namespace
}  // namespace ocid
