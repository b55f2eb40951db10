#include "pkg/container/container_record.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/record_json.h"
#include "pkg/base/status_macros.h"

namespace ocid {

std::string ContainerRecord::ReservedName() const {
  return absl::StrCat(sandbox_id, "/", name, "_", attempt);
}

std::string ContainerRecord::Serialize() const {
  return nlohmann::json{{"version", kRecordVersion},
                        {"id", id},
                        {"sandbox_id", sandbox_id},
                        {"name", name},
                        {"attempt", attempt},
                        {"creating", creating},
                        {"removing", removing},
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
                        {"stop_signal", stop_signal},
                        {"uid", uid},
                        {"gid", gid},
                        {"supplemental_groups", supplemental_groups},
                        {"restore_from", restore_from}}
      .dump();
}

// Missing keys keep the defaults (record_json.h); only the ID is required.
absl::StatusOr<ContainerRecord> ContainerRecord::Parse(const std::string& text) {
  ASSIGN_OR_RETURN(RecordReader in, RecordReader::Parse(text, "container"));
  ContainerRecord r;
  in.Require("id", r.id);
  in.Read("sandbox_id", r.sandbox_id);
  in.Read("name", r.name);
  in.Read("attempt", r.attempt);
  in.Read("creating", r.creating);  // missing: made in full
  in.Read("removing", r.removing);
  int32_t state = static_cast<int32_t>(r.state);
  in.Read("state", state);
  in.Read("created_at", r.created_at);
  in.Read("started_at", r.started_at);
  in.Read("finished_at", r.finished_at);
  in.Read("exit_code", r.exit_code);
  in.Read("reason", r.reason);
  in.Read("message", r.message);
  in.Read("labels", r.labels);
  in.Read("annotations", r.annotations);
  in.Read("config", r.config_json);
  in.Read("image_id", r.image_id);
  in.Read("image_name", r.image_name);
  in.Read("image_ref", r.image_ref);
  in.Read("runtime_handler", r.runtime_handler);
  in.Read("bundle", r.bundle);
  in.Read("rootfs", r.rootfs);
  in.Read("overlay_dir", r.overlay_dir);
  in.Read("log_path", r.log_path);
  in.Read("exit_dir", r.exit_dir);
  in.Read("persist_dir", r.persist_dir);
  in.Read("conmon_pid", r.conmon_pid);
  in.Read("pid", r.pid);
  in.Read("stop_signal", r.stop_signal);
  in.Read("uid", r.uid);
  in.Read("gid", r.gid);
  in.Read("supplemental_groups", r.supplemental_groups);
  in.Read("restore_from", r.restore_from);
  RETURN_IF_ERROR(in.status());
  if (state < 0 || state > 3) {
    return absl::DataLossError(
        absl::StrCat("container record: key \"state\" is ", state, ", not a container state"));
  }
  r.state = static_cast<ContainerState>(state);
  return r;
}

}  // namespace ocid
