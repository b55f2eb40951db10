#include "pkg/security/selinux.h"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <random>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"

namespace ocid {

namespace cri = ::runtime::v1;

std::string SelinuxContext::ToString() const {
  return absl::StrCat(user, ":", role, ":", type, ":", level);
}

absl::StatusOr<SelinuxContext> SelinuxContext::Parse(absl::string_view text) {
  std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits(':', 3));
  if (parts.size() != 4 || parts[0].empty() || parts[1].empty() || parts[2].empty() ||
      parts[3].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not an SELinux context user:role:type:level"));
  }
  return SelinuxContext{parts[0], parts[1], parts[2], parts[3]};
}

SelinuxDefaults ParseLxcContexts(absl::string_view text) {
  SelinuxDefaults defaults;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    absl::StatusOr<SelinuxContext> context = SelinuxContext::Parse(value);
    if (!context.ok()) continue;
    if (key == "process") defaults.process = *context;
    if (key == "file") defaults.file = *context;
  }
  return defaults;
}

namespace {

// A user, role or type: one word, no ':'.
absl::Status CheckName(const std::string& value, absl::string_view field, absl::string_view name) {
  for (char c : value) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".", name, ": \"", value, "\" is not an SELinux ", name));
    }
  }
  return absl::OkStatus();
}

// sensitivity[-sensitivity][:categories]: s0, s0:c1,c2, s0-s0:c0.c1023.
absl::Status CheckLevel(const std::string& level, absl::string_view field) {
  bool ok = !level.empty() && level[0] == 's';
  for (char c : level) {
    ok = ok && (absl::ascii_isalnum(c) || c == ':' || c == ',' || c == '.' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".level: \"", level, "\" is not an SELinux MLS/MCS level"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SelinuxLabels> ComputeSelinuxLabels(const SelinuxDefaults& defaults,
                                                   const cri::SELinuxOption& options,
                                                   const std::string& level, bool privileged,
                                                   absl::string_view field) {
  RETURN_IF_ERROR(CheckName(options.user(), field, "user"));
  RETURN_IF_ERROR(CheckName(options.role(), field, "role"));
  RETURN_IF_ERROR(CheckName(options.type(), field, "type"));
  SelinuxContext process = defaults.process;
  SelinuxContext file = defaults.file;
  if (!options.level().empty()) {
    RETURN_IF_ERROR(CheckLevel(options.level(), field));
    process.level = file.level = options.level();
  } else if (!level.empty()) {
    RETURN_IF_ERROR(CheckLevel(level, field));
    process.level = file.level = level;
  }
  if (!options.user().empty()) process.user = options.user();
  if (!options.role().empty()) process.role = options.role();
  if (!options.type().empty()) {
    process.type = options.type();
  } else if (privileged) {
    process.type = "spc_t";
  }
  // The files' user follows the process's, as the policy's own lxc
  // contexts pair them; their role stays object_r and type the file type.
  if (!options.user().empty()) file.user = options.user();
  return SelinuxLabels{process.ToString(), file.ToString()};
}

std::string LevelOf(const std::string& label) {
  absl::StatusOr<SelinuxContext> context = SelinuxContext::Parse(label);
  return context.ok() ? context->level : "";
}

bool McsAllocator::ParsePair(const std::string& level, int categories, std::pair<int, int>* pair) {
  absl::string_view rest = level;
  if (!absl::ConsumePrefix(&rest, "s0:c")) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(rest, ",c");
  int x, y;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &x) || !absl::SimpleAtoi(parts[1], &y) ||
      x < 0 || x >= y || y >= categories) {
    return false;
  }
  if (level != absl::StrCat("s0:c", x, ",c", y)) return false;  // c01 is not c1
  *pair = {x, y};
  return true;
}

absl::StatusOr<std::string> McsAllocator::Allocate() {
  absl::MutexLock lock(&mu_);
  const int64_t pairs = int64_t{categories_} * (categories_ - 1) / 2;
  if (static_cast<int64_t>(held_.size()) >= pairs) {
    return absl::ResourceExhaustedError(
        absl::StrCat("every SELinux MCS level (", pairs, " category pairs) is held by a live pod"));
  }
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<int> category(0, categories_ - 1);
  // Random pairs while few are held; once most are, a walk from a random
  // pair finds the free one in bounded time.
  for (int tries = 0; tries < 64; ++tries) {
    int x = category(random), y = category(random);
    if (x == y) continue;
    std::pair<int, int> pair{std::min(x, y), std::max(x, y)};
    if (held_.count(pair) == 0) {
      held_[pair] = 1;
      return absl::StrCat("s0:c", pair.first, ",c", pair.second);
    }
  }
  for (int x = 0; x < categories_; ++x) {
    for (int y = x + 1; y < categories_; ++y) {
      if (held_.count({x, y}) == 0) {
        held_[{x, y}] = 1;
        return absl::StrCat("s0:c", x, ",c", y);
      }
    }
  }
  return absl::InternalError("no free MCS pair though fewer are held than exist");
}

void McsAllocator::Reserve(const std::string& level) {
  std::pair<int, int> pair;
  if (!ParsePair(level, categories_, &pair)) return;
  absl::MutexLock lock(&mu_);
  ++held_[pair];
}

void McsAllocator::Release(const std::string& level) {
  std::pair<int, int> pair;
  if (!ParsePair(level, categories_, &pair)) return;
  absl::MutexLock lock(&mu_);
  auto it = held_.find(pair);
  if (it != held_.end() && --it->second == 0) held_.erase(it);
}

int McsAllocator::held() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(held_.size());
}

