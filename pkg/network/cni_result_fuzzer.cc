// Fuzz target: what a CNI plugin prints and what sits in a network config
// file are outside ocid's control. The bytes are read as a plugin's stdout
// (a result to take IPs from and pass on as prevResult, or an error object)
// and as a network config list; nothing may crash or throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "nlohmann/json.hpp"
#include "pkg/network/cni_conflist_internal.h"
#include "pkg/network/cni_exec_internal.h"
#include "pkg/network/cni_result_internal.h"

namespace {

using nlohmann::json;
namespace cni = ocid::cni_internal;

const char kList[] = R"({"cniVersion": "1.0.0", "name": "net", "plugins": [
  {"type": "bridge", "ipam": {"type": "host-local"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]})";

// Under `bazel test` the sandbox's TEST_TMPDIR, else /tmp.
std::string ScratchDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/cni_result_fuzz.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  cni::PluginRun run;
  run.exit_code = 1;
  run.stdout_text = text;
  (void)cni::PluginFailureMessage("bridge", run);

  // As an ADD result: its IPs, the cached copy, the next plugin's stdin.
  json result = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (result.is_object()) {
    (void)cni::ResultIps(result);
    (void)result.dump();
    absl::StatusOr<cni::CniNetworkList> fixed =
        cni::NetworkListFromJson(json::parse(kList), "fixed.conflist");
    if (fixed.ok()) {
      json args = {{"portMappings", json::array()}};
      (void)cni::PluginStdin(*fixed, 1, result, args).dump();
    }
  }

  // As a network config list (a file, or the config in a cache record).
  json config = json::parse(text, nullptr, /*allow_exceptions=*/false);
  absl::StatusOr<cni::CniNetworkList> list = cni::NetworkListFromJson(config, "fuzz.conflist");
  if (list.ok()) {
    (void)cni::CompareCniVersions(list->cni_version, "0.4.0");
    json args = {{"portMappings", json::array({{{"hostPort", 80}, {"containerPort", 8080}}})},
                 {"dns", {{"servers", json::array({"10.0.0.10"})}}}};
    for (size_t i = 0; i < list->PluginCount(); ++i) {
      (void)list->PluginType(i);
      (void)cni::PluginStdin(*list, i, result.is_object() ? result : json(), args).dump();
    }
  }

  // As files in the config dir: a one-plugin .conf and a .conflist. Only
  // objects get past the JSON parse there, and writing every input twice
  // would make this run disk-bound.
  if (!config.is_object()) return 0;
  static const std::string dir = ScratchDir();
  for (const char* name : {"/fuzz.conf", "/fuzz.conflist"}) {
    WriteAll(dir + name, text);
    absl::StatusOr<cni::CniNetworkList> loaded = cni::LoadNetworkList(dir + name);
    if (loaded.ok()) (void)cni::PluginStdin(*loaded, 0, json(), json::object()).dump();
  }
  return 0;
}
