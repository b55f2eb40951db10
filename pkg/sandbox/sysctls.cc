#include "pkg/sandbox/sysctls.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ocid {
namespace {

bool IsIpcSysctl(const std::string& key) {
  return absl::StartsWith(key, "kernel.shm") || absl::StartsWith(key, "kernel.msg") ||
         key == "kernel.sem" || absl::StartsWith(key, "fs.mqueue.");
}

}  // namespace

absl::Status CheckPodSysctls(const google::protobuf::Map<std::string, std::string>& sysctls,
                             bool own_ipc, bool own_network) {
  for (const auto& [raw, value] : sysctls) {
    std::string key = raw;
    std::replace(key.begin(), key.end(), '/', '.');
    auto refuse = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat("config.linux.sysctls[\"", raw, "\"]: ", why));
    };
    if (key.empty() || key.front() == '.' || key.back() == '.' || absl::StrContains(key, "..")) {
      return refuse("not a sysctl name");
    }
    if (IsIpcSysctl(key)) {
      if (!own_ipc) return refuse("an IPC sysctl, and the pod shares the host's IPC namespace");
    } else if (absl::StartsWith(key, "net.")) {
      if (!own_network) {
        return refuse("a network sysctl, and the pod shares the host's network namespace");
      }
    } else {
      return refuse("not a namespaced sysctl: it would change the host");
    }
  }
  return absl::OkStatus();
}

}  // namespace ocid