absl::Status CheckRelabelAllowed(const std::string& path, absl::string_view field) {
  static const char* const kExact[] = {
      "/",
      "/bin",
      "/boot",
      "/dev",
      "/etc",
      "/home",
      "/lib",
      "/lib32",
      "/lib64",
      "/libx32",
      "/media",
      "/mnt",
      "/opt",
      "/proc",
      "/root",
      "/run",
      "/sbin",
      "/srv",
      "/sys",
      "/tmp",
      "/usr",
      "/var",
      "/var/lib",
      "/var/log",
      "/var/run",
      "/var/tmp",
      "/run/ocid",
      "/var/lib/ocid",
      "/var/lib/kubelet",
  };
  static const char* const kTrees[] = {"/proc/", "/sys/", "/dev/", "/boot/", "/usr/", "/etc/"};
  std::string clean = path;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  bool refused = false;
  for (const char* exact : kExact) refused = refused || clean == exact;
  for (const char* tree : kTrees) refused = refused || absl::StartsWith(clean, tree);
  if (refused) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ": relabelling \"", path,
                     "\" for SELinux is refused: it is one of the host's system paths"));
  }
  return absl::OkStatus();
}

absl::Status RelabelTree(SelinuxHost& host, const std::string& root, const std::string& label,
                         absl::string_view field) {
  RETURN_IF_ERROR(CheckRelabelAllowed(root, field));
  struct stat root_stat;
  if (lstat(root.c_str(), &root_stat) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(field, ": stat ", root));
  }
  RETURN_IF_ERROR(host.SetFileLabel(root, label));
  if (!S_ISDIR(root_stat.st_mode)) return absl::OkStatus();
  std::error_code error;
  namespace fs = std::filesystem;
  // Symlinks are not followed (the default), so the walk stays below root.
  fs::recursive_directory_iterator it(root, error), end;
  for (; !error && it != end; it.increment(error)) {
    const std::string path = it->path().string();
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat(field, ": stat ", path));
    }
    if (st.st_dev != root_stat.st_dev) {  // another filesystem mounted below
      it.disable_recursion_pending();
      continue;
    }
    RETURN_IF_ERROR(host.SetFileLabel(path, label));
  }
  if (error) {
    return absl::ErrnoToStatus(error.value(), absl::StrCat(field, ": walk ", root));
  }
  return absl::OkStatus();
}

Selinux::Selinux(std::unique_ptr<SelinuxHost> host, int categories, bool configured)
    : host_(std::move(host)),
      configured_(configured),
      enabled_(configured && host_->Enabled()),
      levels_(categories) {
  if (!enabled_) return;
  absl::StatusOr<std::string> contexts = host_->LxcContexts();
  if (contexts.ok()) {
    defaults_ = ParseLxcContexts(*contexts);
  } else {
    OCID_LOG(kWarn) << "SELinux: no lxc_contexts (" << contexts.status().message()
                    << "): containers get " << defaults_.process.ToString();
  }
}

void Selinux::LogIgnored(const cri::SELinuxOption& options) {
  if (options.user().empty() && options.role().empty() && options.type().empty() &&
      options.level().empty()) {
    return;
  }
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    OCID_LOG(kInfo) << (configured_ ? "SELinux is not enabled on this host"
                                    : "ocid.runtime.selinux is off")
                    << ": selinux_options are ignored";
  }
}

absl::StatusOr<SelinuxLabels> Selinux::PodLabels(const cri::SELinuxOption& options,
                                                 absl::string_view field) {
  if (!enabled_) {
    LogIgnored(options);
    return SelinuxLabels();
  }
  std::string level = options.level();
  if (level.empty()) {
    ASSIGN_OR_RETURN(level, levels_.Allocate());
  } else {
    levels_.Reserve(level);
  }
  absl::StatusOr<SelinuxLabels> labels =
      ComputeSelinuxLabels(defaults_, options, level, /*privileged=*/false, field);
  if (!labels.ok()) levels_.Release(level);
  return labels;
}

void Selinux::RestorePod(const SelinuxLabels& labels) {
  if (!labels.mount.empty()) levels_.Reserve(LevelOf(labels.mount));
}

void Selinux::ReleasePod(const SelinuxLabels& labels) {
  if (!labels.mount.empty()) levels_.Release(LevelOf(labels.mount));
}

absl::StatusOr<SelinuxLabels> Selinux::ContainerLabels(const SelinuxLabels& pod,
                                                       const cri::SELinuxOption& options,
                                                       bool privileged, absl::string_view field) {
  if (!enabled_) {
    LogIgnored(options);
    return SelinuxLabels();
  }
  if (pod.empty()) return SelinuxLabels();  // made while SELinux was off
  return ComputeSelinuxLabels(defaults_, options, LevelOf(pod.mount), privileged, field);
}

absl::Status Selinux::Relabel(const std::string& path, const std::string& mount_label,
                              absl::string_view field) {
  if (!enabled_ || mount_label.empty()) return absl::OkStatus();
  return RelabelTree(*host_, path, mount_label, field);
}

}  // namespace ocid
