// A pod's network counters, read inside its network namespace.
#ifndef OCID_PKG_STATS_NET_DEV_H_
#define OCID_PKG_STATS_NET_DEV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

struct InterfaceStats {
  std::string name;
  uint64_t rx_bytes = 0, rx_errors = 0;
  uint64_t tx_bytes = 0, tx_errors = 0;
};

// The interfaces of a /proc/net/dev text, in its order. DataLoss for a line
// that is not "name: 16 numbers".
absl::StatusOr<std::vector<InterfaceStats>> ParseNetDev(absl::string_view text);

// The interfaces of the network namespace pinned at `netns_path`. A
// short-lived thread of its own joins the namespace (setns) and reads
// /proc/thread-self/net/dev, then ends; no other thread of ocid ever
// changes namespace.
absl::StatusOr<std::vector<InterfaceStats>> ReadInterfacesIn(const std::string& netns_path);

}  // namespace ocid

#endif  // OCID_PKG_STATS_NET_DEV_H_
