#include "pkg/security/seccomp.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"

#if OCID_WITH_SECCOMP
#include <seccomp.h>
#endif

namespace ocid {
namespace {

namespace cri = ::runtime::v1;
using json = nlohmann::json;

constexpr char kNativeArch[] = "SCMP_ARCH_X86_64";
constexpr size_t kMaxProfileBytes = 4 << 20;
constexpr size_t kMaxCached = 256;

const std::set<std::string>& Actions() {
  static const auto* actions = new std::set<std::string>{
      "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
      "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",        "SCMP_ACT_ALLOW",       "SCMP_ACT_LOG"};
  return *actions;
}

const std::set<std::string>& Operators() {
  static const auto* ops =
      new std::set<std::string>{"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
                                "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
  return *ops;
}

absl::Status Bad(const std::string& source, const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("seccomp profile ", source, ": ", where, ": ", what));
}

#if OCID_WITH_SECCOMP
// "SCMP_ARCH_X86_64" -> libseccomp's token, 0 when unknown.
uint32_t ArchToken(const std::string& name) {
  if (!absl::StartsWith(name, "SCMP_ARCH_")) return 0;
  std::string lower = absl::AsciiStrToLower(name.substr(strlen("SCMP_ARCH_")));
  return seccomp_arch_resolve_name(lower.c_str());
}
#endif

absl::Status CheckArch(const std::string& source, const std::string& where,
                       const std::string& arch) {
#if OCID_WITH_SECCOMP
  if (ArchToken(arch) == 0)
    return Bad(source, where, absl::StrCat("unknown architecture \"", arch, "\""));
#endif
  return absl::OkStatus();
}

// A name no targeted architecture knows is a typo, not another arch's call
// (those runc skips where they do not exist).
absl::Status CheckSyscall(const std::string& source, const std::string& where,
                          const std::string& name, const std::vector<std::string>& arches) {
#if OCID_WITH_SECCOMP
  std::vector<std::string> targets = arches;
  if (targets.empty()) targets.push_back(kNativeArch);
  for (const std::string& arch : targets) {
    uint32_t token = ArchToken(arch);
    if (token != 0 && seccomp_syscall_resolve_name_arch(token, name.c_str()) != __NR_SCMP_ERROR) {
      return absl::OkStatus();
    }
  }
  return Bad(source, where, absl::StrCat("unknown syscall \"", name, "\""));
#else
  return absl::OkStatus();
#endif
}

// Kernel release as (major, minor); (0, 0) when unreadable.
std::pair<int, int> KernelVersion(absl::string_view release) {
  std::vector<std::string> parts = absl::StrSplit(release, absl::ByAnyChar(".-"));
  int major = 0, minor = 0;
  if (parts.size() >= 2) {
    (void)absl::SimpleAtoi(parts[0], &major);
    (void)absl::SimpleAtoi(parts[1], &minor);
  }
  return {major, minor};
}

std::pair<int, int> RunningKernel() {
  struct utsname name;
  if (::uname(&name) != 0) return {0, 0};
  return KernelVersion(name.release);
}

bool IsNativeArch(const std::string& arch) {
  return arch == "amd64" || arch == "x86_64" || arch == kNativeArch;
}

// Whether an entry's includes/excludes hold for this container here.
absl::StatusOr<bool> Applies(const json& entry, const std::string& source, const std::string& where,
                             const std::set<std::string>& caps) {
  for (const char* key : {"includes", "excludes"}) {
    if (!entry.contains(key)) continue;
    const json& filter = entry[key];
    if (!filter.is_object()) return Bad(source, absl::StrCat(where, ".", key), "not an object");
    bool include = std::string(key) == "includes";
    if (filter.contains("caps")) {
      if (!filter["caps"].is_array())
        return Bad(source, where, std::string(key) + ".caps is not a list");
      for (const json& cap : filter["caps"]) {
        if (!cap.is_string())
          return Bad(source, where, std::string(key) + ".caps has a non-string");
        bool held = caps.count(cap.get<std::string>()) > 0;
        if (include && !held) return false;
        if (!include && held) return false;
      }
    }
    if (filter.contains("arches")) {
      if (!filter["arches"].is_array())
        return Bad(source, where, std::string(key) + ".arches is not a list");
      bool native = std::any_of(
          filter["arches"].begin(), filter["arches"].end(),
          [](const json& a) { return a.is_string() && IsNativeArch(a.get<std::string>()); });
      if (include && !filter["arches"].empty() && !native) return false;
      if (!include && native) return false;
    }
    if (filter.contains("minKernel") && include) {
      if (!filter["minKernel"].is_string())
        return Bad(source, where, "includes.minKernel is not a string");
      if (RunningKernel() < KernelVersion(filter["minKernel"].get<std::string>())) return false;
    }
  }
  return true;
}

absl::StatusOr<json> ConvertArgs(const json& args, const std::string& source,
                                 const std::string& where) {
  if (!args.is_array()) return Bad(source, where, "not a list");
  json out = json::array();
  for (size_t i = 0; i < args.size(); ++i) {
    const json& arg = args[i];
    std::string at = absl::StrCat(where, "[", i, "]");
    if (!arg.is_object()) return Bad(source, at, "not an object");
    if (!arg.contains("index") || !arg["index"].is_number_unsigned() || arg["index"] > 5) {
      return Bad(source, at + ".index", "not an argument index 0-5");
    }
    if (!arg.contains("op") || !arg["op"].is_string() ||
        !Operators().count(arg["op"].get<std::string>())) {
      return Bad(source, at + ".op", "not one of " + absl::StrJoin(Operators(), ", "));
    }
    json converted = {{"index", arg["index"]}, {"op", arg["op"]}};
    for (const char* key : {"value", "valueTwo"}) {
      if (!arg.contains(key)) continue;
      if (!arg[key].is_number_unsigned())
        return Bad(source, at + "." + key, "not an unsigned number");
      converted[key] = arg[key];
    }
    if (!converted.contains("value")) converted["value"] = 0;
    out.push_back(std::move(converted));
  }
  return out;
}

}  // namespace

bool SeccompBuiltIn() { return OCID_WITH_SECCOMP == 1; }

absl::StatusOr<json> ConvertSeccompProfile(absl::string_view text, const std::string& source,
                                           const std::vector<std::string>& capabilities) {
  json profile = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!profile.is_object()) return Bad(source, "the file", "not a JSON object");
  if (!profile.contains("defaultAction") || !profile["defaultAction"].is_string() ||
      !Actions().count(profile["defaultAction"].get<std::string>())) {
    return Bad(source, "defaultAction", "missing or not one of " + absl::StrJoin(Actions(), ", "));
  }
  const std::set<std::string> caps(capabilities.begin(), capabilities.end());
  json out = {{"defaultAction", profile["defaultAction"]}};
  if (profile.contains("defaultErrnoRet")) {
    if (!profile["defaultErrnoRet"].is_number_unsigned()) {
      return Bad(source, "defaultErrnoRet", "not an unsigned number");
    }
    out["defaultErrnoRet"] = profile["defaultErrnoRet"];
  }

