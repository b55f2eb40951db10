// ReadInterfacesIn needs CAP_SYS_ADMIN (setns), which Bazel's sandbox
// drops: run outside it, as root.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "pkg/stats/net_dev.h"

namespace ocid {
namespace {

std::string NetnsOfThisThread() {
  char target[256];
  ssize_t n = readlink("/proc/thread-self/ns/net", target, sizeof(target));
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
}

TEST(ReadInterfacesIn, ReadsInsideTheNamespaceAndLeavesTheCallerWhereItWas) {
  std::string before = NetnsOfThisThread();
  absl::StatusOr<std::vector<InterfaceStats>> interfaces = ReadInterfacesIn("/proc/self/ns/net");
  ASSERT_TRUE(interfaces.ok()) << interfaces.status();
  bool lo = false;
  for (const InterfaceStats& i : *interfaces) lo = lo || i.name == "lo";
  EXPECT_TRUE(lo);
  EXPECT_EQ(NetnsOfThisThread(), before);
  EXPECT_EQ(ReadInterfacesIn("/nonexistent/netns").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ocid
