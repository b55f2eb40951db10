#include "pkg/config/config_keys.h"

#include "absl/strings/str_cat.h"

namespace ocid {

std::string ConfigKey::Path() const { return absl::StrCat(table, ".", name); }

const std::vector<ConfigKey>& ConfigKeys() {
  using Check = ConfigKey::Check;
  static const auto* keys = new std::vector<ConfigKey>{
      {"ocid", "root", "root", "persistent state: images, layers, container and pod records",
       &Config::root, Check::kAbsolutePath},
      {"ocid", "runroot", "runroot", "volatile state: sockets, exit files, namespace pins, mounts",
       &Config::runroot, Check::kAbsolutePath},
      {"ocid", "log_level", "log-level", "fatal, error, warn, info, debug or trace",
       &Config::log_level},
      {"ocid", "log_dir", "log-dir", "container logs of pods that name no log_directory",
       &Config::log_dir, Check::kAbsolutePath},

      {"ocid.api", "listen", "listen", "unix socket path to serve CRI on", &Config::listen,
       Check::kAbsolutePath},
      {"ocid.api", "grpc_max_recv_msg_size", "grpc-max-recv-msg-size",
       "largest gRPC message ocid accepts, in bytes", &Config::grpc_max_recv_msg_size},
      {"ocid.api", "grpc_max_send_msg_size", "grpc-max-send-msg-size",
       "largest gRPC message ocid sends, in bytes", &Config::grpc_max_send_msg_size},
      {"ocid.api", "stream_address", "stream-address",
       "IP address the streaming server (exec, attach, port-forward) listens on",
       &Config::stream_address},
      {"ocid.api", "stream_port", "stream-port",
       "port of the streaming server; 0 picks a free one", &Config::stream_port},
      {"ocid.api", "stream_idle_timeout", "stream-idle-timeout",
       "a streaming session with no traffic for this long is closed (e.g. 4h, 30m)",
       &Config::stream_idle_timeout},
      {"ocid.api", "stream_tls_cert", "stream-tls-cert",
       "PEM certificate (chain) of the streaming server; with stream_tls_key its URLs are https",
       &Config::stream_tls_cert, Check::kAbsolutePathOrEmpty},
      {"ocid.api", "stream_tls_key", "stream-tls-key", "PEM private key of stream_tls_cert",
       &Config::stream_tls_key, Check::kAbsolutePathOrEmpty},

      {"ocid.runtime", "default_runtime", "default-runtime",
       "the runtime handler used when a pod names none", &Config::default_runtime},
      {"ocid.runtime", "conmon", "conmon", "path of the conmon binary", &Config::conmon,
       Check::kAbsolutePath},
      {"ocid.runtime", "cgroup_manager", "cgroup-manager", "cgroupfs or systemd",
       &Config::cgroup_manager},
      {"ocid.runtime", "seccomp_profile", "seccomp-profile",
       "seccomp profile (OCI or Docker JSON) for RuntimeDefault; empty: ocid's built-in one",
       &Config::seccomp_profile, Check::kAbsolutePathOrEmpty},
      {"ocid.runtime", "default_capabilities", "default-capabilities",
       "capabilities of an unprivileged container before its own add/drop",
       &Config::default_capabilities},
      {"ocid.runtime", "apparmor_profile", "apparmor-profile",
       "loaded AppArmor profile for RuntimeDefault on an AppArmor host; empty: ocid-default, "
       "which ocid loads",
       &Config::apparmor_profile},
      {"ocid.runtime", "selinux", "selinux",
       "label pods and containers with SELinux (where the host runs it)", &Config::selinux},
      {"ocid.runtime", "default_sysctls", "default-sysctls",
       "name=value sysctls every pod gets where its namespaces scope them; its own win",
       &Config::default_sysctls},

      {"ocid.image", "signature_policy", "signature-policy",
       "image trust policy (containers-policy.json); a missing default file accepts every image",
       &Config::signature_policy, Check::kAbsolutePath},
      {"ocid.image", "signature_policy_dir", "signature-policy-dir",
       "dir of per-namespace policies: <namespace>.json replaces signature_policy for its pods",
       &Config::signature_policy_dir, Check::kAbsolutePathOrEmpty},
      {"ocid.image", "registries_conf", "registries-conf", "registries.conf file",
       &Config::registries_conf, Check::kAbsolutePath},
      {"ocid.image", "registries_d", "registries-d",
       "registries.d dir: where the policy's signedBy requirements find signatures",
       &Config::registries_d, Check::kAbsolutePath},
      {"ocid.image", "global_auth_file", "global-auth-file",
       "auth.json with registry credentials for pulls; empty for none", &Config::global_auth_file,
       Check::kAbsolutePathOrEmpty},
      {"ocid.image", "pinned_images", "pinned-image",
       "images kept from kubelet's GC and RemoveImage: a name, NAME* or *WORD*",
       &Config::pinned_images},

      {"ocid.network", "network_dir", "cni-config-dir", "CNI network config dir",
       &Config::network_dir, Check::kAbsolutePath},
      {"ocid.network", "plugin_dirs", "cni-plugin-dir", "CNI plugin dirs, searched in order",
       &Config::plugin_dirs, Check::kAbsolutePath},
      {"ocid.network", "default_network", "cni-default-network",
       "CNI network to use; empty: the lexically first valid one in network_dir",
       &Config::default_network},

      {"ocid.metrics", "enable_metrics", "enable-metrics",
       "serve Prometheus metrics over HTTP on metrics_address:metrics_port",
       &Config::enable_metrics},
      {"ocid.metrics", "metrics_address", "metrics-address",
       "IP address the metrics endpoint listens on", &Config::metrics_address},
      {"ocid.metrics", "metrics_port", "metrics-port",
       "port of the metrics endpoint; the flag alone also turns metrics on",
       &Config::metrics_port},
      {"ocid.metrics", "metrics_required", "metrics-required",
       "exit when the metrics endpoint cannot start, instead of serving CRI without it",
       &Config::metrics_required},
  };
  return *keys;
}

}  // namespace ocid
