#include "pkg/security/seccomp.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;
using json = nlohmann::json;

// The syscalls a converted profile allows unconditionally (no args).
std::set<std::string> Allowed(const json& profile) {
  std::set<std::string> names;
  for (const json& entry : profile["syscalls"]) {
    if (entry["action"] != "SCMP_ACT_ALLOW" || entry.contains("args")) continue;
    for (const json& name : entry["names"]) names.insert(name.get<std::string>());
  }
  return names;
}

const std::vector<std::string> kDefaultCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

TEST(SeccompTest, TheBuiltInProfileFollowsTheCapabilities) {
  if (!SeccompBuiltIn()) GTEST_SKIP() << "built with --config=noseccomp";
  absl::StatusOr<json> plain =
      ConvertSeccompProfile(DefaultSeccompProfileText(), "(built-in)", kDefaultCaps);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ((*plain)["architectures"],
            json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  std::set<std::string> allowed = Allowed(*plain);
  EXPECT_GT(allowed.size(), 280u);
  for (const char* name : {"read", "openat", "execve", "futex", "chroot", "sched_yield"}) {
    EXPECT_TRUE(allowed.count(name)) << name;
  }
  for (const char* name : {"mount", "unshare", "setns", "ptrace", "reboot", "kexec_load",
                           "sethostname", "bpf", "init_module", "clone", "clone3"}) {
    EXPECT_FALSE(allowed.count(name)) << name << " is allowed without its capability";
  }
  // clone is allowed only without namespace flags; clone3 answers ENOSYS.
  bool clone_filtered = false, clone3_enosys = false;
  for (const json& entry : (*plain)["syscalls"]) {
    if (entry["names"] == json({"clone"}) && entry.contains("args")) {
      clone_filtered = entry["args"][0]["op"] == "SCMP_CMP_MASKED_EQ";
    }
    if (entry["names"] == json({"clone3"})) clone3_enosys = entry["errnoRet"] == 38;
  }
  EXPECT_TRUE(clone_filtered);
  EXPECT_TRUE(clone3_enosys);

  std::vector<std::string> admin = kDefaultCaps;
  admin.push_back("CAP_SYS_ADMIN");
  admin.push_back("CAP_SYS_PTRACE");
  absl::StatusOr<json> more = ConvertSeccompProfile(DefaultSeccompProfileText(), "x", admin);
  ASSERT_TRUE(more.ok()) << more.status();
  std::set<std::string> with_admin = Allowed(*more);
  for (const char* name : {"mount", "umount2", "unshare", "setns", "sethostname", "clone", "clone3",
                           "ptrace", "process_vm_readv"}) {
    EXPECT_TRUE(with_admin.count(name)) << name << " with CAP_SYS_ADMIN/CAP_SYS_PTRACE";
  }
  EXPECT_FALSE(with_admin.count("reboot")) << "CAP_SYS_BOOT was not given";
}

TEST(SeccompTest, BadProfilesNameTheFileAndTheEntry) {
  if (!SeccompBuiltIn()) GTEST_SKIP() << "built with --config=noseccomp";
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"[]", "p.json: the file: not a JSON object"},
      {R"({"syscalls": []})", "p.json: defaultAction: missing"},
      {R"({"defaultAction": "SCMP_ACT_MAYBE"})", "p.json: defaultAction: missing or not one of"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["chmod", "nosuchcall"], "action": "SCMP_ACT_ERRNO"}]})",
       "p.json: syscalls[1].names[1]: unknown syscall \"nosuchcall\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})",
       "p.json: architectures[0]: unknown architecture \"SCMP_ARCH_Z80\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
          "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
       "p.json: syscalls[0].args[0].index: not an argument index 0-5"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]})",
       "p.json: syscalls[0].args[0].op: not one of"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<json> converted = ConvertSeccompProfile(c.text, "p.json", kDefaultCaps);
    ASSERT_FALSE(converted.ok()) << c.text;
    EXPECT_EQ(converted.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(converted.status().message().find(c.message), std::string::npos)
        << converted.status() << "\nwanted: " << c.message;
  }
}

