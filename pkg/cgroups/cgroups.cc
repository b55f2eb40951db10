#include "pkg/cgroups/cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "pkg/base/fs.h"
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

// A file holding one number ("max" is unlimited: nullopt).
absl::StatusOr<std::optional<uint64_t>> ReadNumber(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxFile));
  absl::string_view value = absl::StripAsciiWhitespace(text);
  if (value == "max") return std::optional<uint64_t>();
  uint64_t n = 0;
  if (!absl::SimpleAtoi(value, &n)) {
    return absl::DataLossError(absl::StrCat(path, ": \"", value, "\" is not a number"));
  }
  return std::optional<uint64_t>(n);
}

absl::StatusOr<uint64_t> ReadCounter(const std::string& path) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> n, ReadNumber(path));
  return n.value_or(0);
}

// "key value" lines (memory.stat, cpu.stat).
absl::StatusOr<std::map<std::string, uint64_t>> ReadKeyed(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxFile));
  std::map<std::string, uint64_t> values;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
    uint64_t n = 0;
    if (absl::SimpleAtoi(kv.second, &n)) values[std::string(kv.first)] = n;
  }
  return values;
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

std::vector<std::string> Cgroups::Dirs(const std::string& path) const {
  std::vector<std::string> dirs;
  for (const std::string& hierarchy : hierarchies_) dirs.push_back(hierarchy + path);
  return dirs;
}

absl::Status Cgroups::Remove(const std::string& path, absl::Duration patience) const {
  absl::Time deadline = absl::Now() + patience;
  absl::Status first;
  for (const std::string& dir : Dirs(path)) {
    while (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      if (errno == EBUSY && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(10));
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

absl::StatusOr<CgroupStats> Cgroups::Read(const std::string& path) const {
  if (layout_ == CgroupLayout::kV2) return ReadV2(root_ + path);
  return ReadV1(path);
}

absl::StatusOr<CgroupStats> Cgroups::ReadV1(const std::string& path) const {
  std::string memory = memory_ + path;
  CgroupStats stats;
  // A missing cgroup shows as NotFound on its first file.
  ASSIGN_OR_RETURN(stats.memory_usage_bytes, ReadCounter(memory + "/memory.usage_in_bytes"));
  if (!cpuacct_.empty()) {
    ASSIGN_OR_RETURN(stats.cpu_usage_ns, ReadCounter(cpuacct_ + path + "/cpuacct.usage"));
  }
  ASSIGN_OR_RETURN(auto stat, ReadKeyed(memory + "/memory.stat"));
  stats.memory_working_set_bytes =
      WorkingSet(stats.memory_usage_bytes, Get(stat, "total_inactive_file"));
  stats.memory_rss_bytes = Get(stat, "total_rss");
  stats.page_faults = Get(stat, "total_pgfault");
  stats.major_page_faults = Get(stat, "total_pgmajfault");
  ASSIGN_OR_RETURN(std::optional<uint64_t> limit, ReadNumber(memory + "/memory.limit_in_bytes"));
  if (limit.has_value() && *limit < kV1Unlimited) stats.memory_limit_bytes = limit;
  if (!pids_.empty()) {
    absl::StatusOr<uint64_t> pids = ReadCounter(pids_ + path + "/pids.current");
    if (pids.ok()) stats.pids = *pids;
  }
  return stats;
}

absl::StatusOr<CgroupStats> Cgroups::ReadV2(const std::string& dir) const {
  if (!Exists(dir)) return absl::NotFoundError("no cgroup " + dir);
  CgroupStats stats;
  // Controllers not enabled for this cgroup have no files: zero, not an error.
  if (Exists(dir + "/cpu.stat")) {
    ASSIGN_OR_RETURN(auto cpu, ReadKeyed(dir + "/cpu.stat"));
    stats.cpu_usage_ns = Get(cpu, "usage_usec") * 1000;
  }
  if (Exists(dir + "/memory.current")) {
    ASSIGN_OR_RETURN(stats.memory_usage_bytes, ReadCounter(dir + "/memory.current"));
    ASSIGN_OR_RETURN(auto stat, ReadKeyed(dir + "/memory.stat"));
    stats.memory_working_set_bytes =
        WorkingSet(stats.memory_usage_bytes, Get(stat, "inactive_file"));
    stats.memory_rss_bytes = Get(stat, "anon");
    stats.page_faults = Get(stat, "pgfault");
    stats.major_page_faults = Get(stat, "pgmajfault");
    ASSIGN_OR_RETURN(stats.memory_limit_bytes, ReadNumber(dir + "/memory.max"));
  }
  if (Exists(dir + "/pids.current")) {
    ASSIGN_OR_RETURN(stats.pids, ReadCounter(dir + "/pids.current"));
  }
  return stats;
}

}  // namespace ocid
