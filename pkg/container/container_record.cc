#include "pkg/container/container_record.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ocid {

std::string ContainerRecord::ReservedName() const {
  return absl::StrCat(sandbox_id, "/", name, "_", attempt);
}

std::string ContainerRecord::Serialize() const {
  return nlohmann::json{{"id", id},
                        {"sandbox_id", sandbox_id},
                        {"name", name},
                        {"attempt", attempt},
                        {"state", static_cast<int>(state)},
                        {"created_at", created_at},
                        {"started_at", started_at},
                        {"finished_at", finished_at},
                        {"exit_code", exit_code},
                        {"reason", reason},
                        {"message", message},
                        {"labels", labels},
                        {"annotations", annotations},
                        {"config", config_json},
                        {"image_id", image_id},
                        {"image_name", image_name},
                        {"image_ref", image_ref},
                        {"runtime_handler", runtime_handler},
                        {"bundle", bundle},
                        {"rootfs", rootfs},
                        {"overlay_dir", overlay_dir},
                        {"log_path", log_path},
                        {"exit_dir", exit_dir},
                        {"persist_dir", persist_dir},
                        {"conmon_pid", conmon_pid},
                        {"pid", pid},
                        {"stop_signal", stop_signal}}
      .dump();
}

absl::StatusOr<ContainerRecord> ContainerRecord::Parse(const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return absl::DataLossError("not a JSON object");
  ContainerRecord r;
  try {
    r.id = json.at("id").get<std::string>();
    r.sandbox_id = json.at("sandbox_id").get<std::string>();
    r.name = json.at("name").get<std::string>();
    r.attempt = json.at("attempt").get<uint32_t>();
    int state = json.at("state").get<int>();
    if (state < 0 || state > 3) return absl::DataLossError("bad container state");
    r.state = static_cast<ContainerState>(state);
    r.created_at = json.at("created_at").get<int64_t>();
    r.started_at = json.at("started_at").get<int64_t>();
    r.finished_at = json.at("finished_at").get<int64_t>();
    r.exit_code = json.at("exit_code").get<int32_t>();
    r.reason = json.at("reason").get<std::string>();
    r.message = json.at("message").get<std::string>();
    r.labels = json.at("labels").get<std::map<std::string, std::string>>();
    r.annotations = json.at("annotations").get<std::map<std::string, std::string>>();
    r.config_json = json.at("config").get<std::string>();
    r.image_id = json.at("image_id").get<std::string>();
    r.image_name = json.at("image_name").get<std::string>();
    r.image_ref = json.at("image_ref").get<std::string>();
    r.runtime_handler = json.at("runtime_handler").get<std::string>();
    r.bundle = json.at("bundle").get<std::string>();
    r.rootfs = json.at("rootfs").get<std::string>();
    r.overlay_dir = json.at("overlay_dir").get<std::string>();
    r.log_path = json.at("log_path").get<std::string>();
    r.exit_dir = json.at("exit_dir").get<std::string>();
    r.persist_dir = json.at("persist_dir").get<std::string>();
    r.conmon_pid = json.at("conmon_pid").get<pid_t>();
    r.pid = json.at("pid").get<pid_t>();
    r.stop_signal = json.at("stop_signal").get<std::string>();
  } catch (const nlohmann::json::exception& error) {
    return absl::DataLossError(absl::StrCat("bad container record: ", error.what()));
  }
  return r;
}

}  // namespace ocid
