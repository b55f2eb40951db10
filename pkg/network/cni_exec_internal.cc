#include "pkg/network/cni_exec_internal.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"

namespace ocid {
namespace cni_internal {

absl::StatusOr<PluginRun> RunPlugin(const std::string& path, const std::vector<std::string>& env,
                                    absl::string_view stdin_data, absl::Duration timeout) {
  Subprocess::Options options;
  options.argv = {path};
  options.env = env;
  options.clear_env = true;
  options.stdin_io = Stdio::Data(std::string(stdin_data));
  options.stdout_io = Stdio::Capture();
  options.stderr_io = Stdio::Capture();
  options.new_process_group = true;
  options.max_capture = kMaxPluginOutput;
  absl::StatusOr<Subprocess> plugin = Subprocess::Spawn(std::move(options));
  if (!plugin.ok()) {
    return absl::Status(plugin.status().code(),
                        absl::StrCat("CNI plugin: ", plugin.status().message()));
  }
  PluginRun run;
  absl::StatusOr<int> status = plugin->Wait(timeout);
  if (absl::IsDeadlineExceeded(status.status())) {
    run.timed_out = true;
    plugin->SignalGroup(SIGKILL).IgnoreError();  // also whatever the plugin started
    status = plugin->Wait();
  }
  RETURN_IF_ERROR(status.status());
  run.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  run.stdout_text = plugin->Stdout();
  run.stderr_text = plugin->Stderr();
  return run;
}

absl::StatusOr<std::string> FindPlugin(const std::string& type,
                                       const std::vector<std::string>& dirs) {
  if (type.empty() || type == "." || type == ".." || type.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("CNI plugin type \"", type, "\" is not a name"));
  }
  for (const std::string& dir : dirs) {
    std::string path = absl::StrCat(dir, "/", type);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("CNI plugin ", type, " not found in ",
                   dirs.empty() ? "(no plugin dirs)" : absl::StrJoin(dirs, ":")));
}

}  // namespace cni_internal
}  // namespace ocid
