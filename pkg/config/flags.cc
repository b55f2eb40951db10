#include "pkg/config/flags.h"

#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

struct FlagSpec {
  const char* name;
  const char* help;
  bool takes_value;
  // Applies the value to the config; null for flags read by ParseCommandLine.
  std::function<absl::Status(const std::string&, Config&)> apply;
};

std::function<absl::Status(const std::string&, Config&)> Set(std::string Config::*field) {
  return [field](const std::string& value, Config& config) {
    config.*field = value;
    return absl::OkStatus();
  };
}

const std::vector<FlagSpec>& Flags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"config", "main config file (default /etc/ocid/ocid.conf)", true, nullptr},
      {"config-dir", "drop-in dir, *.conf read in lexical order (default /etc/ocid/ocid.conf.d)",
       true, nullptr},
      {"listen", "unix socket path to serve CRI on", true, Set(&Config::listen)},
      {"root", "persistent state dir", true, Set(&Config::root)},
      {"runroot", "volatile state dir", true, Set(&Config::runroot)},
      {"log-level", "fatal, error, warn, info, debug or trace", true, Set(&Config::log_level)},
      {"log-dir", "container logs of pods that name no log dir", true, Set(&Config::log_dir)},
      {"debug", "same as --log-level=debug", false,
       [](const std::string&, Config& c) {
         c.log_level = "debug";
         return absl::OkStatus();
       }},
      {"runtime", "path of the default runtime handler's binary", true,
       [](const std::string& value, Config& c) {
         c.runtimes[c.default_runtime].path = value;
         return absl::OkStatus();
       }},
      {"default-runtime", "name of the default runtime handler", true,
       Set(&Config::default_runtime)},
      {"conmon", "path of the conmon binary", true, Set(&Config::conmon)},
      {"cgroup-manager", "cgroupfs or systemd", true, Set(&Config::cgroup_manager)},
      {"signature-policy", "image trust policy file (policy.json)", true,
       Set(&Config::signature_policy)},
      {"registries-conf", "registries.conf file", true, Set(&Config::registries_conf)},
      {"global-auth-file", "auth.json with registry credentials for pulls", true,
       Set(&Config::global_auth_file)},
      {"cni-config-dir", "CNI network config dir", true, Set(&Config::network_dir)},
      {"cni-plugin-dir", "CNI plugin dir; repeat for more (replaces the default list)", true,
       nullptr},
      {"cni-default-network", "CNI network to use (default: first valid in the config dir)",
       true, Set(&Config::default_network)},
      {"help", "print this help", false, nullptr},
      {"version", "print the version", false, nullptr},
  };
  return *flags;
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
      if (value == "false") continue;
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", name, " takes no value (got \"", value, "\")"));
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
  bool plugin_dirs_replaced = false;
  // --runtime names the binary of the default handler, so it waits until
  // --default-runtime (wherever it stands) has picked that handler.
  std::vector<std::pair<std::string, std::string>> ordered;
  for (const auto& flag : command_line.overrides) {
    if (flag.first != "runtime") ordered.push_back(flag);
  }
  for (const auto& flag : command_line.overrides) {
    if (flag.first == "runtime") ordered.push_back(flag);
  }
  for (const auto& [name, value] : ordered) {
    if (name == "cni-plugin-dir") {
      if (!plugin_dirs_replaced) config.plugin_dirs.clear();
      plugin_dirs_replaced = true;
      config.plugin_dirs.push_back(value);
      continue;
    }
    const FlagSpec* flag = FindFlag(name);
    if (flag == nullptr || !flag->apply) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " cannot be applied"));
    }
    RETURN_IF_ERROR(flag->apply(value, config));
  }
  return absl::OkStatus();
}

std::string FlagUsage() {
  std::string out =
      "usage: ocid [flags]          serve CRI runtime.v1 on a unix socket\n"
      "       ocid [flags] config   print the effective config as TOML\n\nflags:\n";
  for (const FlagSpec& flag : Flags()) {
    std::string left = absl::StrCat("  --", flag.name, flag.takes_value ? " VALUE" : "");
    absl::StrAppend(&out, left, std::string(left.size() < 30 ? 30 - left.size() : 1, ' '),
                    flag.help, "\n");
  }
  return out;
}

}  // namespace ocid
