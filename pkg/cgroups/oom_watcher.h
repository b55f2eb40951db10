// OOM kills in memory cgroups as they happen, from one thread (epoll) for
// every cgroup watched: v1 an eventfd registered on the cgroup's
// memory.oom_control through its cgroup.event_control (the kernel signals
// it on each OOM, and once more when the cgroup is removed); v2 inotify on
// the cgroup's memory.events, whose oom_kill counter is read on each change.
// The callback runs on the watcher's thread with no lock of the watcher
// held; it may call Watch and Unwatch.
#ifndef OCID_PKG_CGROUPS_OOM_WATCHER_H_
#define OCID_PKG_CGROUPS_OOM_WATCHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pkg/base/unique_fd.h"
#include "pkg/cgroups/cgroups.h"

namespace ocid {

class OomWatcher {
 public:
  // Called with the key given to Watch, once per OOM event seen.
  using OnOom = std::function<void(const std::string& key)>;

  // Starts the thread. `cgroups` must outlive the watcher.
  static absl::StatusOr<std::unique_ptr<OomWatcher>> Start(const Cgroups& cgroups, OnOom on_oom);
  // Stops the thread (waiting for a callback under way) and every watch.
  ~OomWatcher();
  OomWatcher(const OomWatcher&) = delete;
  OomWatcher& operator=(const OomWatcher&) = delete;

  // Watches the memory cgroup `path` ("/ocid/pod-x/ocid-y") under `key`,
  // replacing a watch of the same key (or of the same cgroup under
  // another key). v2 kills counted before this call
  // are not reported. NotFound when the cgroup does not exist,
  // FailedPrecondition when no memory controller is mounted.
  absl::Status Watch(const std::string& key, const std::string& path);
  // Stops watching `key`; an unknown key is fine. A callback for it that
  // is already under way still runs.
  void Unwatch(const std::string& key);
  // How many cgroups are watched (a removed cgroup's watch ends by itself).
  size_t watching() const;

 private:
  struct Entry {
    std::string key;
    std::string path;    // the cgroup, as given to Watch
    std::string dir;     // its dir in the memory controller's hierarchy
    UniqueFd eventfd;    // v1: signalled by the kernel
    int wd = -1;         // v2: the inotify watch of memory.events
    uint64_t kills = 0;  // v2: oom_kill when last read
  };

  OomWatcher(const Cgroups& cgroups, OnOom on_oom)
      : cgroups_(cgroups), on_oom_(std::move(on_oom)) {}
  absl::Status Init();
  absl::Status Register(Entry& entry, uint64_t id);
  void Run();
  // Each returns the keys to report.
  std::vector<std::string> OnEventFd(uint64_t id);
  std::vector<std::string> OnInotify();
  void Drop(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Cgroups& cgroups_;
  const OnOom on_oom_;
  const bool v2_ = cgroups_.layout() == CgroupLayout::kV2;
  UniqueFd epoll_, inotify_, wake_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 2;  // 0: wake_, 1: inotify_
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> by_key_ ABSL_GUARDED_BY(mu_);
  std::map<int, uint64_t> by_wd_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_CGROUPS_OOM_WATCHER_H_
