#include "pkg/cgroups/cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "pkg/base/fs.h"
#include "pkg/base/pidfd.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

constexpr size_t kMaxFile = 1 << 20;

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

bool IsRealDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A file of a cgroup, opened relative to `dir` (AT_FDCWD: `name` is a
// whole path); `where` names the dir in errors. One read is enough for a
// cgroup file that fits the buffer (each is one seq_file record); a
// larger one is read on. NotFound when the file is not there.
std::string Label(const std::string& where, const char* name) {
  return where.empty() ? std::string(name) : absl::StrCat(where, "/", name);
}

absl::StatusOr<std::string> ReadAt(int dir, const std::string& where, const char* name) {
  UniqueFd fd(::openat(dir, name, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + Label(where, name));
  std::string text;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read " + Label(where, name));
    text.append(buffer, static_cast<size_t>(n));
    if (static_cast<size_t>(n) < sizeof(buffer) || text.size() > kMaxFile) break;
  }
  return text;
}

// A file holding one number ("max" is unlimited: nullopt).
absl::StatusOr<std::optional<uint64_t>> ReadNumberAt(int dir, const std::string& where,
                                                     const char* name) {
  ASSIGN_OR_RETURN(std::string text, ReadAt(dir, where, name));
  absl::string_view value = absl::StripAsciiWhitespace(text);
  if (value == "max") return std::optional<uint64_t>();
  uint64_t n = 0;
  if (!absl::SimpleAtoi(value, &n)) {
    return absl::DataLossError(
        absl::StrCat(Label(where, name), ": \"", value, "\" is not a number"));
  }
  return std::optional<uint64_t>(n);
}

absl::StatusOr<uint64_t> ReadCounterAt(int dir, const std::string& where, const char* name) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> n, ReadNumberAt(dir, where, name));
  return n.value_or(0);
}

// "key value" lines (memory.stat, cpu.stat).
absl::StatusOr<std::map<std::string, uint64_t>> ReadKeyedAt(int dir, const std::string& where,
                                                            const char* name) {
  ASSIGN_OR_RETURN(std::string text, ReadAt(dir, where, name));
  std::map<std::string, uint64_t> values;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    uint64_t n = 0;
    if (absl::SimpleAtoi(kv.second, &n)) values[std::string(kv.first)] = n;
  }
  return values;
}

absl::StatusOr<std::map<std::string, uint64_t>> ReadKeyed(const std::string& path) {
  return ReadKeyedAt(AT_FDCWD, "", path.c_str());
}

// The cgroup dir `dir`, opened for reading its files relative to it;
// invalid when absent.
UniqueFd OpenDir(const std::string& dir) {
  return UniqueFd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
}

uint64_t Get(const std::map<std::string, uint64_t>& values, const std::string& key) {
  auto it = values.find(key);
  return it == values.end() ? 0 : it->second;
}

uint64_t WorkingSet(uint64_t usage, uint64_t inactive_file) {
  return usage > inactive_file ? usage - inactive_file : 0;
}

// v1 reports "no limit" as a huge page-rounded number.
constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;

}  // namespace

const char* LayoutName(CgroupLayout layout) {
  switch (layout) {
    case CgroupLayout::kV1:
      return "v1";
    case CgroupLayout::kV2:
      return "v2";
    case CgroupLayout::kHybrid:
      return "hybrid";
  }
  return "unknown";
}

absl::StatusOr<Cgroups> Cgroups::Open(const std::string& root) {
  if (Exists(root + "/cgroup.controllers")) {
    return Cgroups(root, CgroupLayout::kV2, {root});
  }
  absl::StatusOr<std::vector<std::string>> names = ListDir(root);
  if (!names.ok()) return names.status();
  std::sort(names->begin(), names->end());
  std::vector<std::string> hierarchies;
  for (const std::string& name : *names) {
    std::string dir = absl::StrCat(root, "/", name);
    if (IsRealDir(dir)) hierarchies.push_back(dir);
  }
  bool has_v1 =
      IsRealDir(root + "/memory") || Exists(root + "/cpuacct") || Exists(root + "/cpu,cpuacct");
  if (!has_v1) {
    return absl::FailedPreconditionError(
        absl::StrCat(root, " holds neither cgroup v2 nor v1 controllers"));
  }
  bool unified = Exists(root + "/unified/cgroup.controllers");
  Cgroups cgroups(root, unified ? CgroupLayout::kHybrid : CgroupLayout::kV1,
                  std::move(hierarchies));
  cgroups.memory_ = cgroups.V1Controller("memory");
  cgroups.cpuacct_ = cgroups.V1Controller("cpuacct");
  cgroups.pids_ = cgroups.V1Controller("pids");
  cgroups.freezer_ = cgroups.V1Controller("freezer");
  return cgroups;
}

