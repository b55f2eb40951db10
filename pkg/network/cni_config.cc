#include "pkg/network/cni_config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

bool IsConfigFileName(const std::string& name) {
  return name[0] != '.' && (absl::EndsWith(name, ".conf") || absl::EndsWith(name, ".conflist") ||
                            absl::EndsWith(name, ".json"));
}

// Checks the fields every CNI runtime needs; returns "" when fine.
std::string Problem(const nlohmann::json& config, bool is_list) {
  if (!config.is_object()) return "not a JSON object";
  if (!config.contains("name") || !config["name"].is_string() ||
      config["name"].get<std::string>().empty()) {
    return "no \"name\"";
  }
  if (!is_list) {
    if (!config.contains("type") || !config["type"].is_string()) return "no plugin \"type\"";
    return "";
  }
  if (!config.contains("plugins") || !config["plugins"].is_array() ||
      config["plugins"].empty()) {
    return "no \"plugins\" list";
  }
  for (const auto& plugin : config["plugins"]) {
    if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string()) {
      return "a plugin without \"type\"";
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<CniConfigScan> ScanCniConfigDir(const std::string& dir) {
  CniConfigScan scan;
  absl::StatusOr<std::vector<std::string>> entries = ListDir(dir);
  if (absl::IsNotFound(entries.status())) return scan;
  if (!entries.ok()) return entries.status();
  std::vector<std::string> names;
  for (const std::string& name : *entries) {
    if (IsConfigFileName(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());

  for (const std::string& name : names) {
    std::string path = absl::StrCat(dir, "/", name);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json config = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded()) {
      scan.skipped.push_back(absl::StrCat(path, ": not valid JSON"));
      continue;
    }
    std::string problem = Problem(config, absl::EndsWith(name, ".conflist"));
    if (!problem.empty()) {
      scan.skipped.push_back(absl::StrCat(path, ": ", problem));
      continue;
    }
    scan.networks.push_back({config["name"].get<std::string>(), path,
                             config.value("cniVersion", std::string())});
  }
  return scan;
}

absl::StatusOr<CniNetwork> FindDefaultNetwork(const std::string& dir, const std::string& wanted) {
  absl::StatusOr<CniConfigScan> scan = ScanCniConfigDir(dir);
  if (!scan.ok()) return scan.status();
  for (const CniNetwork& network : scan->networks) {
    if (wanted.empty() || network.name == wanted) return network;
  }
  std::string what = wanted.empty() ? "no valid CNI network config"
                                    : absl::StrCat("no CNI network named \"", wanted, "\"");
  std::string why = scan->skipped.empty()
                        ? ""
                        : absl::StrCat(" (skipped ", absl::StrJoin(scan->skipped, "; "), ")");
  return absl::NotFoundError(absl::StrCat(what, " in ", dir, why));
}

}  // namespace ocid
