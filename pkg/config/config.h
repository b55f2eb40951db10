// ocid's configuration: built-in defaults, then /etc/ocid/ocid.conf, then the
// drop-ins in /etc/ocid/ocid.conf.d/*.conf in lexical order, then flags. The
// result is one immutable Config value handed to every package.
#ifndef OCID_PKG_CONFIG_CONFIG_H_
#define OCID_PKG_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

inline constexpr char kDefaultConfigFile[] = "/etc/ocid/ocid.conf";
inline constexpr char kDefaultConfigDir[] = "/etc/ocid/ocid.conf.d";

// One OCI runtime ocid can run containers with, chosen by the CRI
// runtime_handler ("" means the default one).
struct RuntimeHandler {
  std::string path;  // the runc/crun binary
  std::string root;  // passed as --root: where the runtime keeps its state
  std::string type = "oci";

  bool operator==(const RuntimeHandler&) const;
};

// Each scalar or list field is listed in ConfigKeys() (config_keys.h), which
// gives its TOML path, flag and help; its initialiser here is its default.
struct Config {
  // [ocid]
  std::string root = "/var/lib/ocid";  // persistent state
  std::string runroot = "/run/ocid";   // volatile state
  std::string log_level = "info";
  // Container logs of pods whose config names no log_directory.
  std::string log_dir = "/var/log/ocid/pods";

  // [ocid.api]
  std::string listen = "/run/ocid/ocid.sock";
  int64_t grpc_max_recv_msg_size = 16 * 1024 * 1024;
  int64_t grpc_max_send_msg_size = 16 * 1024 * 1024;
  // The streaming server (exec, attach, port-forward URLs).
  std::string stream_address = "127.0.0.1";
  int64_t stream_port = 0;  // 0: any free port (logged)
  std::string stream_idle_timeout = "4h";  // a session with no traffic is closed
  std::string stream_tls_cert;  // PEM; with stream_tls_key the server speaks TLS only
  std::string stream_tls_key;

  // [ocid.runtime]
  std::string default_runtime = "runc";
  std::string conmon = "/usr/bin/conmon";
  std::string cgroup_manager = "cgroupfs";  // or "systemd"
  std::string seccomp_profile;  // RuntimeDefault's profile; "" is the built-in one
  // What an unprivileged container gets before its own add/drop: the 14
  // that containerd and cri-o give (with or without CAP_).
  std::vector<std::string> default_capabilities = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE",
  };
  // The loaded AppArmor profile RuntimeDefault runs under on an AppArmor
  // host; "": none (unconfined, with a warning). ocid loads no profile.
  std::string apparmor_profile;
  // Label pods and containers where the host runs SELinux (cri-o's key and
  // default; containerd's enable_selinux). Off: selinux_options ignored.
  bool selinux = false;
  // "name=value" sysctls every pod gets (namespaced ones only: net.* in pods
  // with their own network, kernel.shm*/msg*/sem and fs.mqueue.* with their
  // own IPC); a pod's own sysctls win.
  std::vector<std::string> default_sysctls;
  std::map<std::string, RuntimeHandler> runtimes = {
      {"runc", {"/usr/sbin/runc", "/run/runc", "oci"}},
      {"crun", {"/usr/bin/crun", "/run/crun", "oci"}},
  };

  // [ocid.image]
  std::string signature_policy = "/etc/containers/policy.json";
  // <dir>/<k8s namespace>.json replaces signature_policy for that namespace's
  // pods (cri-o's key); "" for none.
  std::string signature_policy_dir = "/etc/ocid/policies";
  std::string registries_conf = "/etc/containers/registries.conf";
  std::string registries_d = "/etc/containers/registries.d";  // signature lookasides
  std::string global_auth_file;  // containers auth.json for pulls; "" for none
  // Names, NAME* or *WORD* (pkg/image/pinned_images.h): reported pinned to
  // kubelet, refused by RemoveImage (cri-o's key).
  std::vector<std::string> pinned_images;

  // [ocid.network]
  std::string network_dir = "/etc/cni/net.d";
  std::vector<std::string> plugin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
  std::string default_network;  // "" picks the lexically first valid one

  // [ocid.metrics]
  bool enable_metrics = false;
  std::string metrics_address = "127.0.0.1";
  int64_t metrics_port = 9090;  // cri-o's
  bool metrics_required = false;  // exit when the endpoint cannot serve

  // Compares every field of ConfigKeys() and the runtimes.
  bool operator==(const Config&) const;
};

// Merges one TOML document into `config`. `file_name` only labels errors,
// which name the file, line and key: a syntax error, an unknown key or a
// value of the wrong type. On error `config` is unchanged.
absl::Status MergeToml(absl::string_view text, absl::string_view file_name, Config& config);

// Merges `main_file` (skipped when it does not exist) and then every
// `dropin_dir/*.conf` in lexical order into `config`.
absl::Status MergeFiles(const std::string& main_file, const std::string& dropin_dir,
                        Config& config);

// Checks values that no single key can check alone, naming the key at fault.
absl::Status Validate(const Config& config);

// The keys whose values differ between `a` and `b` ("ocid.log_level", ...;
// "ocid.runtime.runtimes" for any handler), in ConfigKeys() order.
std::vector<std::string> ChangedKeys(const Config& a, const Config& b);

// The effective configuration as a TOML document that MergeToml reads back,
// each key with its help as a comment.
std::string ToToml(const Config& config);

// The effective configuration as one JSON object, each key under its name
// (without its table) and the handlers under "runtimes": the CRI Status info.
std::string ConfigAsJson(const Config& config);

}  // namespace ocid

#endif  // OCID_PKG_CONFIG_CONFIG_H_
