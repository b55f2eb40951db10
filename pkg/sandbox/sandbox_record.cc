#include "pkg/sandbox/sandbox_record.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ocid {

std::string SandboxRecord::ReservedName() const {
  return absl::StrCat("k8s_", name, "_", pod_namespace, "_", uid, "_", attempt);
}

std::string SandboxRecord::Serialize() const {
  return nlohmann::json{{"id", id},
                        {"name", name},
                        {"namespace", pod_namespace},
                        {"uid", uid},
                        {"attempt", attempt},
                        {"ready", ready},
                        {"created_at", created_at},
                        {"labels", labels},
                        {"annotations", annotations},
                        {"runtime_handler", runtime_handler},
                        {"config", config_json},
                        {"net_ns", namespaces.net},
                        {"ipc_ns", namespaces.ipc},
                        {"uts_ns", namespaces.uts},
                        {"infra_pid", infra_pid},
                        {"hostname", hostname},
                        {"files_dir", files_dir},
                        {"shm_path", shm_path},
                        {"log_directory", log_directory},
                        {"cgroup_parent", cgroup_parent},
                        {"ips", ips}}
      .dump();
}

absl::StatusOr<SandboxRecord> SandboxRecord::Parse(const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return absl::DataLossError("not a JSON object");
  SandboxRecord r;
  try {
    r.id = json.at("id").get<std::string>();
    r.name = json.at("name").get<std::string>();
    r.pod_namespace = json.at("namespace").get<std::string>();
    r.uid = json.at("uid").get<std::string>();
    r.attempt = json.at("attempt").get<uint32_t>();
    r.ready = json.at("ready").get<bool>();
    r.created_at = json.at("created_at").get<int64_t>();
    r.labels = json.at("labels").get<std::map<std::string, std::string>>();
    r.annotations = json.at("annotations").get<std::map<std::string, std::string>>();
    r.runtime_handler = json.at("runtime_handler").get<std::string>();
    r.config_json = json.at("config").get<std::string>();
    r.namespaces.net = json.at("net_ns").get<std::string>();
    r.namespaces.ipc = json.at("ipc_ns").get<std::string>();
    r.namespaces.uts = json.at("uts_ns").get<std::string>();
    r.infra_pid = json.at("infra_pid").get<pid_t>();
    // Records written before the hostname was kept have none: "" makes
    // new containers fall back to the config's hostname.
    r.hostname = json.value("hostname", std::string());
    r.files_dir = json.at("files_dir").get<std::string>();
    r.shm_path = json.at("shm_path").get<std::string>();
    r.log_directory = json.at("log_directory").get<std::string>();
    r.cgroup_parent = json.at("cgroup_parent").get<std::string>();
    r.ips = json.at("ips").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& error) {
    // Our own file, but read back from disk: a damaged one is reported.
    return absl::DataLossError(absl::StrCat("bad sandbox record: ", error.what()));
  }
  return r;
}

}  // namespace ocid