std::string Cgroups::V1Controller(const std::string& controller) const {
  std::string own = absl::StrCat(root_, "/", controller);
  if (Exists(own)) return own;  // its own mount, or a symlink to a joint one
  for (const std::string& dir : hierarchies_) {
    std::string name = dir.substr(dir.rfind('/') + 1);
    for (absl::string_view part : absl::StrSplit(name, ',')) {
      if (part == controller) return dir;
    }
  }
  return "";
}

bool Cgroups::SwapAccounting() const {
  if (layout_ == CgroupLayout::kV2) {
    absl::StatusOr<std::string> controllers =
        ReadFileToString(root_ + "/cgroup.controllers", kMaxFile);
    if (!controllers.ok()) return false;
    for (absl::string_view name : absl::StrSplit(*controllers, absl::ByAnyChar(" \n"))) {
      if (name == "memory") return true;
    }
    return false;
  }
  return !memory_.empty() && Exists(memory_ + "/memory.memsw.limit_in_bytes");
}

std::vector<std::string> Cgroups::Dirs(const std::string& path) const {
  std::vector<std::string> dirs;
  for (const std::string& hierarchy : hierarchies_) dirs.push_back(hierarchy + path);
  return dirs;
}

absl::Status Cgroups::Remove(const std::string& path, absl::Duration patience) const {
  absl::Time deadline = absl::Now() + patience;
  absl::Status first;
  // A process on its way out (a conmon that has just written its exit
  // file) leaves within a millisecond or two: retry soon, then less often.
  absl::Duration retry = absl::Microseconds(500);
  for (const std::string& dir : Dirs(path)) {
    while (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      if (errno == EBUSY && absl::Now() < deadline) {
        absl::SleepFor(retry);
        retry = std::min(retry * 2, absl::Milliseconds(10));
        continue;
      }
      if (first.ok()) first = absl::ErrnoToStatus(errno, "remove cgroup " + dir);
      break;
    }
  }
  return first;
}

namespace {

// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and no
// process can join it: each level below `hierarchy` down to `path` gets
// its parent's where it has none (as runc does for its own).
absl::Status InheritCpuset(const std::string& hierarchy, const std::string& path) {
  std::string dir = hierarchy;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    std::string parent = dir;
    dir = absl::StrCat(dir, "/", part);
    for (const char* file : {"/cpuset.cpus", "/cpuset.mems"}) {
      absl::StatusOr<std::string> own = ReadFileToString(dir + file, kMaxFile);
      if (!own.ok()) return own.status();
      if (!absl::StripAsciiWhitespace(*own).empty()) continue;
      ASSIGN_OR_RETURN(std::string inherited, ReadFileToString(parent + file, kMaxFile));
      std::string target = dir + file;
      UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + target);
      if (::write(fd.get(), inherited.data(), inherited.size()) < 0) {
        return absl::ErrnoToStatus(errno, "write " + target);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Cgroups::Join(const std::string& path, pid_t pid) const {
  std::string text = absl::StrCat(pid);
  for (const std::string& dir : Dirs(path)) {
    RETURN_IF_ERROR(MakeDirs(dir, 0755));
    std::string hierarchy = dir.substr(0, dir.size() - path.size());
    if (layout_ != CgroupLayout::kV2 && Exists(hierarchy + "/cpuset.cpus")) {
      RETURN_IF_ERROR(InheritCpuset(hierarchy, path));
    }
    std::string procs = dir + "/cgroup.procs";
    UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + procs);
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      return absl::ErrnoToStatus(errno, absl::StrCat("move pid ", pid, " into ", dir));
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status WriteValue(const std::string& path, absl::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return absl::ErrnoToStatus(errno, absl::StrCat("write \"", value, "\" to ", path));
  }
  return absl::OkStatus();
}

// Appends the pids in cgroup dir `dir` and every cgroup below it. A dir
// removed meanwhile has none.
absl::Status ListProcs(const std::string& dir, std::vector<pid_t>& pids) {
  absl::StatusOr<std::string> text = ReadFileToString(dir + "/cgroup.procs", kMaxFile);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipWhitespace())) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) pids.push_back(pid);
  }
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (absl::IsNotFound(names.status())) return absl::OkStatus();
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    std::string child = absl::StrCat(dir, "/", name);
    if (IsRealDir(child)) RETURN_IF_ERROR(ListProcs(child, pids));
  }
  return absl::OkStatus();
}

