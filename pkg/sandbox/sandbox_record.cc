#include "pkg/sandbox/sandbox_record.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/record_json.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

// Mappings as flat [container, host, length, ...] triples.
std::vector<int64_t> Flat(const std::vector<IdMapping>& mappings) {
  std::vector<int64_t> flat;
  for (const IdMapping& m : mappings)
    flat.insert(flat.end(), {m.container_id, m.host_id, m.length});
  return flat;
}

absl::StatusOr<std::vector<IdMapping>> Unflat(const std::vector<int64_t>& flat, const char* key) {
  if (flat.empty() || flat.size() % 3 != 0) {
    return absl::DataLossError(absl::StrCat("sandbox record: ", key, ": not triples"));
  }
  std::vector<IdMapping> mappings;
  for (size_t i = 0; i < flat.size(); i += 3) {
    for (size_t j = i; j < i + 3; ++j) {
      if (flat[j] < 0 || flat[j] > UINT32_MAX) {
        return absl::DataLossError(absl::StrCat("sandbox record: ", key, ": bad id ", flat[j]));
      }
    }
    mappings.push_back({static_cast<uint32_t>(flat[i]), static_cast<uint32_t>(flat[i + 1]),
                        static_cast<uint32_t>(flat[i + 2])});
  }
  return mappings;
}

}  // namespace

std::string SandboxRecord::ReservedName() const {
  return absl::StrCat("k8s_", name, "_", pod_namespace, "_", uid, "_", attempt);
}

std::string SandboxRecord::Serialize() const {
  nlohmann::json json{{"version", kRecordVersion},
                      {"id", id},
                      {"name", name},
                      {"namespace", pod_namespace},
                      {"uid", uid},
                      {"attempt", attempt},
                      {"creating", creating},
                      {"removing", removing},
                      {"ready", ready},
                      {"stopped", stopped},
                      {"created_at", created_at},
                      {"labels", labels},
                      {"annotations", annotations},
                      {"runtime_handler", runtime_handler},
                      {"runtime", runtime},
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
                      {"selinux_mount_label", selinux_mount_label}};
  if (userns) {
    json["user_ns"] = namespaces.user;
    json["userns_uid_map"] = Flat(userns->uids);
    json["userns_gid_map"] = Flat(userns->gids);
  }
  return json.dump();
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
  in.Read("removing", r.removing);
  in.Read("ready", r.ready);
  // Before "stopped" was kept, not ready meant stopped.
  r.stopped = !r.ready;
  in.Read("stopped", r.stopped);
  in.Read("created_at", r.created_at);
  in.Read("labels", r.labels);
  in.Read("annotations", r.annotations);
  in.Read("runtime_handler", r.runtime_handler);
  in.Read("runtime", r.runtime);
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
  // Records from before user namespaces have none: the host's.
  in.Read("user_ns", r.namespaces.user);
  std::vector<int64_t> uid_map, gid_map;
  in.Read("userns_uid_map", uid_map);
  in.Read("userns_gid_map", gid_map);
  RETURN_IF_ERROR(in.status());
  if (!uid_map.empty() || !gid_map.empty()) {
    UserNamespaceMappings mappings;
    ASSIGN_OR_RETURN(mappings.uids, Unflat(uid_map, "userns_uid_map"));
    ASSIGN_OR_RETURN(mappings.gids, Unflat(gid_map, "userns_gid_map"));
    r.userns = std::move(mappings);
  }
  return r;
}

}  // namespace ocid
