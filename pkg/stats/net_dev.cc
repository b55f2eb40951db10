#include "pkg/stats/net_dev.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/fs.h"
#include "pkg/base/netns.h"
#include "pkg/base/status_macros.h"

namespace ocid {

absl::StatusOr<std::vector<InterfaceStats>> ParseNetDev(absl::string_view text) {
  std::vector<InterfaceStats> interfaces;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      if (absl::StrContains(line, '|')) continue;  // the two header lines
      return absl::DataLossError(absl::StrCat("net/dev: no interface in \"", line, "\""));
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(line.substr(colon + 1), ' ', absl::SkipEmpty());
    uint64_t n[16];
    if (fields.size() < 16) {
      return absl::DataLossError(absl::StrCat("net/dev: short line \"", line, "\""));
    }
    for (int i = 0; i < 16; ++i) {
      if (!absl::SimpleAtoi(fields[i], &n[i])) {
        return absl::DataLossError(absl::StrCat("net/dev: \"", fields[i], "\" is not a number"));
      }
    }
    InterfaceStats stats;
    stats.name = std::string(absl::StripAsciiWhitespace(line.substr(0, colon)));
    // Receive: bytes packets errs drop fifo frame compressed multicast;
    // transmit: bytes packets errs drop fifo colls carrier compressed.
    stats.rx_bytes = n[0];
    stats.rx_errors = n[2];
    stats.tx_bytes = n[8];
    stats.tx_errors = n[10];
    interfaces.push_back(std::move(stats));
  }
  return interfaces;
}

absl::StatusOr<std::vector<InterfaceStats>> ReadInterfacesIn(const std::string& netns_path) {
  absl::StatusOr<std::string> text = absl::InternalError("not read");
  RETURN_IF_ERROR(RunInNetworkNamespace(
      netns_path, [&] { text = ReadFileToString("/proc/thread-self/net/dev", 1 << 20); }));
  if (!text.ok()) return text.status();
  return ParseNetDev(*text);
}

}  // namespace ocid
