#include "pkg/stats/net_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/fs.h"
#include "pkg/base/unique_fd.h"

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
  UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return absl::ErrnoToStatus(errno, "open netns " + netns_path);
  absl::StatusOr<std::string> text = absl::InternalError("not read");
  // The thread's namespace dies with it: it is never handed back to a pool.
  std::thread reader([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      text = absl::ErrnoToStatus(errno, "setns into " + netns_path);
      return;
    }
    text = ReadFileToString("/proc/thread-self/net/dev", 1 << 20);
  });
  reader.join();
  if (!text.ok()) return text.status();
  return ParseNetDev(*text);
}

}  // namespace ocid
