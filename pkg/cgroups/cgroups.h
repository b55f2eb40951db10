// The host's cgroup file systems: which layout is mounted (v1, v2, or the
// hybrid of v1 controllers plus a controller-less v2 at <root>/unified),
// reading a cgroup's usage, and removing the dirs of a cgroup in every
// hierarchy. Reads only files; never holds a lock, so callers may read
// many cgroups at once. The root is a parameter so tests run against fake
// trees in a temp dir.
#ifndef OCID_PKG_CGROUPS_CGROUPS_H_
#define OCID_PKG_CGROUPS_CGROUPS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/base/unique_fd.h"

namespace ocid {

enum class CgroupLayout { kV1, kV2, kHybrid };
const char* LayoutName(CgroupLayout layout);

// One cgroup's usage, from its own files (v1: cpuacct, memory, pids
// controllers; v2: cpu.stat, memory.*, pids.current). Counts are
// hierarchical: a pod's cgroup includes its containers'.
struct CgroupStats {
  uint64_t cpu_usage_ns = 0;                   // cumulative CPU time
  uint64_t memory_usage_bytes = 0;             // v1 memory.usage_in_bytes, v2 memory.current
  uint64_t memory_working_set_bytes = 0;       // usage minus inactive_file (as kubelet reads it)
  uint64_t memory_rss_bytes = 0;               // v1 total_rss, v2 anon
  uint64_t page_faults = 0;                    // pgfault
  uint64_t major_page_faults = 0;              // pgmajfault
  std::optional<uint64_t> memory_limit_bytes;  // unset when unlimited
  uint64_t pids = 0;                           // pids.current
};

// Limits written into a cgroup; unset ones are left as they are.
struct CgroupLimits {
  std::optional<uint64_t> cpu_shares;  // v1 cpu.shares; v2 cpu.weight, converted as runc does
  std::optional<int64_t> cpu_quota;    // µs per period, -1: none (v1 cpu.cfs_quota_us, v2 cpu.max)
  std::optional<uint64_t> cpu_period;  // µs (v1 cpu.cfs_period_us, v2 cpu.max)
  std::optional<int64_t> memory_limit;  // bytes, -1: none (v1 memory.limit_in_bytes, v2 memory.max)
};

// A cgroup's dirs, opened once (O_PATH) in the hierarchies Read uses, so
// that each read opens its file relative to them: the walk down
// /sys/fs/cgroup/<controller>/<path> (kernfs, whose lookups leave the
// kernel's lockless path walk) costs more than reading the file. Holds no
// cgroup alive: a removed one reads as NotFound.
struct CgroupHandle {
  std::string path;
  UniqueFd memory;   // v1: the memory controller's dir; v2: the one dir
  UniqueFd cpuacct;  // v1 only; invalid when the controller is not mounted
  UniqueFd pids;     // v1 only; invalid when not mounted or not made there
  std::string memory_dir, cpuacct_dir, pids_dir;  // for error messages
};

class Cgroups {
 public:
  // Looks at `root` (normally /sys/fs/cgroup): cgroup.controllers there
  // means v2; v1 controller dirs plus unified/cgroup.controllers mean
  // hybrid; v1 controller dirs alone mean v1. FailedPrecondition for
  // anything else.
  static absl::StatusOr<Cgroups> Open(const std::string& root = "/sys/fs/cgroup");

  CgroupLayout layout() const { return layout_; }
  const std::string& root() const { return root_; }

  // Whether memory cgroups account swap: v1 has memory.memsw.* (the
  // kernel's swapaccount); v2 has the memory controller (runc ignores a
  // missing memory.swap.max when setting it to 0 or max).
  bool SwapAccounting() const;

  // The usage of cgroup `path` ("/ocid/pod-x/ocid-y"). NotFound when the
  // cgroup does not exist (not created yet, or already removed).
  absl::StatusOr<CgroupStats> Read(const std::string& path) const;
  // The same in two steps, for a caller that reads one cgroup again and
  // again: OpenCgroup (NotFound as Read), then Read of the handle (NotFound
  // once the cgroup is removed). `with_pids` false leaves pids at 0 and
  // saves reading pids.current.
  absl::StatusOr<CgroupHandle> OpenCgroup(const std::string& path) const;
  absl::StatusOr<CgroupStats> Read(const CgroupHandle& handle, bool with_pids) const;

