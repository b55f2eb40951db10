// ocic's commands: each one CRI call (or a few) and its printing.
#ifndef OCID_CMD_OCIC_COMMANDS_H_
#define OCID_CMD_OCIC_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cmd/ocic/args.h"
#include "cmd/ocic/client.h"

namespace ocid::ocic {

struct Invocation {
  Client& client;
  const Args& args;
  std::vector<std::string> operands;  // words after the command's own
  bool json = false;                  // --output json
  bool show_progress = false;         // stdout is a terminal
  std::ostream& out;
  std::ostream& err;
  int exit_code = 0;  // set by commands whose result is an exit code (exec)
};

struct Command {
  std::string name;      // "pod run"
  std::string synopsis;  // its operands and flags
  std::string summary;   // what it does
  absl::Status (*run)(Invocation&);
};

const std::vector<Command>& AllCommands();

// Finds the command named by the leading words; sets `used` to how many.
const Command* FindCommand(const std::vector<std::string>& words, size_t& used);

// Reads a crictl-style JSON config (PodSandboxConfig, ContainerConfig) into
// `message`; unknown fields are ignored, as crictl does. Errors name `flag`.
absl::Status LoadJsonConfig(const std::string& flag, const std::string& path,
                            google::protobuf::Message& message);

// Parses "k=v" --label values into `selector`, naming a bad one.
absl::Status ParseLabels(const std::vector<std::string>& labels,
                         google::protobuf::Map<std::string, std::string>& selector);

}  // namespace ocid::ocic

#endif  // OCID_CMD_OCIC_COMMANDS_H_
