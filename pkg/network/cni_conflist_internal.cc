#include "pkg/network/cni_conflist_internal.h"

#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/network/cni_config.h"

namespace ocid {
namespace cni_internal {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;
// A rate without a burst is refused by the bandwidth plugin; like kubelet,
// allow any burst (bits).
constexpr int64_t kUnlimitedBurst = std::numeric_limits<int32_t>::max();

// "" when `config` is a usable list.
std::string ListProblem(const nlohmann::json& config) {
  if (!config.is_object()) return "not a JSON object";
  auto name = config.find("name");
  if (name == config.end() || !name->is_string() || name->get<std::string>().empty()) {
    return "no \"name\"";
  }
  auto version = config.find("cniVersion");
  if (version != config.end() && !version->is_string()) return "\"cniVersion\" is not a string";
  auto plugins = config.find("plugins");
  if (plugins == config.end() || !plugins->is_array() || plugins->empty()) {
    return "no \"plugins\" list";
  }
  for (const nlohmann::json& plugin : *plugins) {
    auto type = plugin.is_object() ? plugin.find("type") : plugin.end();
    if (!plugin.is_object() || type == plugin.end() || !type->is_string()) {
      return "a plugin without \"type\"";
    }
    std::string text = type->get<std::string>();
    if (text.empty() || text == "." || text == ".." || absl::StrContains(text, "/")) {
      return absl::StrCat("plugin type \"", text, "\" is not a file name");
    }
  }
  return "";
}

}  // namespace

std::string CniNetworkList::PluginType(size_t index) const {
  return config["plugins"][index]["type"].get<std::string>();
}

absl::StatusOr<CniNetworkList> NetworkListFromJson(nlohmann::json config,
                                                   const std::string& origin) {
  std::string problem = ListProblem(config);
  if (!problem.empty()) return absl::InvalidArgumentError(absl::StrCat(origin, ": ", problem));
  CniNetworkList list;
  list.name = config["name"].get<std::string>();
  list.cni_version = config.value("cniVersion", std::string());
  if (list.cni_version.empty()) list.cni_version = "0.1.0";
  auto disable_check = config.find("disableCheck");
  list.disable_check =
      disable_check != config.end() && disable_check->is_boolean() && disable_check->get<bool>();
  list.file = origin;
  list.config = std::move(config);
  return list;
}

absl::StatusOr<CniNetworkList> LoadNetworkList(const std::string& file) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(file, kMaxConfigBytes));
  nlohmann::json config = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return absl::InvalidArgumentError(file + ": not valid JSON");
  if (absl::EndsWith(file, ".conflist")) return NetworkListFromJson(std::move(config), file);
  if (!config.is_object()) return absl::InvalidArgumentError(file + ": not a JSON object");
  nlohmann::json list = nlohmann::json::object();
  if (config.contains("name")) list["name"] = config["name"];
  if (config.contains("cniVersion")) list["cniVersion"] = config["cniVersion"];
  list["plugins"] = nlohmann::json::array({std::move(config)});
  return NetworkListFromJson(std::move(list), file);
}

absl::StatusOr<CniNetworkList> LoadDefaultNetwork(const std::string& dir,
                                                  const std::string& wanted) {
  ASSIGN_OR_RETURN(CniConfigScan scan, ScanCniConfigDir(dir));
  std::vector<std::string> skipped = std::move(scan.skipped);
  for (const CniNetwork& network : scan.networks) {
    if (!wanted.empty() && network.name != wanted) continue;
    absl::StatusOr<CniNetworkList> list = LoadNetworkList(network.file);
    if (list.ok()) return list;
    skipped.emplace_back(list.status().message());
  }
  std::string what = wanted.empty() ? "no valid CNI network config"
                                    : absl::StrCat("no CNI network named \"", wanted, "\"");
  std::string why =
      skipped.empty() ? "" : absl::StrCat(" (skipped ", absl::StrJoin(skipped, "; "), ")");
  return absl::NotFoundError(absl::StrCat(what, " in ", dir, why));
}

nlohmann::json CapabilityArgs(const PodNetworkRequest& request, const std::string& pod_cidr) {
  nlohmann::json args = nlohmann::json::object();
  nlohmann::json mappings = nlohmann::json::array();
  for (const CniPortMapping& port : request.port_mappings) {
    // A mapping without a host port only documents the container's port
    // (kubelet sends one per declared containerPort): nothing to forward,
    // and portmap refuses host port 0.
    if (port.host_port <= 0) continue;
    nlohmann::json mapping = {{"hostPort", port.host_port},
                              {"containerPort", port.container_port},
                              {"protocol", absl::AsciiStrToLower(port.protocol)}};
    if (!port.host_ip.empty()) mapping["hostIP"] = port.host_ip;
    mappings.push_back(std::move(mapping));
  }
  if (!mappings.empty()) args["portMappings"] = std::move(mappings);
  if (request.ingress_bps > 0 || request.egress_bps > 0) {
    nlohmann::json bandwidth = nlohmann::json::object();
    if (request.ingress_bps > 0) {
      bandwidth["ingressRate"] = request.ingress_bps;
      bandwidth["ingressBurst"] = kUnlimitedBurst;
    }
    if (request.egress_bps > 0) {
      bandwidth["egressRate"] = request.egress_bps;
      bandwidth["egressBurst"] = kUnlimitedBurst;
    }
    args["bandwidth"] = std::move(bandwidth);
  }
  if (!pod_cidr.empty()) {
    nlohmann::json range = nlohmann::json::object();
    range["subnet"] = pod_cidr;
    nlohmann::json range_set = nlohmann::json::array();
    range_set.push_back(std::move(range));
    args["ipRanges"] = nlohmann::json::array();
    args["ipRanges"].push_back(std::move(range_set));
  }
  if (!request.dns_servers.empty() || !request.dns_searches.empty() ||
      !request.dns_options.empty()) {
    nlohmann::json dns = nlohmann::json::object();
    dns["servers"] = request.dns_servers;
    dns["searches"] = request.dns_searches;
    dns["options"] = request.dns_options;
    args["dns"] = std::move(dns);
  }
  return args;
}

nlohmann::json PluginStdin(const CniNetworkList& list, size_t index,
                           const nlohmann::json& prev_result,
                           const nlohmann::json& capability_args) {
  nlohmann::json conf = list.config["plugins"][index];
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  if (!prev_result.is_null()) conf["prevResult"] = prev_result;
  nlohmann::json runtime = nlohmann::json::object();
  auto capabilities = conf.find("capabilities");
  if (capabilities != conf.end() && capabilities->is_object()) {
    for (const auto& [key, enabled] : capabilities->items()) {
      if (enabled == true && capability_args.contains(key)) runtime[key] = capability_args[key];
    }
  }
  if (!runtime.empty()) conf["runtimeConfig"] = std::move(runtime);
  return conf;
}

}  // namespace cni_internal
}  // namespace ocid
