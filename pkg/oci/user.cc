#include "pkg/oci/user.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

// Bigger passwd/group files are refused rather than read into memory.
constexpr size_t kMaxDatabaseBytes = 16 << 20;

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// A decimal id in [0, 2^32 - 1]; nullopt for anything else.
std::optional<uint32_t> ParseId(absl::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value > std::numeric_limits<uint32_t>::max()) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

// Reads `name` (relative, like "etc/passwd") inside the root `root_fd`:
// absolute symlinks and ".." resolve within it. A missing or non-regular
// file reads as "" (O_NONBLOCK keeps a FIFO from blocking the open).
absl::StatusOr<std::string> ReadInRoot(int root_fd, const std::string& name,
                                       const std::string& rootfs) {
  struct open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(syscall(SYS_openat2, root_fd, name.c_str(), &how, sizeof(how))));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) return std::string();
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", name, " in ", rootfs));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", name, " in ", rootfs));
  }
  if (!S_ISREG(st.st_mode)) return std::string();
  if (static_cast<uint64_t>(st.st_size) > kMaxDatabaseBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " in ", rootfs, " is bigger than ", kMaxDatabaseBytes, " bytes"));
  }
  std::string contents;
  char buffer[16384];
  while (contents.size() <= kMaxDatabaseBytes) {
    ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", name, " in ", rootfs));
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  return contents;
}

// passwd(5): name:password:uid:gid:gecos:home:shell. Malformed lines are
// skipped, as libc does.
std::vector<PasswdEntry> ParsePasswd(absl::string_view contents) {
  std::vector<PasswdEntry> entries;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (fields.size() < 4 || fields[0].empty()) continue;
    std::optional<uint32_t> uid = ParseId(fields[2]);
    std::optional<uint32_t> gid = ParseId(fields[3]);
    if (!uid || !gid) continue;
    PasswdEntry entry{std::string(fields[0]), *uid, *gid, "/"};
    if (fields.size() > 5 && !fields[5].empty()) entry.home = std::string(fields[5]);
    entries.push_back(std::move(entry));
  }
  return entries;
}

// group(5): name:password:gid:member,member.
std::vector<GroupEntry> ParseGroup(absl::string_view contents) {
  std::vector<GroupEntry> entries;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (fields.size() < 3 || fields[0].empty()) continue;
    std::optional<uint32_t> gid = ParseId(fields[2]);
    if (!gid) continue;
    GroupEntry entry{std::string(fields[0]), *gid, {}};
    if (fields.size() > 3) {
      entry.members = absl::StrSplit(fields[3], ',', absl::SkipWhitespace());
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

// The passwd entry `user` names (a name or a uid), or nullopt.
std::optional<PasswdEntry> FindUser(const std::vector<PasswdEntry>& passwd,
                                    absl::string_view user) {
  std::optional<uint32_t> uid = ParseId(user);
  for (const PasswdEntry& entry : passwd) {
    if (uid ? entry.uid == *uid : entry.name == user) return entry;
  }
  return std::nullopt;
}

absl::StatusOr<ResolvedUser> ResolveUserAndGroup(absl::string_view user, absl::string_view group,
                                                 const std::vector<PasswdEntry>& passwd,
                                                 const std::vector<GroupEntry>& groups) {
  ResolvedUser resolved;
  std::optional<PasswdEntry> entry = FindUser(passwd, user);
  if (entry) {
    resolved.uid = entry->uid;
    resolved.gid = entry->gid;
    resolved.home = entry->home;
  } else if (std::optional<uint32_t> uid = ParseId(user)) {
    resolved.uid = *uid;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("user \"", user, "\" is not a uid and not in the image's /etc/passwd"));
  }
  if (!group.empty()) {
    std::optional<uint32_t> gid = ParseId(group);
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const GroupEntry& g) { return g.name == group; });
    if (!gid && it == groups.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("group \"", group, "\" is not a gid and not in the image's /etc/group"));
    }
    resolved.gid = gid ? *gid : it->gid;
  }
  if (!entry) return resolved;
  for (const GroupEntry& g : groups) {
    if (std::find(g.members.begin(), g.members.end(), entry->name) != g.members.end()) {
      resolved.additional_gids.push_back(g.gid);
    }
  }
  return resolved;
}

// Adds `gid` unless it is the primary gid or already there.
void AddGid(ResolvedUser& user, uint32_t gid) {
  if (gid == user.gid) return;
  auto& gids = user.additional_gids;
  if (std::find(gids.begin(), gids.end(), gid) == gids.end()) gids.push_back(gid);
}

}  // namespace

absl::StatusOr<ResolvedUser> ResolveUser(const std::string& rootfs, const std::string& user_spec,
                                         const std::vector<int64_t>& supplemental_groups) {
  absl::string_view spec = user_spec;
  absl::string_view user = spec.substr(0, spec.find(':'));
  absl::string_view group;
  if (user.size() < spec.size()) {
    group = spec.substr(user.size() + 1);
    if (group.empty() || group.find(':') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("malformed user \"", spec, "\""));
    }
  }
  if (user.empty()) user = "0";

  UniqueFd root_fd(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return absl::ErrnoToStatus(errno, "open rootfs " + rootfs);
  ASSIGN_OR_RETURN(std::string passwd, ReadInRoot(root_fd.get(), "etc/passwd", rootfs));
  ASSIGN_OR_RETURN(std::string group_file, ReadInRoot(root_fd.get(), "etc/group", rootfs));
  ASSIGN_OR_RETURN(ResolvedUser resolved,
                   ResolveUserAndGroup(user, group, ParsePasswd(passwd), ParseGroup(group_file)));
  std::vector<uint32_t> member_of = std::move(resolved.additional_gids);
  resolved.additional_gids.clear();
  for (uint32_t gid : member_of) AddGid(resolved, gid);
  for (int64_t gid : supplemental_groups) {
    if (gid < 0 || gid > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("supplemental group ", gid, " out of range"));
    }
    AddGid(resolved, static_cast<uint32_t>(gid));
  }
  return resolved;
}

}  // namespace ocid
