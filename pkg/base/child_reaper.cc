#include "pkg/base/child_reaper.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "pkg/base/fs.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

// A scan without a SIGCHLD, in case one went to a thread that does not
// block it (none of ours; a library's could) and was dropped.
constexpr int kSafetyNetMs = 10 * 1000;

struct Registry {
  absl::Mutex mu;
  // A count: a pid an owner has reaped but not released yet may come back
  // as another child of ours.
  absl::flat_hash_map<pid_t, int> owned ABSL_GUARDED_BY(mu);
  int pauses ABSL_GUARDED_BY(mu) = 0;  // ScopedReapPause objects alive
};

Registry& TheRegistry() {
  static Registry* registry = new Registry;
  return *registry;
}

}  // namespace

std::vector<pid_t> ChildPids(const std::string& proc, pid_t pid) {
  const std::string tasks_dir =
      pid == 0 ? proc + "/self/task" : absl::StrCat(proc, "/", pid, "/task");
  std::vector<pid_t> children;
  absl::StatusOr<std::vector<std::string>> tasks = ListDir(tasks_dir);
  if (!tasks.ok()) return children;
  for (const std::string& task : *tasks) {
    absl::StatusOr<std::string> text =
        ReadFileToString(absl::StrCat(tasks_dir, "/", task, "/children"), 1 << 20);
    if (!text.ok()) continue;
    for (absl::string_view word : absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
      int child = 0;
      if (absl::SimpleAtoi(word, &child) && child > 0) children.push_back(child);
    }
  }
  return children;
}

bool IsZombie(pid_t pid, const std::string& proc) {
  absl::StatusOr<std::string> stat =
      ReadFileToString(absl::StrCat(proc, "/", pid, "/stat"), 4096);
  if (!stat.ok()) return false;
  // The name, in parentheses, may hold anything: the state follows its last ')'.
  size_t close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z';
}

pid_t SpawnOwnedChild(absl::FunctionRef<pid_t()> spawn) {
  Registry& registry = TheRegistry();
  absl::MutexLock lock(&registry.mu);
  pid_t pid = spawn();
  if (pid > 0) ++registry.owned[pid];
  return pid;
}

void ReleaseOwnedChild(pid_t pid) {
  Registry& registry = TheRegistry();
  absl::MutexLock lock(&registry.mu);
  auto it = registry.owned.find(pid);
  if (it != registry.owned.end() && --it->second <= 0) registry.owned.erase(it);
}

int ReapOrphans() {
  Registry& registry = TheRegistry();
  // Held throughout: a child spawned meanwhile is registered before the
  // scan can see it.
  absl::MutexLock lock(&registry.mu);
  if (registry.pauses > 0) return 0;
  int reaped = 0;
  for (pid_t pid : ChildPids()) {
    if (registry.owned.contains(pid) || !IsZombie(pid)) continue;
    // A zombie child no owner waits for: only we can reap it, so the pid
    // cannot have been reused since the scan.
    if (::waitpid(pid, nullptr, WNOHANG) == pid) ++reaped;
  }
  return reaped;
}

ScopedReapPause::ScopedReapPause() {
  Registry& registry = TheRegistry();
  absl::MutexLock lock(&registry.mu);
  ++registry.pauses;
}

ScopedReapPause::~ScopedReapPause() {
  Registry& registry = TheRegistry();
  bool last = false;
  {
    absl::MutexLock lock(&registry.mu);
    last = --registry.pauses == 0;
  }
  // The SIGCHLDs of what the pause left (gpg, reparented to us) are spent.
  if (last) ReapOrphans();
}

struct OrphanReaper::Impl {
  UniqueFd children;  // signalfd of SIGCHLD
  UniqueFd stop;      // eventfd
  std::thread thread;
};

OrphanReaper::OrphanReaper(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<OrphanReaper>> OrphanReaper::Start() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return absl::ErrnoToStatus(errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  }
  // Woken by SIGCHLD, not polled: an idle ocid does not scan. The signal
  // is blocked here, before the threads that inherit the mask exist, so it
  // waits for the signalfd alone (no handler interrupts anyone's calls);
  // children get a clean mask from Subprocess.
  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &child_signal, nullptr);
  auto impl = std::make_unique<Impl>();
  impl->children = UniqueFd(::signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!impl->children.valid()) return absl::ErrnoToStatus(errno, "signalfd(SIGCHLD)");
  impl->stop = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->stop.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    ::pthread_setname_np(::pthread_self(), "ocid-reaper");
    for (;;) {
      ReapOrphans();
      struct pollfd items[2] = {{raw->children.get(), POLLIN, 0}, {raw->stop.get(), POLLIN, 0}};
      if (::poll(items, 2, kSafetyNetMs) < 0 && errno != EINTR) return;
      if (items[1].revents != 0) return;
      // One scan reaps all that exited: the queued signals are just spent.
      signalfd_siginfo info;
      while (::read(raw->children.get(), &info, sizeof(info)) == sizeof(info)) {
      }
    }
  });
  return std::unique_ptr<OrphanReaper>(new OrphanReaper(std::move(impl)));
}

OrphanReaper::~OrphanReaper() {
  uint64_t one = 1;
  (void)!::write(impl_->stop.get(), &one, sizeof(one));
  impl_->thread.join();
  ReapOrphans();
}

}  // namespace ocid
