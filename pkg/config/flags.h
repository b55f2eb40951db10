// ocid's command line: `ocid [flags] [config]`. Flags override the files.
#ifndef OCID_PKG_CONFIG_FLAGS_H_
#define OCID_PKG_CONFIG_FLAGS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/config/config.h"

namespace ocid {

struct CommandLine {
  std::string config_file = kDefaultConfigFile;
  std::string config_dir = kDefaultConfigDir;
  // (flag name, value) in the order given, applied after the files.
  std::vector<std::pair<std::string, std::string>> overrides;
  std::vector<std::string> positional;  // e.g. the "config" subcommand
  bool help = false;
  bool version = false;
};

// Parses `--name=value`, `--name value` and boolean `--name`. An unknown flag
// or a missing value is an error naming the flag; nothing else is checked yet.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// Applies the overrides to `config` (after MergeFiles, before Validate).
absl::Status ApplyOverrides(const CommandLine& command_line, Config& config);

// The --help text.
std::string FlagUsage();

}  // namespace ocid

#endif  // OCID_PKG_CONFIG_FLAGS_H_
