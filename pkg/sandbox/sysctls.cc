#include "pkg/sandbox/sysctls.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
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

absl::StatusOr<std::vector<DefaultSysctl>> ParseDefaultSysctls(
    const std::vector<std::string>& entries) {
  std::vector<DefaultSysctl> parsed;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto refuse = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat("ocid.runtime.default_sysctls[", i, "]: \"",
                                                     entries[i], "\": ", why));
    };
    size_t equals = entries[i].find('=');
    if (equals == std::string::npos || equals == 0) return refuse("not of the form name=value");
    DefaultSysctl sysctl;
    sysctl.name = std::string(absl::StripAsciiWhitespace(entries[i].substr(0, equals)));
    sysctl.value = std::string(absl::StripAsciiWhitespace(entries[i].substr(equals + 1)));
    std::replace(sysctl.name.begin(), sysctl.name.end(), '/', '.');
    google::protobuf::Map<std::string, std::string> one;
    one[sysctl.name] = sysctl.value;
    // Checked as if the pod had both namespaces: only host-level ones fail.
    if (absl::Status ok = CheckPodSysctls(one, true, true); !ok.ok()) {
      return refuse(std::string(ok.message().substr(ok.message().find("]: ") + 3)));
    }
    sysctl.ipc = IsIpcSysctl(sysctl.name);
    parsed.push_back(std::move(sysctl));
  }
  return parsed;
}

std::vector<std::pair<std::string, std::string>> PodSysctls(
    const std::vector<DefaultSysctl>& defaults,
    const google::protobuf::Map<std::string, std::string>& own, bool own_ipc, bool own_network) {
  std::map<std::string, std::string> merged;
  for (const DefaultSysctl& d : defaults) {
    if (d.ipc ? own_ipc : own_network) merged[d.name] = d.value;
  }
  for (const auto& [raw, value] : own) {
    std::string key = raw;
    std::replace(key.begin(), key.end(), '/', '.');
    merged[key] = value;
  }
  return {merged.begin(), merged.end()};
}

}  // namespace ocid