  // The OCI form lists architectures; Docker's maps the native one to its
  // sub-architectures.
  std::vector<std::string> arches;
  if (profile.contains("architectures")) {
    if (!profile["architectures"].is_array()) return Bad(source, "architectures", "not a list");
    for (size_t i = 0; i < profile["architectures"].size(); ++i) {
      const json& arch = profile["architectures"][i];
      std::string where = absl::StrCat("architectures[", i, "]");
      if (!arch.is_string()) return Bad(source, where, "not a string");
      RETURN_IF_ERROR(CheckArch(source, where, arch.get<std::string>()));
      arches.push_back(arch.get<std::string>());
    }
  } else if (profile.contains("archMap")) {
    if (!profile["archMap"].is_array()) return Bad(source, "archMap", "not a list");
    for (size_t i = 0; i < profile["archMap"].size(); ++i) {
      const json& entry = profile["archMap"][i];
      std::string where = absl::StrCat("archMap[", i, "]");
      if (!entry.is_object() || !entry.contains("architecture") ||
          !entry["architecture"].is_string()) {
        return Bad(source, where, "needs an architecture");
      }
      std::string arch = entry["architecture"].get<std::string>();
      RETURN_IF_ERROR(CheckArch(source, where + ".architecture", arch));
      if (arch != kNativeArch) continue;
      arches.push_back(arch);
      for (const json& sub : entry.value("subArchitectures", json::array())) {
        if (!sub.is_string()) return Bad(source, where + ".subArchitectures", "not strings");
        RETURN_IF_ERROR(CheckArch(source, where + ".subArchitectures", sub.get<std::string>()));
        arches.push_back(sub.get<std::string>());
      }
    }
  }
  if (!arches.empty()) out["architectures"] = arches;
  if (profile.contains("flags")) out["flags"] = profile["flags"];

