// Pod networking with CNI plugins: the default network's config (reloaded
// when the config dir changes), plugin execution per the CNI spec (ADD, DEL,
// CHECK, VERSION; 0.3.x, 0.4.0 and 1.0.0), prevResult chaining through a
// conflist, runtime-config capabilities, and cached results so that DEL
// after an ocid restart uses the same config and prevResult.
#ifndef OCID_PKG_NETWORK_CNI_H_
#define OCID_PKG_NETWORK_CNI_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ocid {

struct CniPortMapping {
  int32_t host_port = 0;
  int32_t container_port = 0;
  std::string protocol = "tcp";  // "tcp", "udp" or "sctp"
  std::string host_ip;           // "" for all
};

struct PodNetworkRequest {
  std::string pod_id;      // CNI_CONTAINERID, K8S_POD_INFRA_CONTAINER_ID
  std::string netns_path;  // CNI_NETNS; "" on DEL when the netns is gone
  std::string ifname = "eth0";
  std::string pod_name, pod_namespace, pod_uid;  // CNI_ARGS K8S_POD_*
  std::vector<CniPortMapping> port_mappings;     // capability portMappings
  int64_t ingress_bps = 0, egress_bps = 0;       // capability bandwidth (0 = none)
  std::vector<std::string> dns_servers, dns_searches, dns_options;  // capability dns
};

struct PodNetworkResult {
  std::vector<std::string> ips;  // addresses without prefix length, IPv4 first
  std::string result_json;       // the last plugin's result
};

struct CniOptions {
  std::string config_dir;                // e.g. /etc/cni/net.d
  std::vector<std::string> plugin_dirs;  // searched in order
  std::string cache_dir;                 // results and configs for DEL
  std::string default_network;           // "" = lexically first valid config
  absl::Duration plugin_timeout = absl::Seconds(60);
};

class CniManager {
 public:
  // Loads the config dir and watches it (inotify): added, changed or removed
  // files take effect without a restart. A missing dir is fine (not ready).
  static absl::StatusOr<std::unique_ptr<CniManager>> Start(CniOptions options);
  ~CniManager();

  // OK when a default network is loaded and its plugins exist; otherwise
  // the reason (no valid config in DIR (skipped: file: why ...), plugin X
  // not found in DIRS).
  absl::Status Ready() const;

  // The pod CIDR from UpdateRuntimeConfig, passed as the ipRanges capability.
  void SetPodCidr(const std::string& cidr);

  // Runs ADD for every plugin of the default network in the pod's netns.
  // On failure runs DEL for what was added and returns the failing plugin's
  // message (its CNI error JSON: code, msg, details), naming the plugin.
  absl::StatusOr<PodNetworkResult> SetUp(const PodNetworkRequest& request);

  // Runs DEL (plugins in reverse) with the config and prevResult cached at
  // SetUp, so it works after a restart and after the config changed.
  // Idempotent: no cache, or a netns already gone, is fine.
  absl::Status TearDown(const PodNetworkRequest& request);

  // Runs CHECK with the cached result (CNI >= 0.4.0 networks).
  absl::Status Check(const PodNetworkRequest& request);

  // The cached result of SetUp for the pod, if any.
  absl::StatusOr<PodNetworkResult> CachedResult(const std::string& pod_id,
                                                const std::string& ifname = "eth0") const;

 private:
  CniManager() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocid

#endif  // OCID_PKG_NETWORK_CNI_H_