  // The dirs of cgroup `path` in every mounted hierarchy (v1: one per
  // controller mount, the named "systemd" one and unified; v2: one).
  std::vector<std::string> Dirs(const std::string& path) const;

  // rmdir of `path` in every hierarchy; a missing dir is fine. Fails
  // (EBUSY) while a process is in it or it has children, after retrying
  // for `patience` (a process on its way out, such as a conmon whose
  // container just exited).
  absl::Status Remove(const std::string& path,
                      absl::Duration patience = absl::ZeroDuration()) const;

  // Kills (SIGKILL) every process in cgroup `path` and the cgroups below
  // it, then waits up to `patience` for them to be gone. v2 with
  // cgroup.kill: the kernel kills them all at once; otherwise each pid
  // listed in cgroup.procs is killed, with the v1 freezer (when mounted)
  // frozen over each pass so that nothing forks past the list, and passes
  // repeat while they find pids not yet killed. The wait is on a pidfd of
  // a process still alive, no fixed sleep. A missing cgroup is fine.
  // DeadlineExceeded names a process still alive (not a zombie) after that.
  absl::Status Kill(const std::string& path, absl::Duration patience) const;

  // Whether the memory controller of cgroup `path` saw an OOM kill: v1
  // memory.oom_control's oom_kill counter (or under_oom), v2
  // memory.events' oom_kill. NotFound when the cgroup does not exist.
  absl::StatusOr<bool> OomKilled(const std::string& path) const;
  // The oom_kill counter of that file (v1 memory.oom_control, v2
  // memory.events). NotFound when the cgroup (or its memory controller)
  // has none.
  absl::StatusOr<uint64_t> OomKillCount(const std::string& path) const;

  // The dir of cgroup `path` in the memory controller's hierarchy (v2: the
  // one); "" when no memory controller is mounted.
  std::string MemoryDir(const std::string& path) const;

  // Writes `limits` into cgroup `path`, making its dirs where they are
  // missing (v2: enabling the cpu and memory controllers on the way down).
  // Each file's value is read before it is written; when the kernel
  // refuses a write (InvalidArgument naming the file, the value and the
  // kernel's reason), the files already written get their old values back.
  absl::Status SetLimits(const std::string& path, const CgroupLimits& limits) const;

  // Moves process `pid` into cgroup `path`, making its dirs, in every
  // hierarchy (v1: each controller's and the named ones; v2: the one).
  absl::Status Join(const std::string& path, pid_t pid) const;

 private:
  Cgroups(std::string root, CgroupLayout layout, std::vector<std::string> hierarchies)
      : root_(std::move(root)), layout_(layout), hierarchies_(std::move(hierarchies)) {}
  absl::StatusOr<CgroupStats> ReadV1(const CgroupHandle& handle, bool with_pids) const;
  absl::StatusOr<CgroupStats> ReadV2(const CgroupHandle& handle, bool with_pids) const;
  // The v1 dir of `controller` (its own mount, or a joint one such as
  // cpu,cpuacct); "" when it is not mounted.
  std::string V1Controller(const std::string& controller) const;

  std::string root_;
  CgroupLayout layout_;
  std::vector<std::string> hierarchies_;  // mount dirs under root_, not symlinks
  // Where cgroup.procs of `path` is read for Kill: v2's one dir, else the
  // first of the v1 freezer's, memory's or pids' that has the cgroup (""
  // when none has it).
  std::string ProcsDir(const std::string& path) const;

  // v1: the controllers' dirs, looked up once ("" when not mounted).
  std::string memory_, cpuacct_, pids_, freezer_;
};

}  // namespace ocid

#endif  // OCID_PKG_CGROUPS_CGROUPS_H_
