#include "pkg/cgroups/paths.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

constexpr char kField[] = "config.linux.cgroup_parent";

absl::Status Invalid(const std::string& parent, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(kField, ": \"", parent, "\" ", why));
}

// "/a//b/../c/" -> "/a/c"; never climbs above "/".
std::string CleanAbsolute(const std::string& path) {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(part);
  }
  return "/" + absl::StrJoin(parts, "/");
}

// "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root.
absl::StatusOr<std::string> ExpandSlice(const std::string& slice) {
  absl::string_view name = slice;
  if (!absl::ConsumeSuffix(&name, ".slice") || absl::StrContains(name, '/')) {
    return Invalid(slice, "is neither an absolute path nor a systemd slice name");
  }
  if (name == "-") return std::string("/");
  std::string path, prefix;
  for (absl::string_view part : absl::StrSplit(name, '-')) {
    if (part.empty()) return Invalid(slice, "is not a valid slice name (empty part)");
    prefix = prefix.empty() ? std::string(part) : absl::StrCat(prefix, "-", part);
    absl::StrAppend(&path, "/", prefix, ".slice");
  }
  return path;
}

}  // namespace

bool PodCgroupIsOurs(const std::string& cgroup_parent) {
  return cgroup_parent.empty() || (cgroup_parent[0] == '/' && CleanAbsolute(cgroup_parent) == "/");
}

absl::StatusOr<std::string> PodCgroupPath(const std::string& cgroup_parent,
                                          const std::string& pod_id) {
  if (PodCgroupIsOurs(cgroup_parent)) {
    return absl::StrCat("/ocid/pod-", pod_id);
  }
  if (cgroup_parent[0] == '/') return CleanAbsolute(cgroup_parent);
  return ExpandSlice(cgroup_parent);
}

std::string ContainerCgroupPath(const std::string& pod_cgroup, const std::string& container_id) {
  return absl::StrCat(pod_cgroup, "/ocid-", container_id);
}

std::string ConmonCgroupPath(const std::string& pod_cgroup, const std::string& container_id) {
  return absl::StrCat(pod_cgroup, "/ocid-conmon-", container_id);
}

std::string InfraCgroupPath(const std::string& pod_cgroup, const std::string& pod_id) {
  return absl::StrCat(pod_cgroup, "/ocid-infra-", pod_id);
}

absl::Status CheckCgroupDriver(const std::string& driver, const std::string& proc_root) {
  if (driver == "cgroupfs") return absl::OkStatus();
  if (driver != "systemd") {
    return absl::InvalidArgumentError(
        absl::StrCat("cgroup_manager \"", driver, "\" is neither cgroupfs nor systemd"));
  }
  absl::StatusOr<std::string> comm = ReadFileToString(proc_root + "/1/comm", 4096);
  std::string init = comm.ok() ? std::string(absl::StripAsciiWhitespace(*comm)) : "unknown";
  if (init != "systemd") {
    return absl::FailedPreconditionError(
        absl::StrCat("cgroup_manager \"systemd\": systemd is not running as PID 1 (PID 1 is ", init,
                     "); use cgroup_manager = \"cgroupfs\""));
  }
  return absl::FailedPreconditionError(
      "cgroup_manager \"systemd\": ocid does not drive systemd's D-Bus API yet; use "
      "cgroup_manager = \"cgroupfs\"");
}

}  // namespace ocid
