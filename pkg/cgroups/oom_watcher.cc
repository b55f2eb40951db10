#include "pkg/cgroups/oom_watcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

constexpr uint64_t kWakeId = 0;
constexpr uint64_t kInotifyId = 1;

absl::Status AddToEpoll(int epoll, int fd, uint64_t id) {
  struct epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = id;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl add");
  }
  return absl::OkStatus();
}

bool DirExists(const std::string& dir) { return ::access(dir.c_str(), F_OK) == 0; }

}  // namespace

absl::StatusOr<std::unique_ptr<OomWatcher>> OomWatcher::Start(const Cgroups& cgroups,
                                                              OnOom on_oom) {
  std::unique_ptr<OomWatcher> watcher(new OomWatcher(cgroups, std::move(on_oom)));
  RETURN_IF_ERROR(watcher->Init());
  watcher->thread_ = std::thread([raw = watcher.get()] { raw->Run(); });
  return watcher;
}

absl::Status OomWatcher::Init() {
  epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return absl::ErrnoToStatus(errno, "epoll_create1");
  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  RETURN_IF_ERROR(AddToEpoll(epoll_.get(), wake_.get(), kWakeId));
  if (v2_) {
    inotify_ = UniqueFd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!inotify_.valid()) return absl::ErrnoToStatus(errno, "inotify_init1");
    RETURN_IF_ERROR(AddToEpoll(epoll_.get(), inotify_.get(), kInotifyId));
  }
  return absl::OkStatus();
}

OomWatcher::~OomWatcher() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
    thread_.join();
  }
}

absl::Status OomWatcher::Register(Entry& entry, uint64_t id) {
  if (v2_) {
    std::string events = entry.dir + "/memory.events";
    // The counter first: only kills after this call are reported.
    ASSIGN_OR_RETURN(entry.kills, cgroups_.OomKillCount(entry.path));
    entry.wd = ::inotify_add_watch(inotify_.get(), events.c_str(), IN_MODIFY);
    if (entry.wd < 0) return absl::ErrnoToStatus(errno, "inotify_add_watch " + events);
    return absl::OkStatus();
  }
  // The kernel keeps the eventfd, not the control file: that is closed
  // once registered.
  std::string control_path = entry.dir + "/memory.oom_control";
  UniqueFd control(::open(control_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!control.valid()) return absl::ErrnoToStatus(errno, "open " + control_path);
  entry.eventfd = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!entry.eventfd.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  // "<eventfd> <fd of memory.oom_control>" registers the OOM notification.
  std::string line = absl::StrCat(entry.eventfd.get(), " ", control.get());
  std::string event_control = entry.dir + "/cgroup.event_control";
  UniqueFd fd(::open(event_control.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + event_control);
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return absl::ErrnoToStatus(errno, "write " + event_control);
  }
  return AddToEpoll(epoll_.get(), entry.eventfd.get(), id);
}

absl::Status OomWatcher::Watch(const std::string& key, const std::string& path) {
  std::string dir = cgroups_.MemoryDir(path);
  if (dir.empty()) return absl::FailedPreconditionError("no memory cgroup controller is mounted");
  if (!DirExists(dir)) return absl::NotFoundError("no memory cgroup " + dir);
  Entry entry;
  entry.key = key;
  entry.path = path;
  entry.dir = dir;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
  }
  // The files are opened and read with no lock held.
  absl::Status registered = Register(entry, id);
  if (!registered.ok()) {
    if (entry.wd >= 0) ::inotify_rm_watch(inotify_.get(), entry.wd);
    return registered;
  }
  absl::MutexLock lock(&mu_);
  if (entry.wd >= 0) {
    // The same file watched again gets the same wd: the newer entry keeps
    // it, and the older one goes without removing it.
    if (auto other = by_wd_.find(entry.wd); other != by_wd_.end()) {
      uint64_t other_id = other->second;
      entries_[other_id].wd = -1;
      by_wd_.erase(other);
      Drop(other_id);
    }
    by_wd_[entry.wd] = id;
  }
  if (auto old = by_key_.find(key); old != by_key_.end()) Drop(old->second);
  by_key_[key] = id;
  entries_.emplace(id, std::move(entry));
  return absl::OkStatus();
}

void OomWatcher::Drop(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  if (entry.eventfd.valid()) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, entry.eventfd.get(), nullptr);
  }
  if (entry.wd >= 0) {
    ::inotify_rm_watch(inotify_.get(), entry.wd);  // EINVAL once the kernel dropped it
    by_wd_.erase(entry.wd);
  }
  auto key = by_key_.find(entry.key);
  if (key != by_key_.end() && key->second == id) by_key_.erase(key);
  entries_.erase(it);  // closing the eventfd ends the v1 registration
}

void OomWatcher::Unwatch(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) Drop(it->second);
}

size_t OomWatcher::watching() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

std::vector<std::string> OomWatcher::OnEventFd(uint64_t id) {
  std::string key, dir;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return {};
    uint64_t count = 0;
    if (::read(it->second.eventfd.get(), &count, sizeof(count)) != sizeof(count)) return {};
    key = it->second.key;
    dir = it->second.dir;
  }
  // The kernel signals once more when the cgroup is removed: not an OOM.
  if (!DirExists(dir)) {
    absl::MutexLock lock(&mu_);
    Drop(id);
    return {};
  }
  return {key};
}

std::vector<std::string> OomWatcher::OnInotify() {
  alignas(struct inotify_event) char buffer[4096];
  std::vector<std::string> keys;
  while (true) {
    ssize_t n = ::read(inotify_.get(), buffer, sizeof(buffer));
    if (n <= 0) return keys;  // EAGAIN: drained
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const struct inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
      uint64_t id = 0;
      std::string path, key;
      {
        absl::MutexLock lock(&mu_);
        auto wd = by_wd_.find(event->wd);
        if (wd == by_wd_.end()) continue;
        id = wd->second;
        Entry& entry = entries_[id];
        if (event->mask & IN_IGNORED) {  // the cgroup is gone
          entry.wd = -1;
          by_wd_.erase(wd);
          Drop(id);
          continue;
        }
        path = entry.path;
        key = entry.key;
      }
      absl::StatusOr<uint64_t> kills = cgroups_.OomKillCount(path);
      if (!kills.ok()) continue;
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(id);
      if (it == entries_.end() || *kills <= it->second.kills) continue;
      it->second.kills = *kills;
      keys.push_back(key);
    }
  }
}

void OomWatcher::Run() {
  struct epoll_event events[16];
  while (true) {
    int n = ::epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kWakeId) return;
      std::vector<std::string> keys = id == kInotifyId ? OnInotify() : OnEventFd(id);
      for (const std::string& key : keys) on_oom_(key);
    }
  }
}

}  // namespace ocid
