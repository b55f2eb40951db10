// CNI network configuration files (.conf, .conflist, .json) in the config dir.
#ifndef OCID_PKG_NETWORK_CNI_CONFIG_H_
#define OCID_PKG_NETWORK_CNI_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ocid {

struct CniNetwork {
  std::string name;
  std::string file;  // the config file it came from
  std::string cni_version;
};

struct CniConfigScan {
  std::vector<CniNetwork> networks;  // valid ones, in lexical file order
  std::vector<std::string> skipped;  // "file: reason" for each invalid file
};

// Reads every config file in `dir`. A file that is not a valid network config
// is skipped with its reason; a missing dir gives an empty scan.
absl::StatusOr<CniConfigScan> ScanCniConfigDir(const std::string& dir);

// The network pods join: the one named `wanted`, or else the lexically first
// valid one. NotFound names the dir and the reasons files were skipped.
absl::StatusOr<CniNetwork> FindDefaultNetwork(const std::string& dir, const std::string& wanted);

}  // namespace ocid

#endif  // OCID_PKG_NETWORK_CNI_CONFIG_H_