TEST(SeccompTest, OciAndDockerFormsConvert) {
  // critest's profile: OCI form, no architectures.
  absl::StatusOr<json> oci = ConvertSeccompProfile(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]})",
      "p.json", kDefaultCaps);
  ASSERT_TRUE(oci.ok()) << oci.status();
  EXPECT_EQ(*oci, json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]})"));
  // Docker's: another arch's call (socketcall exists on x86 only) is kept
  // for runc to skip; arches and caps filters apply.
  absl::StatusOr<json> docker = ConvertSeccompProfile(R"({
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
      "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
                  {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
      "syscalls": [
        {"names": ["read", "socketcall"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["arm_fadvise64_64"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm"]}},
        {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]})",
                                                      "d.json", kDefaultCaps);
  ASSERT_TRUE(docker.ok()) << docker.status();
  EXPECT_EQ((*docker)["architectures"], json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
  EXPECT_EQ((*docker)["defaultErrnoRet"], 1);
  ASSERT_EQ((*docker)["syscalls"].size(), 2u) << (*docker)["syscalls"].dump();
  EXPECT_EQ((*docker)["syscalls"][0]["names"], json({"read", "socketcall"}));
  EXPECT_EQ((*docker)["syscalls"][1]["args"][0]["value"], 8);
}

TEST(SeccompTest, RequestsFromTheSecurityContextAndTheDeprecatedPath) {
  cri::LinuxContainerSecurityContext sc;
  EXPECT_EQ(SeccompRequestOf(sc)->kind, SeccompRequest::Kind::kUnconfined)
      << "nil: kubelet's default";
  sc.mutable_seccomp();  // an empty profile is RuntimeDefault
  EXPECT_EQ(SeccompRequestOf(sc)->kind, SeccompRequest::Kind::kRuntimeDefault);
  sc.mutable_seccomp()->set_profile_type(cri::SecurityProfile::Localhost);
  EXPECT_EQ(SeccompRequestOf(sc).status().message(),
            "config.linux.security_context.seccomp.localhost_ref: \"\" is not an absolute path");
  sc.mutable_seccomp()->set_localhost_ref("/p.json");
  EXPECT_EQ(SeccompRequestOf(sc)->localhost_path, "/p.json");

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  cri::LinuxContainerSecurityContext old;
  for (const char* path : {"runtime/default", "docker/default"}) {
    old.set_seccomp_profile_path(path);
    EXPECT_EQ(SeccompRequestOf(old)->kind, SeccompRequest::Kind::kRuntimeDefault) << path;
  }
  old.set_seccomp_profile_path("unconfined");
  EXPECT_EQ(SeccompRequestOf(old)->kind, SeccompRequest::Kind::kUnconfined);
  old.set_seccomp_profile_path("localhost//etc/p.json");
  EXPECT_EQ(SeccompRequestOf(old)->localhost_path, "/etc/p.json");
  old.set_seccomp_profile_path("strict");
  EXPECT_TRUE(absl::IsInvalidArgument(SeccompRequestOf(old).status()));
#pragma GCC diagnostic pop
}

TEST(SeccompTest, ProfilesAreBuiltOncePerInputAndReadAgainWhenEdited) {
  if (!SeccompBuiltIn()) GTEST_SKIP() << "built with --config=noseccomp";
  SeccompProfiles profiles;
  SeccompRequest runtime_default{SeccompRequest::Kind::kRuntimeDefault, ""};
  ASSERT_TRUE(profiles.ForContainer(runtime_default, kDefaultCaps).ok());
  ASSERT_TRUE(profiles.ForContainer(runtime_default, kDefaultCaps).ok());
  EXPECT_EQ(profiles.cached(), 1u);
  EXPECT_FALSE(
      profiles.ForContainer({SeccompRequest::Kind::kUnconfined, ""}, kDefaultCaps)->has_value());

  std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/local.json");
  std::ofstream(path) << R"({"defaultAction": "SCMP_ACT_ALLOW"})";
  SeccompRequest local{SeccompRequest::Kind::kLocalhost, path};
  auto first = profiles.ForContainer(local, kDefaultCaps);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((**first)["defaultAction"], "SCMP_ACT_ALLOW");
  ASSERT_TRUE(WriteFileAtomically(path, R"({"defaultAction": "SCMP_ACT_LOG"})").ok());
  auto second = profiles.ForContainer(local, kDefaultCaps);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((**second)["defaultAction"], "SCMP_ACT_LOG") << "an edited profile is read again";

  auto missing = profiles.ForContainer({SeccompRequest::Kind::kLocalhost, path + ".gone"}, {});
  EXPECT_TRUE(absl::IsInvalidArgument(missing.status()));
  EXPECT_NE(missing.status().message().find(path + ".gone"), std::string::npos);
}

TEST(SeccompTest, WithoutLibseccompOnlyUnconfinedIsPossible) {
  SeccompProfiles profiles;
  auto unconfined = profiles.ForContainer({SeccompRequest::Kind::kUnconfined, ""}, {});
  ASSERT_TRUE(unconfined.ok());
  EXPECT_FALSE(unconfined->has_value());
  auto runtime_default = profiles.ForContainer({SeccompRequest::Kind::kRuntimeDefault, ""}, {});
  if (SeccompBuiltIn()) {
    EXPECT_TRUE(runtime_default.ok()) << runtime_default.status();
  } else {
    EXPECT_EQ(runtime_default.status().message(),
              "config.linux.security_context.seccomp: ocid was built without seccomp "
              "(--config=noseccomp); only Unconfined is possible");
  }
}

}  // namespace
}  // namespace ocid
