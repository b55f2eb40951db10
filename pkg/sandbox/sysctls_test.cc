#include "pkg/sandbox/sysctls.h"

#include "gtest/gtest.h"

namespace ocid {
namespace {

google::protobuf::Map<std::string, std::string> One(const std::string& key) {
  google::protobuf::Map<std::string, std::string> sysctls;
  sysctls[key] = "1";
  return sysctls;
}

TEST(SysctlsTest, NamespacedOnesPassInTheirOwnNamespace) {
  for (const char* key :
       {"kernel.shm_rmid_forced", "kernel.msgmax", "kernel.sem", "fs.mqueue.msg_max",
        "net.ipv4.ip_forward", "net/ipv4/ping_group_range", "net.core.somaxconn"}) {
    EXPECT_TRUE(CheckPodSysctls(One(key), true, true).ok()) << key;
  }
  EXPECT_TRUE(CheckPodSysctls({}, false, false).ok());
}

TEST(SysctlsTest, HostLevelOnesAndOnesOfAHostNamespaceAreRefusedByName) {
  EXPECT_EQ(CheckPodSysctls(One("kernel.panic"), true, true).message(),
            "config.linux.sysctls[\"kernel.panic\"]: not a namespaced sysctl: it would change the "
            "host");
  EXPECT_EQ(CheckPodSysctls(One("vm.overcommit_memory"), true, true).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckPodSysctls(One("net.ipv4.ip_forward"), true, false).message(),
            "config.linux.sysctls[\"net.ipv4.ip_forward\"]: a network sysctl, and the pod shares "
            "the host's network namespace");
  EXPECT_EQ(CheckPodSysctls(One("kernel.shmmax"), false, true).message(),
            "config.linux.sysctls[\"kernel.shmmax\"]: an IPC sysctl, and the pod shares the "
            "host's IPC namespace");
  EXPECT_FALSE(CheckPodSysctls(One("net..x"), true, true).ok());
}

TEST(SysctlsTest, DefaultSysctlsParseAndNameABadEntry) {
  absl::StatusOr<std::vector<DefaultSysctl>> parsed =
      ParseDefaultSysctls({"net.ipv4.ping_group_range=0 2147483647", "kernel/shmmni = 8192"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].name, "net.ipv4.ping_group_range");
  EXPECT_EQ((*parsed)[0].value, "0 2147483647");
  EXPECT_FALSE((*parsed)[0].ipc);
  EXPECT_EQ((*parsed)[1].name, "kernel.shmmni");
  EXPECT_EQ((*parsed)[1].value, "8192");
  EXPECT_TRUE((*parsed)[1].ipc);

  EXPECT_EQ(ParseDefaultSysctls({"net.ipv4.tcp_syncookies=1", "kernel.panic=1"}).status().message(),
            "ocid.runtime.default_sysctls[1]: \"kernel.panic=1\": not a namespaced sysctl: it "
            "would change the host");
  EXPECT_FALSE(ParseDefaultSysctls({"no-equals"}).ok());
  EXPECT_FALSE(ParseDefaultSysctls({"=1"}).ok());
}

TEST(SysctlsTest, APodGetsTheDefaultsItsNamespacesScopeAndItsOwnWin) {
  std::vector<DefaultSysctl> defaults =
      *ParseDefaultSysctls({"net.ipv4.ip_unprivileged_port_start=0", "kernel.shmmni=8192"});
  google::protobuf::Map<std::string, std::string> own;
  own["net/ipv4/ip_unprivileged_port_start"] = "1024";
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(PodSysctls(defaults, own, true, true),
            (Pairs{{"kernel.shmmni", "8192"}, {"net.ipv4.ip_unprivileged_port_start", "1024"}}));
  EXPECT_EQ(PodSysctls(defaults, {}, false, true),
            (Pairs{{"net.ipv4.ip_unprivileged_port_start", "0"}}))
      << "host IPC: no IPC default";
  EXPECT_EQ(PodSysctls(defaults, {}, true, false), (Pairs{{"kernel.shmmni", "8192"}}))
      << "host network: no net.* default";
}

}  // namespace
}  // namespace ocid
