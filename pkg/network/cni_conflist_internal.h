// Network configuration lists as ocid runs them: loading the default one from
// the config dir, and building each plugin's stdin from it.
#ifndef OCID_PKG_NETWORK_CNI_CONFLIST_INTERNAL_H_
#define OCID_PKG_NETWORK_CNI_CONFLIST_INTERNAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "pkg/network/cni.h"

namespace ocid {
namespace cni_internal {

struct CniNetworkList {
  std::string name;
  std::string cni_version;  // "0.1.0" when the file has none (what plugins assume)
  std::string file;         // where it came from: a config file or a cache file
  bool disable_check = false;
  nlohmann::json config;  // {"cniVersion", "name", "plugins": [...]} as run

  std::string PluginType(size_t index) const;
  size_t PluginCount() const { return config["plugins"].size(); }
};

// Reads a .conflist, or a .conf / .json holding one plugin, which becomes a
// one-plugin list. Errors read "FILE: reason".
absl::StatusOr<CniNetworkList> LoadNetworkList(const std::string& file);

// Checks a list's JSON (as loaded or as cached); errors read "origin: reason".
absl::StatusOr<CniNetworkList> NetworkListFromJson(nlohmann::json config,
                                                   const std::string& origin);

// The network named `wanted`, or else the lexically first valid one, from
// the config files in `dir`. NotFound names the dir and why files were
// skipped.
absl::StatusOr<CniNetworkList> LoadDefaultNetwork(const std::string& dir,
                                                  const std::string& wanted);

// The runtime-config capability arguments a request carries, each key only
// when it has a value: portMappings, bandwidth, ipRanges (from `pod_cidr`),
// dns.
nlohmann::json CapabilityArgs(const PodNetworkRequest& request, const std::string& pod_cidr);

// What plugin `index` of `list` reads on stdin: its config with the list's
// "name" and "cniVersion", "prevResult" unless `prev_result` is null, and a
// "runtimeConfig" holding those `capability_args` the plugin declares in its
// "capabilities" map (none declared or none given: left as in the file).
nlohmann::json PluginStdin(const CniNetworkList& list, size_t index,
                           const nlohmann::json& prev_result,
                           const nlohmann::json& capability_args);

}  // namespace cni_internal
}  // namespace ocid

#endif  // OCID_PKG_NETWORK_CNI_CONFLIST_INTERNAL_H_
