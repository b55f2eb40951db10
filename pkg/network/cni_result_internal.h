// Reading what CNI plugins print: results of every spec version, error
// objects, and version strings.
#ifndef OCID_PKG_NETWORK_CNI_RESULT_INTERNAL_H_
#define OCID_PKG_NETWORK_CNI_RESULT_INTERNAL_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "pkg/network/cni_exec_internal.h"

namespace ocid {
namespace cni_internal {

// The addresses in a result without their prefix length, IPv4 first, each
// once: "ips[].address" (0.3.0 to 1.0.0) or "ip4.ip" / "ip6.ip" (0.1.0, 0.2.0).
std::vector<std::string> ResultIps(const nlohmann::json& result);

// Why a plugin that exited non-zero failed: "CNI plugin bridge failed (code
// 7): msg: details" from its error JSON on stdout, or else its exit status
// and whatever it printed.
std::string PluginFailureMessage(const std::string& plugin, const PluginRun& run);

// <0, 0, >0 as version `a` is older than, equal to or newer than `b`
// ("0.4.0" < "1.0.0"); a missing component counts as 0.
int CompareCniVersions(absl::string_view a, absl::string_view b);

}  // namespace cni_internal
}  // namespace ocid

#endif  // OCID_PKG_NETWORK_CNI_RESULT_INTERNAL_H_
