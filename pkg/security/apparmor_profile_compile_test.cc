// ocid's default AppArmor profile compiles with the real apparmor_parser
// (3.0.8, Debian's apparmor package as ci/setup.sh fetches it): -Q skips
// the kernel load (this kernel has no AppArmor), -M gives the package's
// features file in place of the kernel's, -b its abi/ directory.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "pkg/base/subprocess.h"
#include "pkg/security/apparmor.h"

namespace ocid {
namespace {

std::string Root() {
  const char* root = getenv("OCID_APPARMOR_ROOT");
  return root != nullptr ? root : "/var/cache/ocid-debs/apparmor/root";
}

absl::StatusOr<CommandResult> Compile(const std::string& text) {
  std::string empty_config = absl::StrCat(getenv("TEST_TMPDIR"), "/parser.conf");
  if (FILE* f = fopen(empty_config.c_str(), "w")) fclose(f);
  Subprocess::Options options;
  options.argv = {Root() + "/sbin/apparmor_parser",
                  "-Q",
                  "-K",
                  "--config-file=" + empty_config,
                  "-b",
                  Root() + "/etc/apparmor.d",
                  "-M",
                  Root() + "/usr/share/apparmor-features/features"};
  options.stdin_io = Stdio::Data(text);
  return RunCommand(std::move(options), absl::Seconds(60));
}

TEST(AppArmorProfileCompileTest, OurDefaultProfileCompiles) {
  ASSERT_EQ(access((Root() + "/sbin/apparmor_parser").c_str(), X_OK), 0)
      << "no apparmor_parser under " << Root() << ": run ci/setup.sh";
  auto result = Compile(DefaultAppArmorProfileText());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(ExitedZero(result->wait_status))
      << DescribeWaitStatus(result->wait_status) << ": " << result->stderr_data;
}

TEST(AppArmorProfileCompileTest, ABrokenProfileDoesNot) {
  std::string text = DefaultAppArmorProfileText();
  text.insert(text.rfind('}'), "  deny /sys/** rwzz,\n");
  auto result = Compile(text);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(ExitedZero(result->wait_status)) << "the parser accepted a bad mode";
  EXPECT_NE(result->stderr_data, "");
}

}  // namespace
}  // namespace ocid
