// What ocid remembers of a container, persisted so that a restarted ocid
// finds each container with its true state.
#ifndef OCID_PKG_CONTAINER_CONTAINER_RECORD_H_
#define OCID_PKG_CONTAINER_CONTAINER_RECORD_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace ocid {

enum class ContainerState { kCreated = 0, kRunning = 1, kExited = 2, kUnknown = 3 };

struct ContainerRecord {
  std::string id;
  std::string sandbox_id;
  std::string name;
  uint32_t attempt = 0;
  // In flight: CreateContainer stores the record before its first side
  // effect and clears this at its end; a record still creating after a
  // restart is undone by Recover. Hidden from Get, List and Status meanwhile.
  bool creating = false;
  // RemoveContainer began: set before its first side effect, so a removal
  // cut short (ocid died) is finished by Recover rather than left.
  bool removing = false;
  ContainerState state = ContainerState::kCreated;
  int64_t created_at = 0, started_at = 0, finished_at = 0;
  int32_t exit_code = 0;
  std::string reason, message;
  std::map<std::string, std::string> labels, annotations;
  std::string config_json;  // the ContainerConfig as proto3 JSON
  std::string image_id;     // "sha256:..." (the config digest)
  std::string image_name;   // a repo tag of the image (ContainerImageName), or its ID
  std::string image_ref;    // a repo digest of the image, or its ID
  // The configured runtime by name; "" (the default of the start that
  // reads it) only in records from before it was kept.
  std::string runtime_handler;
  std::string bundle;       // config.json, conmon's files
  std::string rootfs;       // the overlay mount point
  std::string overlay_dir;  // upper/ and work/
  std::string log_path;     // absolute
  std::string exit_dir, persist_dir;
  pid_t conmon_pid = 0;
  pid_t pid = 0;
  std::string stop_signal;  // "SIGTERM" etc., from the request or image
  // The user the process runs as (the spec's process.user), for
  // ContainerStatus; uid -1: unknown (a record from before it was kept).
  int64_t uid = -1, gid = -1;
  std::vector<int64_t> supplemental_groups;
  // Made from a checkpoint archive and not started yet: the dir of CRIU's
  // images that StartContainer restores it from (runtime restore under
  // conmon) instead of starting it. No runtime state exists before that.
  std::string restore_from;

  // kubelet's name for the container, unique among its pod's live ones.
  std::string ReservedName() const;

  std::string Serialize() const;
  static absl::StatusOr<ContainerRecord> Parse(const std::string& text);
};

}  // namespace ocid

#endif  // OCID_PKG_CONTAINER_CONTAINER_RECORD_H_
