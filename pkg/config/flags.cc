#include "pkg/config/flags.h"

#include <algorithm>
#include <functional>
#include <set>
#include <type_traits>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "pkg/base/status_macros.h"
#include "pkg/config/config_keys.h"

namespace ocid {
namespace {

struct FlagSpec {
  std::string name;
  std::string help;
  bool takes_value;
  // The config key the value goes to; null for the other flags.
  const ConfigKey* key = nullptr;
  // Applies a flag that sets no single key; null also for flags read by
  // ParseCommandLine.
  std::function<void(const std::string&, Config&)> apply;
};

// A key's default as --help shows it; "" when it has none.
std::string DefaultText(const ConfigKey& key) {
  static const Config defaults;
  return std::visit(
      [](auto field) {
        const auto& value = defaults.*field;
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, int64_t>) {
          return absl::StrCat(value);
        } else if constexpr (std::is_same_v<std::decay_t<decltype(value)>, bool>) {
          return std::string(value ? "true" : "false");
        } else if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string>) {
          return value;
        } else {
          return absl::StrJoin(value, " ");
        }
      },
      key.field);
}

bool IsList(const ConfigKey& key) {
  return std::holds_alternative<std::vector<std::string> Config::*>(key.field);
}

FlagSpec KeyFlag(const ConfigKey& key) {
  std::string help = key.help;
  if (IsList(key)) absl::StrAppend(&help, "; repeat for more (replaces the whole list)");
  if (std::string value = DefaultText(key); !value.empty()) {
    absl::StrAppend(&help, " (default ", value, ")");
  }
  // A boolean key's flag alone means true; --flag=false sets it false.
  bool takes_value = !std::holds_alternative<bool Config::*>(key.field);
  return {key.flag, help, takes_value, &key, nullptr};
}

const std::vector<FlagSpec>& Flags() {
  static const auto* flags = [] {
    auto* flags = new std::vector<FlagSpec>{
        {"config", absl::StrCat("main config file (default ", kDefaultConfigFile, ")"), true},
        {"config-dir",
         absl::StrCat("drop-in dir, *.conf read in lexical order (default ", kDefaultConfigDir,
                      ")"),
         true},
    };
    for (const ConfigKey& key : ConfigKeys()) flags->push_back(KeyFlag(key));
    flags->push_back({"debug", "same as --log-level=debug", false, nullptr,
                      [](const std::string&, Config& c) { c.log_level = "debug"; }});
    flags->push_back(
        {"runtime", "path of the default runtime handler's binary", true, nullptr,
         [](const std::string& value, Config& c) { c.runtimes[c.default_runtime].path = value; }});
    flags->push_back({"help", "print this help", false});
    flags->push_back({"version", "print the version", false});
    return flags;
  }();
  return *flags;
}

// Sets the key's field from a flag's value. A list flag's first use replaces
// the list (from the files or the default), each further use appends.
absl::Status ApplyKey(const ConfigKey& key, const std::string& value, bool first_use,
                      Config& config) {
  return std::visit(
      [&](auto field) {
        auto& out = config.*field;
        using Value = std::decay_t<decltype(out)>;
        if constexpr (std::is_same_v<Value, int64_t>) {
          int64_t parsed;
          if (!absl::SimpleAtoi(value, &parsed)) {
            return absl::InvalidArgumentError(
                absl::StrCat("flag --", key.flag, ": \"", value, "\" is not an integer"));
          }
          out = parsed;
        } else if constexpr (std::is_same_v<Value, bool>) {
          if (value != "true" && value != "false") {
            return absl::InvalidArgumentError(
                absl::StrCat("flag --", key.flag, ": \"", value, "\" is not true or false"));
          }
          out = value == "true";
        } else if constexpr (std::is_same_v<Value, std::string>) {
          out = value;
        } else {
          if (first_use) out.clear();
          out.push_back(value);
        }
        return absl::OkStatus();
      },
      key.field);
}

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& flag : Flags()) {
    if (name == flag.name) return &flag;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine result;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      result.positional.insert(result.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      result.positional.emplace_back(arg);
      continue;
    }
    if (arg.empty()) {
      result.positional.emplace_back(args[i]);  // a lone "-"
      continue;
    }
    std::string name(arg.substr(0, arg.find('=')));
    const FlagSpec* flag = FindFlag(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    std::string value;
    bool has_inline_value = arg.find('=') != absl::string_view::npos;
    if (has_inline_value) value = std::string(arg.substr(arg.find('=') + 1));
    if (flag->takes_value && !has_inline_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    } else if (!flag->takes_value && has_inline_value && value != "true") {
      if (value == "false" && flag->key == nullptr) continue;
      if (value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " takes no value (got \"", value, "\")"));
      }
    } else if (!flag->takes_value) {
      value = "true";
    }

    if (name == "config") {
      result.config_file = value;
    } else if (name == "config-dir") {
      result.config_dir = value;
    } else if (name == "help") {
      result.help = true;
    } else if (name == "version") {
      result.version = true;
    } else {
      result.overrides.emplace_back(name, value);
    }
  }
  return result;
}

absl::Status ApplyOverrides(const CommandLine& command_line, Config& config) {
  // --runtime names the binary of the default handler, so it waits until
  // --default-runtime (wherever it stands) has picked that handler.
  std::vector<std::pair<std::string, std::string>> ordered;
  for (const auto& flag : command_line.overrides) {
    if (flag.first != "runtime") ordered.push_back(flag);
  }
  for (const auto& flag : command_line.overrides) {
    if (flag.first == "runtime") ordered.push_back(flag);
  }
  std::set<const ConfigKey*> used;
  for (const auto& [name, value] : ordered) {
    const FlagSpec* flag = FindFlag(name);
    if (flag != nullptr && flag->key != nullptr) {
      RETURN_IF_ERROR(ApplyKey(*flag->key, value, used.insert(flag->key).second, config));
      // A port asked for on the command line is a port to serve on.
      if (flag->key->field == ConfigKey::Field(&Config::metrics_port)) config.enable_metrics = true;
    } else if (flag != nullptr && flag->apply) {
      flag->apply(value, config);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " cannot be applied"));
    }
  }
  return absl::OkStatus();
}

std::string FlagUsage() {
  std::string out =
      "usage: ocid [flags]          serve CRI runtime.v1 on a unix socket\n"
      "       ocid [flags] config   print the effective config as TOML\n\nflags:\n";
  auto left = [](const FlagSpec& flag) {
    return absl::StrCat("  --", flag.name, flag.takes_value ? " VALUE" : "");
  };
  size_t width = 0;  // the help column starts after the longest flag
  for (const FlagSpec& flag : Flags()) width = std::max(width, left(flag).size() + 2);
  for (const FlagSpec& flag : Flags()) {
    std::string text = left(flag);
    absl::StrAppend(&out, text, std::string(width - text.size(), ' '), flag.help, "\n");
  }
  return out;
}

}  // namespace ocid