  json syscalls = json::array();
  const json& entries = profile.contains("syscalls") ? profile["syscalls"] : json::array();
  if (!entries.is_array()) return Bad(source, "syscalls", "not a list");
  for (size_t i = 0; i < entries.size(); ++i) {
    const json& entry = entries[i];
    std::string where = absl::StrCat("syscalls[", i, "]");
    if (!entry.is_object()) return Bad(source, where, "not an object");
    std::vector<std::string> names;
    if (entry.contains("names")) {
      if (!entry["names"].is_array()) return Bad(source, where + ".names", "not a list");
      for (const json& name : entry["names"]) {
        if (!name.is_string()) return Bad(source, where + ".names", "has a non-string");
        names.push_back(name.get<std::string>());
      }
    } else if (entry.contains("name") && entry["name"].is_string()) {
      names.push_back(entry["name"].get<std::string>());  // the old one-name form
    }
    if (names.empty()) return Bad(source, where, "names no syscall");
    if (!entry.contains("action") || !entry["action"].is_string() ||
        !Actions().count(entry["action"].get<std::string>())) {
      return Bad(source, where + ".action",
                 "missing or not one of " + absl::StrJoin(Actions(), ", "));
    }
    for (size_t n = 0; n < names.size(); ++n) {
      RETURN_IF_ERROR(
          CheckSyscall(source, absl::StrCat(where, ".names[", n, "]"), names[n], arches));
    }
    ASSIGN_OR_RETURN(bool applies, Applies(entry, source, where, caps));
    if (!applies) continue;
    json converted = {{"names", names}, {"action", entry["action"]}};
    if (entry.contains("errnoRet")) {
      if (!entry["errnoRet"].is_number_unsigned()) {
        return Bad(source, where + ".errnoRet", "not an unsigned number");
      }
      converted["errnoRet"] = entry["errnoRet"];
    }
    if (entry.contains("args") && !entry["args"].is_null()) {
      ASSIGN_OR_RETURN(json args, ConvertArgs(entry["args"], source, where + ".args"));
      if (!args.empty()) converted["args"] = std::move(args);
    }
    syscalls.push_back(std::move(converted));
  }
  out["syscalls"] = std::move(syscalls);
  return out;
}

absl::StatusOr<SeccompRequest> SeccompRequestOf(const cri::LinuxContainerSecurityContext& sc) {
  const std::string field = "config.linux.security_context.";
  SeccompRequest request;
  if (sc.has_seccomp()) {
    switch (sc.seccomp().profile_type()) {
      case cri::SecurityProfile::RuntimeDefault:
        request.kind = SeccompRequest::Kind::kRuntimeDefault;
        return request;
      case cri::SecurityProfile::Unconfined:
        return request;
      case cri::SecurityProfile::Localhost:
        request.kind = SeccompRequest::Kind::kLocalhost;
        request.localhost_path = sc.seccomp().localhost_ref();
        if (request.localhost_path.empty() || request.localhost_path[0] != '/') {
          return absl::InvalidArgumentError(absl::StrCat(field, "seccomp.localhost_ref: \"",
                                                         request.localhost_path,
                                                         "\" is not an absolute path"));
        }
        return request;
      default:
        return absl::InvalidArgumentError(absl::StrCat(field, "seccomp.profile_type: unknown type ",
                                                       sc.seccomp().profile_type()));
    }
  }
  // Deprecated in the CRI, and still what older kubelets send.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const std::string& path = sc.seccomp_profile_path();
#pragma GCC diagnostic pop
  if (path.empty() || path == "unconfined") return request;
  if (path == "runtime/default" || path == "docker/default") {
    request.kind = SeccompRequest::Kind::kRuntimeDefault;
    return request;
  }
  if (absl::StartsWith(path, "localhost/")) {
    request.kind = SeccompRequest::Kind::kLocalhost;
    request.localhost_path = path.substr(strlen("localhost/"));
    if (!request.localhost_path.empty() && request.localhost_path[0] == '/') return request;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, "seccomp_profile_path: \"", path,
      "\" is not runtime/default, docker/default, unconfined or localhost/<absolute path>"));
}

absl::StatusOr<std::optional<json>> SeccompProfiles::ForContainer(
    const SeccompRequest& request, const std::vector<std::string>& capabilities) {
  if (request.kind == SeccompRequest::Kind::kUnconfined) return std::optional<json>();
  if (!SeccompBuiltIn()) {
    return absl::InvalidArgumentError(
        "config.linux.security_context.seccomp: ocid was built without seccomp "
        "(--config=noseccomp); only Unconfined is possible");
  }
  std::string path = request.kind == SeccompRequest::Kind::kLocalhost ? request.localhost_path
                                                                      : runtime_default_path_;
  ASSIGN_OR_RETURN(json profile, Build(path, capabilities));
  return std::optional<json>(std::move(profile));
}

absl::StatusOr<json> SeccompProfiles::Build(const std::string& path,
                                            const std::vector<std::string>& capabilities) {
  // A file's key holds its identity and mtime: an edited profile is read
  // again.
  std::string key = absl::StrCat(absl::StrJoin(capabilities, ","), "|");
  if (!path.empty()) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("seccomp profile ", path, ": ", strerror(errno)));
    }
    absl::StrAppend(&key, path, "|", st.st_dev, ":", st.st_ino, ":", st.st_size, ":",
                    st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  std::string text;
  if (path.empty()) {
    text = std::string(DefaultSeccompProfileText());
  } else {
    absl::StatusOr<std::string> read = ReadFileToString(path, kMaxProfileBytes);
    if (!read.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("seccomp profile ", path, ": ", read.status().message()));
    }
    text = *std::move(read);
  }
  ASSIGN_OR_RETURN(json profile,
                   ConvertSeccompProfile(text, path.empty() ? "(built-in)" : path, capabilities));
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_[key] = profile;
  return profile;
}

size_t SeccompProfiles::cached() const {
  absl::MutexLock lock(&mu_);
  return cache_.size();
}

}  // namespace ocid