// A process that has not exited yet: a zombie (killed, waiting for its
// parent to reap it) no longer runs anything.
bool Alive(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadFileToString(absl::StrCat("/proc/", pid, "/stat"), 4096);
  if (!stat.ok()) return false;
  size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return false;
  char state = (*stat)[paren + 2];
  return state != 'Z' && state != 'X';
}

// How long Kill waits on one process before it lists the cgroup again (a
// pid reused meanwhile by a process outside it is waited on no longer).
constexpr absl::Duration kRelistInterval = absl::Milliseconds(100);

// Waits up to `timeout` for `pid` to exit (its pidfd becomes readable when
// it does, a zombie included), instead of sleeping a fixed interval: a
// SIGKILLed process is gone within a millisecond or so.
void AwaitExit(pid_t pid, absl::Duration timeout) {
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd.valid()) {
    if (errno != ESRCH) absl::SleepFor(absl::Milliseconds(10));  // no pidfds (ENOSYS): poll
    return;
  }
  int timeout_ms = static_cast<int>(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1)))));
  struct pollfd item = {pidfd.get(), POLLIN, 0};
  ::poll(&item, 1, timeout_ms);  // EINTR: the caller lists again
}

}  // namespace

std::string Cgroups::ProcsDir(const std::string& path) const {
  if (layout_ == CgroupLayout::kV2) return root_ + path;
  for (const std::string* controller : {&freezer_, &memory_, &pids_}) {
    if (!controller->empty() && IsRealDir(*controller + path)) return *controller + path;
  }
  return "";
}

absl::Status Cgroups::Kill(const std::string& path, absl::Duration patience) const {
  std::string dir = ProcsDir(path);
  if (dir.empty() || !Exists(dir)) return absl::OkStatus();
  if (layout_ == CgroupLayout::kV2 && Exists(dir + "/cgroup.kill")) {
    absl::Status killed = WriteValue(dir + "/cgroup.kill", "1");
    if (!killed.ok() && Exists(dir)) return killed;
  } else {
    // An empty cgroup (what Stop and Remove find after the exit, in the
    // usual case) has nothing to freeze: each freeze and thaw costs a
    // write that waits on the kernel. Nothing can join it meanwhile but a
    // fork of a member, and there is none.
    std::vector<pid_t> members;
    RETURN_IF_ERROR(ListProcs(dir, members));
    if (members.empty()) return absl::OkStatus();
    // Frozen only where the listed dir is the freezer's own.
    std::string freezer = !freezer_.empty() && dir == freezer_ + path ? dir : "";
    std::set<pid_t> killed;
    bool fresh = true;
    for (int pass = 0; fresh && pass < 100; ++pass) {
      bool frozen = !freezer.empty() && WriteValue(freezer + "/freezer.state", "FROZEN").ok();
      std::vector<pid_t> pids;
      absl::Status listed = ListProcs(dir, pids);
      fresh = false;
      for (pid_t pid : pids) {
        if (!killed.insert(pid).second) continue;
        fresh = true;
        ::kill(pid, SIGKILL);  // ESRCH: gone meanwhile; a frozen one dies when thawed
      }
      if (frozen) {
        RETURN_IF_ERROR(WriteValue(freezer + "/freezer.state", "THAWED"));
      }
      RETURN_IF_ERROR(listed);
    }
  }
  absl::Time deadline = absl::Now() + patience;
  while (true) {
    std::vector<pid_t> pids;
    RETURN_IF_ERROR(ListProcs(dir, pids));
    auto alive = std::find_if(pids.begin(), pids.end(), Alive);
    if (alive == pids.end()) return absl::OkStatus();
    absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", *alive, " is still in cgroup ", dir, " after SIGKILL"));
    }
    AwaitExit(*alive, std::min(deadline - now, kRelistInterval));
  }
}

