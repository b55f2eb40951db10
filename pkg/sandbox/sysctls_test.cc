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

}  // namespace
}  // namespace ocid
