#include "pkg/security/apparmor.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

// A fake host: AppArmor on or off, the profiles it has loaded, and ocid
// built with AppArmor. Its apparmor_parser is a script that keeps what it
// was given on stdin (parser-stdin-N) and its arguments, then "loads" the
// profile by adding its name to the profiles file; `parser_exit` other
// than 0 makes it fail with a message on stderr instead.
AppArmorHost FakeHost(bool enabled, const std::string& profiles, int parser_exit = 0) {
  static int n = 0;
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/apparmor-", ++n);
  mkdir(dir.c_str(), 0700);
  AppArmorHost host;
  host.enabled_file = dir + "/enabled";
  host.profiles_file = dir + "/profiles";
  host.parser = dir + "/apparmor_parser";
  host.built_in = true;
  std::ofstream(host.enabled_file) << (enabled ? "Y\n" : "N\n");
  std::ofstream(host.profiles_file) << profiles;
  std::ofstream(host.parser) << "#!/bin/sh\n"
                             << "n=$(ls " << dir << " | grep -c parser-stdin)\n"
                             << "cat > " << dir << "/parser-stdin-$n\n"
                             << "echo \"$@\" > " << dir << "/parser-args\n"
                             << "if [ " << parser_exit << " != 0 ]; then\n"
                             << "  echo 'AppArmor parser error at line 3: syntax error' >&2\n"
                             << "  exit " << parser_exit << "\nfi\n"
                             << "sed -n 's/^profile \\([^ ]*\\) .*/\\1 (enforce)/p' " << dir
                             << "/parser-stdin-$n >> " << host.profiles_file << "\n";
  chmod(host.parser.c_str(), 0755);
  return host;
}

std::string Dir(const AppArmorHost& host) { return host.parser.substr(0, host.parser.rfind('/')); }

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
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

TEST(AppArmorTest, RuntimeDefaultLoadsOurProfileOnceAcrossContainers) {
  AppArmorHost host = FakeHost(true, "docker-default (enforce)\n");
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<std::optional<std::string>>> results(8, std::nullopt);
  for (int i = 0; i < 8; ++i) {
    // Each container's spec gets a copy of the host: the loader is shared.
    threads.emplace_back([&results, host, i] {
      results[i] = AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->value_or("none"), "ocid-default");
  }
  EXPECT_EQ(host.loader->parser_runs(), 1);
  EXPECT_EQ(Slurp(Dir(host) + "/parser-stdin-0"), DefaultAppArmorProfileText());
  EXPECT_EQ(Slurp(Dir(host) + "/parser-args"), "-Kr\n");
  EXPECT_EQ(Slurp(host.profiles_file), "docker-default (enforce)\nocid-default (enforce)\n");
  EXPECT_FALSE(std::ifstream(Dir(host) + "/parser-stdin-1").good());

  // A privileged container needs no profile, so none is loaded for it.
  AppArmorHost fresh = FakeHost(true, "");
  cri::LinuxContainerSecurityContext privileged = Asking(cri::SecurityProfile::RuntimeDefault);
  privileged.set_privileged(true);
  EXPECT_FALSE(AppArmorProfileFor(privileged, fresh)->has_value());
  EXPECT_EQ(fresh.loader->parser_runs(), 0);
}

TEST(AppArmorTest, AnAlreadyLoadedDefaultIsNotLoadedAgain) {
  AppArmorHost host = FakeHost(true, "ocid-default (enforce)\n");
  EXPECT_EQ(AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host)->value_or(""),
            "ocid-default");
  EXPECT_EQ(host.loader->parser_runs(), 0);
}

TEST(AppArmorTest, AFailedLoadIsAnErrorWithTheParsersWordsAndIsRetried) {
  AppArmorHost host = FakeHost(true, "", /*parser_exit=*/1);
  auto profile = AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host);
  EXPECT_EQ(profile.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(
      absl::StrContains(profile.status().message(), "config.linux.security_context.apparmor"))
      << profile.status();
  EXPECT_TRUE(absl::StrContains(profile.status().message(), "ocid-default")) << profile.status();
  EXPECT_TRUE(absl::StrContains(profile.status().message(),
                                "exit status 1): AppArmor parser error at line 3: syntax error"))
      << profile.status();
  EXPECT_FALSE(AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host).ok());
  EXPECT_EQ(host.loader->parser_runs(), 2);

  AppArmorHost no_parser = FakeHost(true, "");
  no_parser.parser = "/nonexistent/apparmor_parser";
  auto missing = AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), no_parser);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "/nonexistent/apparmor_parser"))
      << missing.status();
}

TEST(AppArmorTest, BuiltWithoutAppArmor) {
  AppArmorHost host = FakeHost(true, "my-app (enforce)\n");
  host.built_in = false;
  auto runtime_default = AppArmorProfileFor(Asking(cri::SecurityProfile::RuntimeDefault), host);
  ASSERT_TRUE(runtime_default.ok()) << runtime_default.status();
  EXPECT_FALSE(runtime_default->has_value());
  EXPECT_EQ(host.loader->parser_runs(), 0);
  auto local = AppArmorProfileFor(Asking(cri::SecurityProfile::Localhost, "my-app"), host);
  EXPECT_EQ(local.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(local.status().message(), "built without apparmor"))
      << local.status();
}

TEST(AppArmorTest, TheDefaultProfileText) {
  std::string text = DefaultAppArmorProfileText("my-default");
  EXPECT_TRUE(
      absl::StrContains(text, "profile my-default flags=(attach_disconnected,mediate_deleted) {"));
  EXPECT_TRUE(absl::StrContains(text, "peer=my-default,"));
  EXPECT_FALSE(absl::StrContains(text, "{{NAME}}"));
  for (const char* rule :
       {"deny mount,", "deny /sys/firmware/** rwklx,", "deny /sys/kernel/security/** rwklx,",
        "signal (receive) peer=unconfined,"}) {
    EXPECT_TRUE(absl::StrContains(text, rule)) << rule;
  }
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