absl::StatusOr<bool> Cgroups::OomKilled(const std::string& path) const {
  if (layout_ == CgroupLayout::kV2) {
    std::string dir = root_ + path;
    if (!Exists(dir)) return absl::NotFoundError("no cgroup " + dir);
    if (!Exists(dir + "/memory.events")) return false;  // no memory controller here
    ASSIGN_OR_RETURN(auto events, ReadKeyed(dir + "/memory.events"));
    return Get(events, "oom_kill") > 0;
  }
  if (memory_.empty()) return false;
  ASSIGN_OR_RETURN(auto control, ReadKeyed(memory_ + path + "/memory.oom_control"));
  return Get(control, "oom_kill") > 0 || Get(control, "under_oom") > 0;
}

absl::StatusOr<uint64_t> Cgroups::OomKillCount(const std::string& path) const {
  std::string dir = MemoryDir(path);
  if (dir.empty()) return absl::NotFoundError("no memory controller is mounted");
  const char* file = layout_ == CgroupLayout::kV2 ? "/memory.events" : "/memory.oom_control";
  ASSIGN_OR_RETURN(auto values, ReadKeyed(dir + file));
  return Get(values, "oom_kill");
}

std::string Cgroups::MemoryDir(const std::string& path) const {
  if (layout_ == CgroupLayout::kV2) return root_ + path;
  return memory_.empty() ? "" : memory_ + path;
}

namespace {

// One file write of SetLimits.
struct LimitWrite {
  std::string dir, file, value;
};

// runc's mapping of cpu.shares [2, 262144] onto cpu.weight [1, 10000].
uint64_t SharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::string Limit(int64_t value, const char* none) {
  return value < 0 ? std::string(none) : absl::StrCat(value);
}

// A write the kernel refused is the caller's value at fault.
absl::Status Refused(const std::string& path, const std::string& value, int error) {
  std::string message =
      absl::StrCat(path, ": the kernel refused \"", value, "\": ", std::strerror(error));
  if (error == EINVAL || error == EBUSY || error == ERANGE || error == EPERM) {
    return absl::InvalidArgumentError(message);
  }
  return absl::ErrnoToStatus(error, message);
}

absl::Status WriteLimit(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return Refused(path, value, errno);
  }
  return absl::OkStatus();
}

