// ContainerManager::Checkpoint: the archive of a running container.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/checkpoint/archive.h"
#include "pkg/container/container_manager.h"

namespace ocid {
namespace {

// config.dump and spec.dump in `work` for container `c`.
absl::Status WriteDumps(const ContainerRecord& c, const std::string& handler,
                        const std::string& work) {
  CheckpointConfig config;
  config.id = c.id;
  config.name = c.name;
  config.rootfs_image = c.image_name;
  config.rootfs_image_ref = c.image_id;
  config.rootfs_image_name = c.image_name;
  config.runtime = handler;
  config.created_time = absl::FromUnixNanos(c.created_at);
  config.checkpointed_at = absl::Now();
  RETURN_IF_ERROR(WriteFileAtomically(work + "/" + kConfigDump, config.ToJson(),
                                      0600, Durability::kVolatile));
  ASSIGN_OR_RETURN(std::string spec, ReadFileToString(c.bundle + "/config.json", 16 << 20));
  return WriteFileAtomically(work + "/" + kSpecDump, spec, 0600, Durability::kVolatile);
}

}  // namespace

absl::Status ContainerManager::Checkpoint(const std::string& id, const std::string& location) {
  ASSIGN_OR_RETURN(ContainerRecord found, Get(id));
  // Serialised with Stop and Remove: the container cannot go meanwhile.
  KeyedMutex::Lock lock = locks_.Acquire(found.id);
  ASSIGN_OR_RETURN(ContainerRecord c, Get(found.id));
  if (c.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("container ", c.id, " is not running"));
  }
  ASSIGN_OR_RETURN(UniqueFd out, CreateCheckpointFile(location, options_.checkpoint_dirs));
  absl::Cleanup remove_out = [&] { ::unlink(location.c_str()); };
  if (!options_.check_criu) {
    return absl::FailedPreconditionError("checkpoint/restore is not set up in this ocid");
  }
  RETURN_IF_ERROR(options_.check_criu());
  ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_.For(c.runtime_handler));

  // CRIU's images (as large as the container's memory) pass through a work
  // dir on the root's disk, not the runroot's tmpfs, on their way into the
  // archive.
  const std::string work = c.overlay_dir + "/checkpoint-work";
  RETURN_IF_ERROR(RemoveAll(work));
  absl::Cleanup remove_work = [&] { RemoveAll(work).IgnoreError(); };
  RETURN_IF_ERROR(MakeDirs(work + "/" + kCheckpointDir, 0700));
  RETURN_IF_ERROR(WriteDumps(c, runtime->handler_name(), work));
  // Frozen (as cri-o does) from before the dump until the changed files are
  // read, so that the files match the memory images; CRIU dumps a frozen
  // cgroup as it is, and --leave-running leaves it frozen for the resume.
  RETURN_IF_ERROR(runtime->Pause(c.id));
  absl::Status dumped =
      runtime->Checkpoint(c.id, work + "/" + kCheckpointDir, work, /*leave_running=*/true);
  if (dumped.ok()) dumped = WriteRootfsDiff(c.overlay_dir + "/upper", work);
  absl::Status resumed = runtime->Resume(c.id);  // thawed whatever the dump did
  RETURN_IF_ERROR(dumped);
  RETURN_IF_ERROR(resumed);
  RETURN_IF_ERROR(WriteCheckpointArchive(work, out.get()));
  if (::fsync(out.get()) != 0) return absl::ErrnoToStatus(errno, "fsync " + location);
  std::move(remove_out).Cancel();
  return absl::OkStatus();
}

}  // namespace ocid
