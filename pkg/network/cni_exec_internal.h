// Running one CNI plugin binary: the environment, the config on stdin, the
// result on stdout, and a deadline after which the plugin is killed.
#ifndef OCID_PKG_NETWORK_CNI_EXEC_INTERNAL_H_
#define OCID_PKG_NETWORK_CNI_EXEC_INTERNAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ocid {
namespace cni_internal {

struct PluginRun {
  bool timed_out = false;  // killed (with its process group) at the deadline
  int exit_code = 0;       // 128 + signal when killed by a signal
  std::string stdout_text;
  std::string stderr_text;
};

// The most of stdout and of stderr that is kept.
inline constexpr size_t kMaxPluginOutput = 8 << 20;

// Runs the executable `path` with exactly `env` ("NAME=value" entries),
// `stdin_data` on stdin, and stdout and stderr captured. stdin and the
// outputs are memfds rather than pipes, so a daemon the plugin leaves behind
// holding its stdout cannot hang us, and no SIGPIPE can reach us. The plugin
// runs in its own process group, which is killed at the deadline. Errors are
// for failing to start or wait for the plugin; its own failure is in the run.
absl::StatusOr<PluginRun> RunPlugin(const std::string& path, const std::vector<std::string>& env,
                                    absl::string_view stdin_data, absl::Duration timeout);

// The first `dirs[i]/type` that is an executable regular file. NotFound names
// the dirs; InvalidArgument for a type that is not a plain file name.
absl::StatusOr<std::string> FindPlugin(const std::string& type,
                                       const std::vector<std::string>& dirs);

}  // namespace cni_internal
}  // namespace ocid

#endif  // OCID_PKG_NETWORK_CNI_EXEC_INTERNAL_H_
