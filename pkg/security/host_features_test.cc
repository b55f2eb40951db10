#include "pkg/security/host_features.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

TEST(CheckSelinuxOptions, IgnoredWithoutSelinuxAndRefusedWhereItEnforces) {
  std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/selinuxfs";
  std::filesystem::create_directories(root);
  cri::SELinuxOption options;
  EXPECT_TRUE(CheckSelinuxOptions(options, "f", root).ok()) << "no options";
  options.set_level("s0:c1,c2");
  EXPECT_TRUE(CheckSelinuxOptions(options, "f", root).ok()) << "no SELinux here: ignored";
  std::ofstream(root + "/enforce") << "1";
  absl::Status refused = CheckSelinuxOptions(options, "config.linux.selinux_options", root);
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_TRUE(absl::StartsWith(refused.message(), "config.linux.selinux_options: ")) << refused;
  options.Clear();
  EXPECT_TRUE(CheckSelinuxOptions(options, "f", root).ok()) << "none asked: fine anywhere";
}

}  // namespace
}  // namespace ocid
