#include "cmd/ocic/args.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ocid::ocic {

std::optional<std::string> Args::Flag(const std::string& name) const {
  auto range = flags.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  return std::prev(range.second)->second;
}

std::vector<std::string> Args::Flags(const std::string& name) const {
  std::vector<std::string> values;
  auto range = flags.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) values.push_back(it->second);
  return values;
}

bool IsBooleanFlag(const std::string& name) {
  return name == "help" || name == "quiet" || name == "q" || name == "verbose" || name == "v" ||
         name == "all" || name == "watch" || name == "i" || name == "interactive" ||
         name == "t" || name == "tty" || name == "it" || name == "ti";
}

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      args.rest.assign(argv.begin() + i + 1, argv.end());
      break;
    }
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      args.words.emplace_back(arg);
      continue;
    }
    size_t equals = arg.find('=');
    std::string name(arg.substr(0, equals));
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("bad flag ", argv[i]));
    if (IsBooleanFlag(name)) {
      if (equals != absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " takes no value"));
      }
      args.flags.emplace(name, "true");
    } else if (equals != absl::string_view::npos) {
      args.flags.emplace(name, std::string(arg.substr(equals + 1)));
    } else if (i + 1 < argv.size()) {
      args.flags.emplace(name, argv[++i]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
  }
  return args;
}

}  // namespace ocid::ocic