// v2: the controllers a file of `dir` needs, enabled in each ancestor's
// cgroup.subtree_control from the root down (as runc does for its own).
absl::Status EnableV2Controllers(const std::string& root, const std::string& path) {
  std::string dir = root;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    RETURN_IF_ERROR(WriteLimit(dir + "/cgroup.subtree_control", "+cpu +memory"));
    dir = absl::StrCat(dir, "/", part);
    RETURN_IF_ERROR(MakeDirs(dir, 0755));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Cgroups::SetLimits(const std::string& path, const CgroupLimits& limits) const {
  std::vector<LimitWrite> writes;
  if (layout_ == CgroupLayout::kV2) {
    std::string dir = root_ + path;
    if (limits.cpu_shares)
      writes.push_back({dir, "cpu.weight", absl::StrCat(SharesToWeight(*limits.cpu_shares))});
    if (limits.cpu_quota || limits.cpu_period) {
      // One file holds both: a part not given keeps its current value.
      std::string quota = limits.cpu_quota ? Limit(*limits.cpu_quota, "max") : "";
      std::string period = limits.cpu_period ? absl::StrCat(*limits.cpu_period) : "";
      absl::StatusOr<std::string> now = ReadFileToString(dir + "/cpu.max", kMaxFile);
      if (now.ok() && (quota.empty() || period.empty())) {
        std::vector<std::string> parts =
            absl::StrSplit(absl::StripAsciiWhitespace(*now), ' ', absl::SkipEmpty());
        if (quota.empty() && !parts.empty()) quota = parts[0];
        if (period.empty() && parts.size() > 1) period = parts[1];
      }
      if (quota.empty()) quota = "max";
      writes.push_back({dir, "cpu.max", period.empty() ? quota : quota + " " + period});
    }
    if (limits.memory_limit)
      writes.push_back({dir, "memory.max", Limit(*limits.memory_limit, "max")});
    for (const LimitWrite& w : writes) {
      if (!Exists(w.dir + "/" + w.file)) RETURN_IF_ERROR(EnableV2Controllers(root_, path));
    }
  } else {
    std::string cpu = V1Controller("cpu");
    if (!cpu.empty()) cpu += path;
    if ((limits.cpu_shares || limits.cpu_quota || limits.cpu_period) && cpu.empty()) {
      return absl::FailedPreconditionError("the v1 cpu controller is not mounted");
    }
    if (limits.cpu_shares) writes.push_back({cpu, "cpu.shares", absl::StrCat(*limits.cpu_shares)});
    // The period first: the kernel checks each quota against it.
    if (limits.cpu_period) {
      writes.push_back({cpu, "cpu.cfs_period_us", absl::StrCat(*limits.cpu_period)});
    }
    if (limits.cpu_quota)
      writes.push_back({cpu, "cpu.cfs_quota_us", Limit(*limits.cpu_quota, "-1")});
    if (limits.memory_limit) {
      if (memory_.empty())
        return absl::FailedPreconditionError("the v1 memory controller is not mounted");
      writes.push_back(
          {memory_ + path, "memory.limit_in_bytes", Limit(*limits.memory_limit, "-1")});
    }
  }
  // Old values first, so that a refused write can put them back.
  std::vector<std::string> old;
  for (const LimitWrite& w : writes) {
    RETURN_IF_ERROR(MakeDirs(w.dir, 0755));
    std::string file = w.dir + "/" + w.file;
    ASSIGN_OR_RETURN(std::string value, ReadFileToString(file, kMaxFile));
    old.emplace_back(absl::StripAsciiWhitespace(value));
  }
  for (size_t i = 0; i < writes.size(); ++i) {
    absl::Status written = WriteLimit(writes[i].dir + "/" + writes[i].file, writes[i].value);
    if (written.ok()) continue;
    for (size_t j = i; j-- > 0;) {
      // Best effort: the old values were accepted before.
      WriteLimit(writes[j].dir + "/" + writes[j].file, old[j]).IgnoreError();
    }
    return written;
  }
  return absl::OkStatus();
}

absl::StatusOr<CgroupHandle> Cgroups::OpenCgroup(const std::string& path) const {
  CgroupHandle handle;
  handle.path = path;
  if (layout_ == CgroupLayout::kV2) {
    handle.memory_dir = root_ + path;
    handle.memory = OpenDir(handle.memory_dir);
    if (!handle.memory.valid())
      return absl::ErrnoToStatus(errno, "open cgroup " + handle.memory_dir);
    return handle;
  }
  // A missing cgroup shows as NotFound on its memory dir.
  handle.memory_dir = memory_ + path;
  handle.memory = OpenDir(handle.memory_dir);
  if (!handle.memory.valid()) return absl::ErrnoToStatus(errno, "open cgroup " + handle.memory_dir);
  if (!cpuacct_.empty()) {
    handle.cpuacct_dir = cpuacct_ + path;
    handle.cpuacct = OpenDir(handle.cpuacct_dir);
    if (!handle.cpuacct.valid()) {
      return absl::ErrnoToStatus(errno, "open cgroup " + handle.cpuacct_dir);
    }
  }
  if (!pids_.empty()) {
    handle.pids_dir = pids_ + path;
    handle.pids = OpenDir(handle.pids_dir);  // optional, as pids.current is
  }
  return handle;
}

absl::StatusOr<CgroupStats> Cgroups::Read(const std::string& path) const {
  ASSIGN_OR_RETURN(CgroupHandle handle, OpenCgroup(path));
  return Read(handle, /*with_pids=*/true);
}

absl::StatusOr<CgroupStats> Cgroups::Read(const CgroupHandle& handle, bool with_pids) const {
  if (layout_ == CgroupLayout::kV2) return ReadV2(handle, with_pids);
  return ReadV1(handle, with_pids);
}

absl::StatusOr<CgroupStats> Cgroups::ReadV1(const CgroupHandle& h, bool with_pids) const {
  const int memory = h.memory.get();
  CgroupStats stats;
  // A cgroup removed since it was opened shows as NotFound on its first file.
  ASSIGN_OR_RETURN(stats.memory_usage_bytes,
                   ReadCounterAt(memory, h.memory_dir, "memory.usage_in_bytes"));
  if (h.cpuacct.valid()) {
    ASSIGN_OR_RETURN(stats.cpu_usage_ns,
                     ReadCounterAt(h.cpuacct.get(), h.cpuacct_dir, "cpuacct.usage"));
  }
  ASSIGN_OR_RETURN(auto stat, ReadKeyedAt(memory, h.memory_dir, "memory.stat"));
  stats.memory_working_set_bytes =
      WorkingSet(stats.memory_usage_bytes, Get(stat, "total_inactive_file"));
  stats.memory_rss_bytes = Get(stat, "total_rss");
  stats.page_faults = Get(stat, "total_pgfault");
  stats.major_page_faults = Get(stat, "total_pgmajfault");
  ASSIGN_OR_RETURN(std::optional<uint64_t> limit,
                   ReadNumberAt(memory, h.memory_dir, "memory.limit_in_bytes"));
  if (limit.has_value() && *limit < kV1Unlimited) stats.memory_limit_bytes = limit;
  if (with_pids && h.pids.valid()) {
    absl::StatusOr<uint64_t> pids = ReadCounterAt(h.pids.get(), h.pids_dir, "pids.current");
    if (pids.ok()) stats.pids = *pids;
  }
  return stats;
}

absl::StatusOr<CgroupStats> Cgroups::ReadV2(const CgroupHandle& h, bool with_pids) const {
  const int dir = h.memory.get();
  const std::string& where = h.memory_dir;
  CgroupStats stats;
  // Controllers not enabled for this cgroup have no files: zero, not an
  // error. No file at all: removed since it was opened, or none enabled.
  bool any = false;
  absl::StatusOr<std::map<std::string, uint64_t>> cpu = ReadKeyedAt(dir, where, "cpu.stat");
  if (cpu.ok()) {
    any = true;
    stats.cpu_usage_ns = Get(*cpu, "usage_usec") * 1000;
  } else if (!absl::IsNotFound(cpu.status())) {
    return cpu.status();
  }
  absl::StatusOr<uint64_t> current = ReadCounterAt(dir, where, "memory.current");
  if (current.ok()) {
    any = true;
    stats.memory_usage_bytes = *current;
    ASSIGN_OR_RETURN(auto stat, ReadKeyedAt(dir, where, "memory.stat"));
    stats.memory_working_set_bytes =
        WorkingSet(stats.memory_usage_bytes, Get(stat, "inactive_file"));
    stats.memory_rss_bytes = Get(stat, "anon");
    stats.page_faults = Get(stat, "pgfault");
    stats.major_page_faults = Get(stat, "pgmajfault");
    ASSIGN_OR_RETURN(stats.memory_limit_bytes, ReadNumberAt(dir, where, "memory.max"));
  } else if (!absl::IsNotFound(current.status())) {
    return current.status();
  }
  if (with_pids) {
    absl::StatusOr<uint64_t> pids = ReadCounterAt(dir, where, "pids.current");
    if (pids.ok()) {
      any = true;
      stats.pids = *pids;
    } else if (!absl::IsNotFound(pids.status())) {
      return pids.status();
    }
  }
  if (!any && !Exists(where)) return absl::NotFoundError("no cgroup " + where);
  return stats;
}

}  // namespace ocid
