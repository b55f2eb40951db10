#include "pkg/stats/net_dev.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace ocid {
namespace {

constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:     240       4    0    0    0     0          0         0      240       4    0 "
    "   0    0     0       0          0\n"
    "  eth0: 1234567    1000    7    1    0     0          0         3   765432     900    2 "
    "   0    0     0       0          0\n";

TEST(ParseNetDev, ReadsBytesAndErrorsPerInterface) {
  absl::StatusOr<std::vector<InterfaceStats>> interfaces = ParseNetDev(kNetDev);
  ASSERT_TRUE(interfaces.ok()) << interfaces.status();
  ASSERT_EQ(interfaces->size(), 2u);
  EXPECT_EQ((*interfaces)[0].name, "lo");
  const InterfaceStats& eth0 = (*interfaces)[1];
  EXPECT_EQ(eth0.name, "eth0");
  EXPECT_EQ(eth0.rx_bytes, 1234567u);
  EXPECT_EQ(eth0.rx_errors, 7u);
  EXPECT_EQ(eth0.tx_bytes, 765432u);
  EXPECT_EQ(eth0.tx_errors, 2u);
}

TEST(ParseNetDev, GarbageIsDataLoss) {
  EXPECT_EQ(ParseNetDev("eth0: 1 2 3\n").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseNetDev("nonsense\n").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseNetDev(std::string("eth0:") + std::string(16 * 2, ' ') +
                        "x 1 1 1 1 1 1 1 1 1 1 "
                        "1 1 1 1 1\n")
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ocid
