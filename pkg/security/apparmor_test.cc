#include "pkg/security/apparmor.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

// A fake host: AppArmor on or off, and the profiles it has loaded.
AppArmorHost FakeHost(bool enabled, const std::string& profiles) {
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/apparmor-", enabled);
  AppArmorHost host{dir + "-enabled", dir + "-profiles"};
  std::ofstream(host.enabled_file) << (enabled ? "Y\n" : "N\n");
  std::ofstream(host.profiles_file) << profiles;
  return host;
}

cri::LinuxContainerSecurityContext Asking(cri::SecurityProfile::ProfileType type,
                                          const std::string& ref = "") {
  cri::LinuxContainerSecurityContext sc;
  sc.mutable_apparmor()->set_profile_type(type);
  sc.mutable_apparmor()->set_localhost_ref(ref);
  return sc;
}

TEST(AppArmorTest, RuntimeDefaultIsTheConfiguredLoadedProfile) {
  AppArmorHost host = FakeHost(true, "ocid-default (enforce)\n");
  host.runtime_default = "ocid-default";
  auto profile = AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host);
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(*profile, "ocid-default");
  cri::LinuxContainerSecurityContext privileged = Asking(cri::SecurityProfile::RuntimeDefault);
  privileged.set_privileged(true);
  EXPECT_FALSE(AppArmorProfileFor(privileged, host)->has_value());
  host.runtime_default = "not-there";
  EXPECT_EQ(AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host).status().code(),
            absl::StatusCode::kInvalidArgument);
  host.runtime_default = "";
  EXPECT_FALSE(AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host)->has_value())
      << "none configured: unconfined";
  AppArmorHost off = FakeHost(false, "");
  off.runtime_default = "ocid-default";
  EXPECT_FALSE(AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), off)->has_value())
      << "no AppArmor here: nothing to confine with";
}

TEST(AppArmorTest, LocalhostNamesALoadedProfile) {
  AppArmorHost host = FakeHost(true, "docker-default (enforce)\nmy-app (complain)\n");
  auto profile = AppArmorProfileFor(Asking(cri::SecurityProfile::Localhost, "my-app"), host);
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(*profile, "my-app");
  auto missing = AppArmorProfileFor(Asking(cri::SecurityProfile::Localhost, "nope"), host);
  EXPECT_EQ(missing.status().message(),
            "config.linux.security_context.apparmor: profile \"nope\" is not loaded on this host");
  EXPECT_FALSE(AppArmorProfileFor(Asking(cri::SecurityProfile::Localhost, ""), host).ok());
}

TEST(AppArmorTest, WithoutAppArmorDefaultIsUnconfinedAndLocalhostAnError) {
  AppArmorHost host = FakeHost(false, "");
  auto runtime_default = AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host);
  ASSERT_TRUE(runtime_default.ok());
  EXPECT_FALSE(runtime_default->has_value());
  auto local = AppArmorProfileFor(Asking(cri::SecurityProfile::Localhost, "my-app"), host);
  EXPECT_EQ(local.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(local.status().message().find("AppArmor is not enabled on this host"),
            std::string::npos);
  EXPECT_FALSE(AppArmorProfileFor(cri::LinuxContainerSecurityContext(), host)->has_value());
}

TEST(AppArmorTest, TheDeprecatedStrings) {
  AppArmorHost host = FakeHost(true, "my-app (enforce)\n");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  cri::LinuxContainerSecurityContext sc;
  sc.set_apparmor_profile("localhost/my-app");
  EXPECT_EQ(*AppArmorProfileFor(sc, host), "my-app");
  sc.set_apparmor_profile("unconfined");
  EXPECT_FALSE(AppArmorProfileFor(sc, host)->has_value());
  sc.set_apparmor_profile("strict");
  EXPECT_EQ(AppArmorProfileFor(sc, host).status().code(), absl::StatusCode::kInvalidArgument);
#pragma GCC diagnostic pop
}

}  // namespace
}  // namespace ocid
