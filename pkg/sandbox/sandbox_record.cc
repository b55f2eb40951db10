#include "pkg/sandbox/sandbox_record.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/record_json.h"
#include "pkg/base/status_macros.h"

namespace ocid {

std::string SandboxRecord::ReservedName() const {
  return absl::StrCat("k8s_", name, "_", pod_namespace, "_", uid, "_", attempt);
}

std::string SandboxRecord::Serialize() const {
  return nlohmann::json{{"version", kRecordVersion},
                        {"id", id},
                        {"name", name},
                        {"namespace", pod_namespace},
                        {"uid", uid},
                        {"attempt", attempt},
                        {"creating", creating},
                        {"ready", ready},
                        {"stopped", stopped},
                        {"created_at", created_at},
                        {"labels", labels},
                        {"annotations", annotations},
                        {"runtime_handler", runtime_handler},
                        {"config", config_json},
                        {"net_ns", namespaces.net},
                        {"ipc_ns", namespaces.ipc},
                        {"uts_ns", namespaces.uts},
                        {"infra_pid", infra_pid},
                        {"infra_start_time", infra_start_time},
                        {"hostname", hostname},
                        {"files_dir", files_dir},
                        {"shm_path", shm_path},
                        {"log_directory", log_directory},
                        {"cgroup_parent", cgroup_parent},
                        {"ips", ips},
                        {"selinux_process_label", selinux_process_label},
                        {"selinux_mount_label", selinux_mount_label}}
      .dump();
}

// Missing keys keep the defaults (record_json.h); only the ID is required.
// A record from before "creating" was kept was made in full.
// Records written before the hostname was kept have none: "" makes new
// containers fall back to the config's hostname.
absl::StatusOr<SandboxRecord> SandboxRecord::Parse(const std::string& text) {
  ASSIGN_OR_RETURN(RecordReader in, RecordReader::Parse(text, "sandbox"));
  SandboxRecord r;
  in.Require("id", r.id);
  in.Read("name", r.name);
  in.Read("namespace", r.pod_namespace);
  in.Read("uid", r.uid);
  in.Read("attempt", r.attempt);
  in.Read("creating", r.creating);
  in.Read("ready", r.ready);
  // Before "stopped" was kept, not ready meant stopped.
  r.stopped = !r.ready;
  in.Read("stopped", r.stopped);
  in.Read("created_at", r.created_at);
  in.Read("labels", r.labels);
  in.Read("annotations", r.annotations);
  in.Read("runtime_handler", r.runtime_handler);
  in.Read("config", r.config_json);
  in.Read("net_ns", r.namespaces.net);
  in.Read("ipc_ns", r.namespaces.ipc);
  in.Read("uts_ns", r.namespaces.uts);
  in.Read("infra_pid", r.infra_pid);
  in.Read("infra_start_time", r.infra_start_time);
  in.Read("hostname", r.hostname);
  in.Read("files_dir", r.files_dir);
  in.Read("shm_path", r.shm_path);
  in.Read("log_directory", r.log_directory);
  in.Read("cgroup_parent", r.cgroup_parent);
  in.Read("ips", r.ips);
  in.Read("selinux_process_label", r.selinux_process_label);
  in.Read("selinux_mount_label", r.selinux_mount_label);
  RETURN_IF_ERROR(in.status());
  return r;
}

}  // namespace ocid
