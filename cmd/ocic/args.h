// ocic's command line: global flags, command words, command flags, and the
// words after "--" (a command to exec).
#ifndef OCID_CMD_OCIC_ARGS_H_
#define OCID_CMD_OCIC_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ocid::ocic {

struct Args {
  std::vector<std::string> words;                  // e.g. {"pod", "status"}
  std::multimap<std::string, std::string> flags;   // --name value, in order
  std::vector<std::string> rest;                   // after "--"

  // The last value of --name, if given.
  std::optional<std::string> Flag(const std::string& name) const;
  // All values of a repeatable flag, in order.
  std::vector<std::string> Flags(const std::string& name) const;
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
};

// Flags that take no value; every other flag needs one.
bool IsBooleanFlag(const std::string& name);

// Parses everything after the program name. Errors name the flag.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv);

}  // namespace ocid::ocic

#endif  // OCID_CMD_OCIC_ARGS_H_
