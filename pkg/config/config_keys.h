// The one list of ocid's config keys. TOML reading (MergeToml), printing
// (ToToml, `ocid config`), comparison, the JSON of the CRI Status info and
// the command-line flags (with their --help lines) are all derived from it,
// so a new key is one line here plus its Config field, whose initialiser is
// its default.
//
// Not in the list: the runtime handlers ([ocid.runtime.runtimes.NAME]). They
// are a map of tables under names the user picks, not one value at a fixed
// path, so each place that walks the list handles them after it.
#ifndef OCID_PKG_CONFIG_CONFIG_KEYS_H_
#define OCID_PKG_CONFIG_CONFIG_KEYS_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "pkg/config/config.h"

namespace ocid {

// Where runtime handlers live: [ocid.runtime.runtimes.NAME].
inline constexpr char kRuntimesTable[] = "ocid.runtime";
inline constexpr char kRuntimesKey[] = "runtimes";

struct ConfigKey {
  // The Config field; its type is the key's TOML type (string, integer,
  // boolean or array of strings).
  using Field = std::variant<std::string Config::*, int64_t Config::*, bool Config::*,
                             std::vector<std::string> Config::*>;

  // What Validate checks of the value on its own (each element of a list).
  enum class Check { kNone, kAbsolutePath, kAbsolutePathOrEmpty };

  const char* table;  // the TOML table, e.g. "ocid.api"
  const char* name;   // the key in it, e.g. "listen"; unique over all tables
  const char* flag;   // the flag without "--"; a list's flag repeats
  const char* help;   // one line: the --help text and the comment in ToToml
  Field field;
  Check check = Check::kNone;

  // "ocid.api.listen": how errors name the key.
  std::string Path() const;
};

// In the order ToToml prints them, grouped by table.
const std::vector<ConfigKey>& ConfigKeys();

}  // namespace ocid

#endif  // OCID_PKG_CONFIG_CONFIG_KEYS_H_
