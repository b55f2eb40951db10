#include "pkg/oci/spec.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/cgroups/paths.h"
#include "pkg/oci/user.h"

namespace ocid {
namespace {

using json = nlohmann::json;
using runtime::v1::ContainerConfig;
using runtime::v1::LinuxContainerSecurityContext;

constexpr char kOciVersion[] = "1.0.2";
constexpr char kDefaultPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// RLIMIT_NOFILE: root here lacks CAP_SYS_RESOURCE and its hard limit is
// 20000, so the usual 1048576 would make the runtime fail.
constexpr uint64_t kNofileSoft = 1024;
constexpr uint64_t kNofileHard = 4096;

// Capability names by number (capability.h), as runtime-spec spells them.
// clang-format off
constexpr const char* kCapabilities[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",  // 0
    "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",  // 4
    "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",  // 8
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",  // 12
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",  // 16
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",  // 20
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",  // 24
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",  // 28
    "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",  // 32
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",  // 36
    "CAP_CHECKPOINT_RESTORE",  // 40
};
// clang-format on

// containerd's defaults; kubelet usually sends the same lists.
// clang-format off
constexpr const char* kDefaultMaskedPaths[] = {
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
};
// clang-format on
constexpr const char* kDefaultReadonlyPaths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

// Whether `s` is UTF-8 as JSON needs it (no overlong forms, surrogates or
// code points past U+10FFFF): config.json cannot carry anything else, and
// serializing it would throw.
bool IsValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char lead = static_cast<unsigned char>(s[i]);
    size_t length = lead < 0x80   ? 1
                    : lead < 0xc2 ? 0
                    : lead < 0xe0 ? 2
                    : lead < 0xf0 ? 3
                    : lead < 0xf5 ? 4
                                  : 0;
    if (length == 0 || i + length > s.size()) return false;
    uint32_t code = length == 1 ? lead : lead & (0xff >> (length + 1));
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && code < 0x10000) || code > 0x10ffff ||
        (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

// Lexically cleans an absolute path ("/a//b/../c/" -> "/a/c"); ".." stops at
// "/".
std::string CleanPath(absl::string_view path) {
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

// True when `path` is `dir` or below it (both clean).
bool IsAtOrUnder(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || absl::StartsWith(path, dir + "/");
}

// ---- process ----

absl::StatusOr<std::vector<std::string>> BuildArgs(const ContainerConfig& config,
                                                   const ImageConfig& image) {
  std::vector<std::string> args;
  if (!config.command().empty()) {
    args.assign(config.command().begin(), config.command().end());
    args.insert(args.end(), config.args().begin(), config.args().end());
  } else if (!config.args().empty()) {
    args = image.entrypoint;
    args.insert(args.end(), config.args().begin(), config.args().end());
  } else {
    args = image.entrypoint;
    args.insert(args.end(), image.cmd.begin(), image.cmd.end());
  }
  if (args.empty()) {
    return absl::InvalidArgumentError(
        "no command: the image has no entrypoint or cmd and the request none");
  }
  return args;
}

// Sets `key`=`value` in `env`, replacing an entry for `key` in place.
void SetEnv(std::vector<std::string>& env, absl::string_view key, absl::string_view value) {
  for (std::string& entry : env) {
    absl::string_view entry_key = absl::string_view(entry).substr(0, entry.find('='));
    if (entry_key == key) {
      entry = absl::StrCat(key, "=", value);
      return;
    }
  }
  env.push_back(absl::StrCat(key, "=", value));
}

bool HasEnv(const std::vector<std::string>& env, absl::string_view key) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& entry) {
    return absl::string_view(entry).substr(0, entry.find('=')) == key;
  });
}

// The image's env with the request's on top; PATH, HOSTNAME and HOME are
// added when neither sets them.
absl::StatusOr<std::vector<std::string>> BuildEnv(const ContainerConfig& config,
                                                  const ImageConfig& image,
                                                  const SandboxContext& sandbox,
                                                  const std::string& home) {
  std::vector<std::string> env = image.env;
  for (int i = 0; i < config.envs_size(); ++i) {
    const auto& kv = config.envs(i);
    std::string field = absl::StrCat("config.envs[", i, "]");
    if (kv.key().empty()) return Invalid(field + ".key", "empty");
    if (absl::StrContains(kv.key(), '=') || absl::StrContains(kv.key(), '\0')) {
      return Invalid(field + ".key", absl::StrCat(Quote(kv.key()), " contains '=' or a NUL"));
    }
    if (absl::StrContains(kv.value(), '\0')) return Invalid(field + ".value", "contains a NUL");
    // KeyValue.value is bytes on the wire; the spec is JSON.
    if (!IsValidUtf8(kv.value())) return Invalid(field + ".value", "is not valid UTF-8");
    SetEnv(env, kv.key(), kv.value());
  }
  if (!HasEnv(env, "PATH")) env.insert(env.begin(), kDefaultPath);
  if (!HasEnv(env, "HOSTNAME") && !sandbox.hostname.empty()) {
    SetEnv(env, "HOSTNAME", sandbox.hostname);
  }
  if (!HasEnv(env, "HOME")) {
    // The home comes from the image's /etc/passwd, which may hold any bytes.
    if (!IsValidUtf8(home)) {
      return absl::FailedPreconditionError(
          "image /etc/passwd: the user's home dir is not valid UTF-8 (set HOME in config.envs)");
    }
    SetEnv(env, "HOME", home);
  }
  return env;
}

absl::StatusOr<std::string> BuildCwd(const ContainerConfig& config, const ImageConfig& image) {
  if (!config.working_dir().empty()) {
    if (config.working_dir()[0] != '/') {
      return Invalid("config.working_dir", Quote(config.working_dir()) + " is not absolute");
    }
    return CleanPath(config.working_dir());
  }
  // Docker takes a relative image WorkingDir from "/".
  if (!image.working_dir.empty()) return CleanPath(image.working_dir);
  return std::string("/");
}

absl::Status ValidateUserFieldsIn(const LinuxContainerSecurityContext& sc) {
  const std::string prefix = "config.linux.security_context.";
  if (sc.has_run_as_user() && sc.run_as_user().value() < 0) {
    return Invalid(prefix + "run_as_user", "negative");
  }
  if (sc.has_run_as_group()) {
    if (sc.run_as_group().value() < 0) return Invalid(prefix + "run_as_group", "negative");
    if (!sc.has_run_as_user() && sc.run_as_username().empty()) {
      return Invalid(prefix + "run_as_group", "set without run_as_user or run_as_username");
    }
  }
  return absl::OkStatus();
}

// The user string kubelet's fields make ("uid", "name", "user:gid", ...) and
// the field it came from, for errors.
absl::StatusOr<std::pair<std::string, std::string>> UserSpec(
    const LinuxContainerSecurityContext& sc, const ImageConfig& image) {
  const std::string prefix = "config.linux.security_context.";
  std::string user = image.user;
  std::string field = "image config User";
  RETURN_IF_ERROR(ValidateUserFieldsIn(sc));
  if (sc.has_run_as_user()) {
    user = absl::StrCat(sc.run_as_user().value());
    field = prefix + "run_as_user";
  } else if (!sc.run_as_username().empty()) {
    user = sc.run_as_username();
    field = prefix + "run_as_username";
  }
  if (sc.has_run_as_group()) {
    user = absl::StrCat(user.substr(0, user.find(':')), ":", sc.run_as_group().value());
    field += " and " + prefix + "run_as_group";
  }
  return std::make_pair(user, field);
}

absl::StatusOr<ResolvedUser> BuildUser(const LinuxContainerSecurityContext& sc,
                                       const ImageConfig& image, const std::string& rootfs) {
  ASSIGN_OR_RETURN(auto spec, UserSpec(sc, image));
  std::vector<int64_t> groups(sc.supplemental_groups().begin(), sc.supplemental_groups().end());
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs, spec.first, groups);
  if (!user.ok()) {
    if (user.status().code() != absl::StatusCode::kInvalidArgument) return user.status();
    return Invalid(spec.second, user.status().message());
  }
  if (sc.supplemental_groups_policy() == runtime::v1::Strict) {
    // Only the request's groups, not those /etc/group adds.
    user->additional_gids.clear();
    for (int64_t gid : groups) {
      auto& gids = user->additional_gids;
      uint32_t g = static_cast<uint32_t>(gid);
      if (g != user->gid && std::find(gids.begin(), gids.end(), g) == gids.end()) {
        gids.push_back(g);
      }
    }
  }
  return user;
}

bool Mapped(const std::vector<IdMapping>& mappings, uint32_t id) {
  for (const IdMapping& m : mappings) {
    if (id >= m.container_id && id - m.container_id < m.length) return true;
  }
  return false;
}

constexpr char kNotMapped[] = " is not mapped in the pod's user namespace";

// The request's own ids (run_as_user, run_as_group, supplemental_groups[i])
// against the pod's mappings; what names or the image give is checked once
// resolved (UserIsMapped).
absl::Status RequestedIdsMapped(const LinuxContainerSecurityContext& sc,
                                const UserNamespaceMappings& userns) {
  const std::string prefix = "config.linux.security_context.";
  auto mapped = [](const std::vector<IdMapping>& mappings, int64_t id) {
    return id >= 0 && id <= UINT32_MAX && Mapped(mappings, static_cast<uint32_t>(id));
  };
  if (sc.has_run_as_user() && !mapped(userns.uids, sc.run_as_user().value())) {
    return Invalid(prefix + "run_as_user",
                   absl::StrCat("uid ", sc.run_as_user().value(), kNotMapped));
  }
  if (sc.has_run_as_group() && !mapped(userns.gids, sc.run_as_group().value())) {
    return Invalid(prefix + "run_as_group",
                   absl::StrCat("gid ", sc.run_as_group().value(), kNotMapped));
  }
  for (int i = 0; i < sc.supplemental_groups_size(); ++i) {
    if (!mapped(userns.gids, sc.supplemental_groups(i))) {
      return Invalid(absl::StrCat(prefix, "supplemental_groups[", i, "]"),
                     absl::StrCat("gid ", sc.supplemental_groups(i), kNotMapped));
    }
  }
  return absl::OkStatus();
}

// In a pod's user namespace the process's ids must all be mapped: the
// kernel refuses to switch to an unmapped one, and the runtime's error
// would not say which field asked for it. The ids are named by where they
// came from: the request's field, the name it gave (run_as_username, whose
// passwd and group entries give the rest), or the image's user.
absl::Status UserIsMapped(const ResolvedUser& user, const LinuxContainerSecurityContext& sc,
                          const UserNamespaceMappings& userns) {
  RETURN_IF_ERROR(RequestedIdsMapped(sc, userns));
  const std::string prefix = "config.linux.security_context.";
  const std::string chosen_by = sc.has_run_as_user()            ? prefix + "run_as_user"
                                : !sc.run_as_username().empty() ? prefix + "run_as_username"
                                                                : std::string("the image's user");
  if (!Mapped(userns.uids, user.uid)) {
    return Invalid(chosen_by, absl::StrCat("uid ", user.uid, kNotMapped));
  }
  if (!Mapped(userns.gids, user.gid)) {
    return Invalid(chosen_by, absl::StrCat("its group, gid ", user.gid, kNotMapped));
  }
  for (uint32_t gid : user.additional_gids) {
    if (!Mapped(userns.gids, gid)) {
      return Invalid(chosen_by,
                     absl::StrCat("gid ", gid, " (a group of the user in the image's /etc/group)",
                                  kNotMapped));
    }
  }
  return absl::OkStatus();
}

// ---- capabilities ----

// The known capabilities in this process's bounding set: a container can't
// get more than the runtime has (here root lacks CAP_SYS_RESOURCE).
std::vector<std::string> AllCapabilities() {
  uint64_t bounding = ~uint64_t{0};
  absl::StatusOr<std::string> status = ReadFileToString("/proc/self/status", 1 << 20);
  if (status.ok()) {
    for (absl::string_view line : absl::StrSplit(*status, '\n')) {
      if (absl::ConsumePrefix(&line, "CapBnd:")) {
        uint64_t mask = 0;
        if (absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &mask)) bounding = mask;
      }
    }
  }
  std::vector<std::string> caps;
  for (size_t i = 0; i < std::size(kCapabilities); ++i) {
    if ((bounding >> i) & 1) caps.push_back(kCapabilities[i]);
  }
  return caps;
}

// "net_admin" or "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; "ALL" stays.
absl::StatusOr<std::string> CapabilityName(const std::string& name, const std::string& field) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (upper == "ALL") return upper;
  if (!absl::StartsWith(upper, "CAP_")) upper = "CAP_" + upper;
  for (const char* known : kCapabilities) {
    if (upper == known) return upper;
  }
  return Invalid(field, "unknown capability " + Quote(name));
}

absl::StatusOr<std::vector<std::string>> CapabilityList(
    const google::protobuf::RepeatedPtrField<std::string>& names, const std::string& field) {
  std::vector<std::string> caps;
  for (int i = 0; i < names.size(); ++i) {
    ASSIGN_OR_RETURN(std::string cap,
                     CapabilityName(names.Get(i), absl::StrCat(field, "[", i, "]")));
    caps.push_back(std::move(cap));
  }
  return caps;
}

bool Contains(const std::vector<std::string>& list, absl::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// containerd's rules: "ALL" in add starts from every capability, "ALL" in
// drop from none; then the named drops, then the named adds.
absl::StatusOr<json> BuildCapabilities(const LinuxContainerSecurityContext& sc,
                                       const std::vector<std::string>& defaults) {
  const std::string prefix = "config.linux.security_context.capabilities.";
  ASSIGN_OR_RETURN(
      auto add, CapabilityList(sc.capabilities().add_capabilities(), prefix + "add_capabilities"));
  ASSIGN_OR_RETURN(auto drop, CapabilityList(sc.capabilities().drop_capabilities(),
                                             prefix + "drop_capabilities"));
  ASSIGN_OR_RETURN(auto ambient, CapabilityList(sc.capabilities().add_ambient_capabilities(),
                                                prefix + "add_ambient_capabilities"));
  if (Contains(ambient, "ALL")) {
    return Invalid(prefix + "add_ambient_capabilities", "\"ALL\" is not allowed");
  }
  std::vector<std::string> base;
  if (sc.privileged() || Contains(add, "ALL")) {
    base = AllCapabilities();
  } else {
    ASSIGN_OR_RETURN(base, NormalizeCapabilities(defaults, "ocid.runtime.default_capabilities"));
  }
  if (!sc.privileged() && Contains(drop, "ALL")) base.clear();
  std::vector<std::string> caps;
  for (const std::string& cap : base) {
    if (sc.privileged() || !Contains(drop, cap)) caps.push_back(cap);
  }
  for (const std::string& cap : add) {
    if (cap != "ALL" && !Contains(caps, cap)) caps.push_back(cap);
  }
  for (const std::string& cap : ambient) {
    if (!Contains(caps, cap)) caps.push_back(cap);
  }
  return json{{"bounding", caps},
              {"effective", caps},
              {"permitted", caps},
              {"inheritable", ambient},
              {"ambient", ambient}};
}

absl::StatusOr<json> BuildProcess(const ContainerSpecInputs& in, const ImageConfig& image) {
  const ContainerConfig& config = *in.config;
  const LinuxContainerSecurityContext& sc = config.linux().security_context();
  ASSIGN_OR_RETURN(std::vector<std::string> args, BuildArgs(config, image));
  ASSIGN_OR_RETURN(std::string cwd, BuildCwd(config, image));
  ASSIGN_OR_RETURN(ResolvedUser user, BuildUser(sc, image, in.rootfs));
  if (in.sandbox->userns) RETURN_IF_ERROR(UserIsMapped(user, sc, *in.sandbox->userns));
  ASSIGN_OR_RETURN(std::vector<std::string> env, BuildEnv(config, image, *in.sandbox, user.home));
  ASSIGN_OR_RETURN(json caps, BuildCapabilities(sc, in.default_capabilities));
  int64_t oom = config.linux().resources().oom_score_adj();
  oom = std::clamp<int64_t>(oom, std::max(in.min_oom_score_adj, -1000), 1000);
  return json{
      {"terminal", config.tty()},
      {"user", {{"uid", user.uid}, {"gid", user.gid}, {"additionalGids", user.additional_gids}}},
      {"args", args},
      {"env", env},
      {"cwd", cwd},
      {"capabilities", caps},
      {"rlimits",
       json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", kNofileHard}, {"soft", kNofileSoft}}})},
      {"noNewPrivileges", sc.no_new_privs()},
      {"oomScoreAdj", oom},
  };
}

// ---- mounts ----

json Mount(const std::string& destination, const std::string& type, const std::string& source,
           std::vector<std::string> options) {
  return json{{"destination", destination},
              {"type", type},
              {"source", source},
              {"options", std::move(options)}};
}

// The kernel file systems every container gets, then the pod's files.
json DefaultMounts(const SandboxContext& sandbox, bool privileged, bool readonly_rootfs) {
  const char* sys_mode = privileged ? "rw" : "ro";
  json mounts = json::array();
  mounts.push_back(Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
  mounts.push_back(
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  mounts.push_back(
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  if (!sandbox.shm_path.empty()) {
    mounts.push_back(Mount("/dev/shm", "bind", sandbox.shm_path,
                           {"rbind", "rprivate", "nosuid", "noexec", "nodev"}));
  } else {
    mounts.push_back(Mount("/dev/shm", "tmpfs", "shm",
                           {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  }
  mounts.push_back(Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  mounts.push_back(Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", sys_mode}));
  mounts.push_back(Mount("/sys/fs/cgroup", "cgroup", "cgroup",
                         {"nosuid", "noexec", "nodev", "relatime", sys_mode}));
  const std::pair<const char*, const std::string*> files[] = {
      {"/etc/resolv.conf", &sandbox.resolv_conf_path},
      {"/etc/hosts", &sandbox.hosts_path},
      {"/etc/hostname", &sandbox.hostname_path},
  };
  for (const auto& [destination, source] : files) {
    if (source->empty()) continue;
    mounts.push_back(
        Mount(destination, "bind", *source,
              {"rbind", "rprivate", "nosuid", "nodev", "noexec", readonly_rootfs ? "ro" : "rw"}));
  }
  return mounts;
}

struct CriMounts {
  json mounts = json::array();
  std::string rootfs_propagation;  // "", "rslave" or "rshared"
};

absl::StatusOr<std::string> Propagation(runtime::v1::MountPropagation propagation,
                                        const std::string& field, CriMounts& out) {
  switch (propagation) {
    case runtime::v1::PROPAGATION_PRIVATE:
      return std::string("rprivate");
    case runtime::v1::PROPAGATION_HOST_TO_CONTAINER:
      // The container's root must receive mount events for them to reach
      // the bind mount (as containerd does).
      if (out.rootfs_propagation.empty()) out.rootfs_propagation = "rslave";
      return std::string("rslave");
    case runtime::v1::PROPAGATION_BIDIRECTIONAL:
      out.rootfs_propagation = "rshared";
      return std::string("rshared");
    default:
      return Invalid(field, absl::StrCat("unknown propagation ", propagation));
  }
}

absl::StatusOr<json> CriMount(const runtime::v1::Mount& m, int i,
                              const std::map<int, std::string>& idmapped_sources, CriMounts& out) {
  std::string field = absl::StrCat("config.mounts[", i, "]");
  if (m.container_path().empty() || m.container_path()[0] != '/') {
    return Invalid(field + ".container_path", Quote(m.container_path()) + " is not absolute");
  }
  if (!m.image().image().empty()) {
    return Invalid(field + ".image", "image volumes are not supported");
  }
  if (m.recursive_read_only()) {
    return Invalid(field + ".recursive_read_only", "not supported (needs runc 1.2)");
  }
  std::string source = m.host_path();
  if (!m.uidmappings().empty() || !m.gidmappings().empty()) {
    auto idmapped = idmapped_sources.find(i);
    if (idmapped == idmapped_sources.end()) {
      return absl::InternalError(absl::StrCat(field, ": no idmapped mount was made for it"));
    }
    source = idmapped->second;
  }
  if (m.host_path().empty() || m.host_path()[0] != '/') {
    return Invalid(field + ".host_path", Quote(m.host_path()) + " is not absolute");
  }
  struct stat st;
  if (stat(m.host_path().c_str(), &st) != 0) {
    if (errno == ENOENT) return Invalid(field + ".host_path", m.host_path() + " does not exist");
    return Invalid(field + ".host_path", absl::StrCat(m.host_path(), ": ", strerror(errno)));
  }
  ASSIGN_OR_RETURN(std::string propagation,
                   Propagation(m.propagation(), field + ".propagation", out));
  return Mount(CleanPath(m.container_path()), "bind", source,
               {"rbind", propagation, m.readonly() ? "ro" : "rw"});
}

size_t Depth(const std::string& path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

// The request's mounts, parents before children (as containerd orders them).
absl::StatusOr<CriMounts> BuildCriMounts(const ContainerConfig& config,
                                         const std::map<int, std::string>& idmapped_sources) {
  CriMounts out;
  std::vector<json> mounts;
  for (int i = 0; i < config.mounts_size(); ++i) {
    ASSIGN_OR_RETURN(json m, CriMount(config.mounts(i), i, idmapped_sources, out));
    mounts.push_back(std::move(m));
  }
  std::stable_sort(mounts.begin(), mounts.end(), [](const json& a, const json& b) {
    std::string da = a["destination"], db = b["destination"];
    return (da == "/" ? 0 : Depth(da)) < (db == "/" ? 0 : Depth(db));
  });
  for (json& m : mounts) out.mounts.push_back(std::move(m));
  return out;
}

// Defaults at or under a request mount's destination give way to it.
json MergeMounts(const json& defaults, const json& cri) {
  json merged = json::array();
  for (const json& m : defaults) {
    bool overridden = std::any_of(cri.begin(), cri.end(), [&](const json& c) {
      return IsAtOrUnder(m["destination"].get<std::string>(), c["destination"].get<std::string>());
    });
    if (!overridden) merged.push_back(m);
  }
  for (const json& c : cri) merged.push_back(c);
  return merged;
}

// ---- linux ----

absl::StatusOr<json> BuildNamespaces(const ContainerSpecInputs& in) {
  const SandboxContext& sandbox = *in.sandbox;
  const auto& options = in.config->linux().security_context().namespace_options();
  if (options.pid() == runtime::v1::TARGET && sandbox.pid_ns_path.empty()) {
    return Invalid("config.linux.security_context.namespace_options.target_id",
                   "TARGET names no running container's PID namespace");
  }
  json namespaces = json::array();
  if (sandbox.userns.has_value() != !sandbox.user_ns_path.empty()) {
    return absl::InternalError("a pod user namespace needs both its pin and its mappings");
  }
  if (!sandbox.user_ns_path.empty()) {
    namespaces.push_back({{"type", "user"}, {"path", sandbox.user_ns_path}});
  }
  if (!sandbox.host_pid) {
    json pid = {{"type", "pid"}};
    if (!sandbox.pid_ns_path.empty()) pid["path"] = sandbox.pid_ns_path;
    namespaces.push_back(pid);
  }
  const std::pair<const char*, const std::string*> joined[] = {
      {"network", &sandbox.net_ns_path},
      {"ipc", &sandbox.ipc_ns_path},
      {"uts", &sandbox.uts_ns_path},
  };
  for (const auto& [type, path] : joined) {
    if (!path->empty()) namespaces.push_back({{"type", type}, {"path", *path}});
  }
  namespaces.push_back({{"type", "mount"}});
  return namespaces;
}

absl::StatusOr<std::string> CgroupsPath(const ContainerSpecInputs& in) {
  const std::string& parent = in.sandbox->cgroup_parent;
  if (in.cgroup_manager == "cgroupfs") {
    // Below the pod's cgroup (pkg/cgroups), where stats read it.
    ASSIGN_OR_RETURN(std::string pod_cgroup, PodCgroupPath(parent, in.sandbox->id));
    return ContainerCgroupPath(pod_cgroup, in.container_id);
  }
  if (in.cgroup_manager == "systemd") {
    std::string slice = parent.empty() ? "system.slice" : parent;
    if (!absl::EndsWith(slice, ".slice") || absl::StrContains(slice, '/')) {
      return Invalid("sandbox cgroup_parent", Quote(parent) + " is not a systemd slice");
    }
    return absl::StrCat(slice, ":ocid:", in.container_id);
  }
  return Invalid("cgroup_manager", Quote(in.cgroup_manager) + " is neither cgroupfs nor systemd");
}

}  // namespace

absl::StatusOr<json> BuildResources(const runtime::v1::LinuxContainerResources& r,
                                    const std::string& prefix, bool swap_accounting) {
  if (r.cpu_shares() < 0) return Invalid(prefix + "cpu_shares", "negative");
  if (r.cpu_period() < 0) return Invalid(prefix + "cpu_period", "negative");
  if (r.memory_limit_in_bytes() < 0) return Invalid(prefix + "memory_limit_in_bytes", "negative");
  if (r.memory_swap_limit_in_bytes() < -1) {
    return Invalid(prefix + "memory_swap_limit_in_bytes", "below -1 (unlimited)");
  }
  if (r.memory_swap_limit_in_bytes() > 0 && r.memory_limit_in_bytes() > 0 &&
      r.memory_swap_limit_in_bytes() < r.memory_limit_in_bytes()) {
    return Invalid(prefix + "memory_swap_limit_in_bytes",
                   "below memory_limit_in_bytes (it is memory plus swap)");
  }
  json resources = json::object();
  json cpu = json::object();
  if (r.cpu_shares() > 0) cpu["shares"] = static_cast<uint64_t>(r.cpu_shares());
  if (r.cpu_quota() != 0) cpu["quota"] = r.cpu_quota();
  if (r.cpu_period() > 0) cpu["period"] = static_cast<uint64_t>(r.cpu_period());
  if (!r.cpuset_cpus().empty()) cpu["cpus"] = r.cpuset_cpus();
  if (!r.cpuset_mems().empty()) cpu["mems"] = r.cpuset_mems();
  if (!cpu.empty()) resources["cpu"] = cpu;
  json memory = json::object();
  if (r.memory_limit_in_bytes() > 0) memory["limit"] = r.memory_limit_in_bytes();
  if (r.memory_swap_limit_in_bytes() != 0) {
    memory["swap"] = r.memory_swap_limit_in_bytes();
  } else if (r.memory_limit_in_bytes() > 0 && swap_accounting) {
    memory["swap"] = r.memory_limit_in_bytes();  // no swap beyond the limit
  }
  if (!memory.empty()) resources["memory"] = memory;
  json hugepages = json::array();
  for (int i = 0; i < r.hugepage_limits_size(); ++i) {
    const auto& h = r.hugepage_limits(i);
    if (h.page_size().empty()) {
      return Invalid(absl::StrCat(prefix, "hugepage_limits[", i, "].page_size"), "empty");
    }
    hugepages.push_back({{"pageSize", h.page_size()}, {"limit", h.limit()}});
  }
  if (!hugepages.empty()) resources["hugepageLimits"] = hugepages;
  if (!r.unified().empty()) {
    resources["unified"] =
        std::map<std::string, std::string>(r.unified().begin(), r.unified().end());
  }
  return resources;
}

namespace {

json Device(const std::string& path, const struct stat& st) {
  return json{{"path", path},
              {"type", S_ISCHR(st.st_mode) ? "c" : "b"},
              {"major", major(st.st_rdev)},
              {"minor", minor(st.st_rdev)},
              {"fileMode", st.st_mode & 07777},
              {"uid", st.st_uid},
              {"gid", st.st_gid}};
}

absl::Status ValidPermissions(const std::string& permissions, const std::string& field) {
  std::set<char> seen;
  for (char c : permissions) {
    if ((c != 'r' && c != 'w' && c != 'm') || !seen.insert(c).second) {
      return Invalid(field, Quote(permissions) + " is not a subset of \"rwm\"");
    }
  }
  return absl::OkStatus();
}

// The request's devices: linux.devices entries and device cgroup rules.
absl::Status CriDevices(const ContainerConfig& config, json& devices, json& rules) {
  for (int i = 0; i < config.devices_size(); ++i) {
    const auto& d = config.devices(i);
    std::string field = absl::StrCat("config.devices[", i, "]");
    if (d.container_path().empty() || d.container_path()[0] != '/') {
      return Invalid(field + ".container_path", Quote(d.container_path()) + " is not absolute");
    }
    struct stat st;
    if (stat(d.host_path().c_str(), &st) != 0) {
      if (errno == ENOENT) return Invalid(field + ".host_path", d.host_path() + " does not exist");
      return Invalid(field + ".host_path", absl::StrCat(d.host_path(), ": ", strerror(errno)));
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
      return Invalid(field + ".host_path", d.host_path() + " is not a device");
    }
    std::string access = d.permissions().empty() ? "rwm" : d.permissions();
    RETURN_IF_ERROR(ValidPermissions(access, field + ".permissions"));
    json device = Device(CleanPath(d.container_path()), st);
    rules.push_back({{"allow", true},
                     {"type", device["type"]},
                     {"major", device["major"]},
                     {"minor", device["minor"]},
                     {"access", access}});
    devices.push_back(std::move(device));
  }
  return absl::OkStatus();
}

// Every char and block device under `dir` (a privileged container gets the
// host's), skipping what the runtime makes itself, as containerd does. A dir
// that goes away while we walk (udev renaming) is skipped; other errors are
// returned rather than giving a privileged container part of /dev silently.
absl::Status AddHostDevices(const std::string& dir, json& devices) {
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (absl::IsNotFound(names.status())) return absl::OkStatus();
  if (!names.ok()) return names.status();
  static constexpr const char* kSkip[] = {"pts",  "shm",         "fd",    "mqueue",
                                          ".lxc", ".lxd-mounts", ".udev", "console"};
  for (const std::string& name : *names) {
    if (std::find(std::begin(kSkip), std::end(kSkip), name) != std::end(kSkip)) continue;
    std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      RETURN_IF_ERROR(AddHostDevices(path, devices));
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      devices.push_back(Device(path, st));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<json> BuildDevices(const ContainerConfig& config, bool privileged, json& rules) {
  json devices = json::array();
  rules = json::array({{{"allow", false}, {"access", "rwm"}}});
  RETURN_IF_ERROR(CriDevices(config, devices, rules));
  if (!privileged) return devices;
  rules = json::array({{{"allow", true}, {"access", "rwm"}}});
  json host = json::array();
  RETURN_IF_ERROR(AddHostDevices("/dev", host));
  for (json& device : host) {
    bool requested = std::any_of(devices.begin(), devices.end(),
                                 [&](const json& d) { return d["path"] == device["path"]; });
    if (!requested) devices.push_back(std::move(device));
  }
  return devices;
}

json PathList(const google::protobuf::RepeatedPtrField<std::string>& requested,
              absl::Span<const char* const> defaults) {
  if (!requested.empty()) return std::vector<std::string>(requested.begin(), requested.end());
  return std::vector<std::string>(defaults.begin(), defaults.end());
}

absl::StatusOr<json> BuildLinux(const ContainerSpecInputs& in, const std::string& propagation) {
  const auto& linux_config = in.config->linux();
  const LinuxContainerSecurityContext& sc = linux_config.security_context();
  ASSIGN_OR_RETURN(json namespaces, BuildNamespaces(in));
  ASSIGN_OR_RETURN(std::string cgroups_path, CgroupsPath(in));
  ASSIGN_OR_RETURN(json resources, BuildResources(linux_config.resources(),
                                                  "config.linux.resources.", in.swap_accounting));
  json rules;
  ASSIGN_OR_RETURN(json devices, BuildDevices(*in.config, sc.privileged(), rules));
  resources["devices"] = rules;
  json linux_spec = {{"namespaces", namespaces},
                     {"cgroupsPath", cgroups_path},
                     {"resources", resources},
                     {"devices", devices}};
  if (!sc.privileged()) {
    linux_spec["maskedPaths"] = PathList(sc.masked_paths(), kDefaultMaskedPaths);
    linux_spec["readonlyPaths"] = PathList(sc.readonly_paths(), kDefaultReadonlyPaths);
  }
  if (!propagation.empty()) linux_spec["rootfsPropagation"] = propagation;
  if (in.sandbox->userns) {
    // runc joins the pinned namespace; it needs the mappings to know the
    // host ids of the container's root (for the ownership of what it makes).
    auto mappings = [](const std::vector<IdMapping>& ids) {
      json list = json::array();
      for (const IdMapping& m : ids) {
        list.push_back(
            {{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.length}});
      }
      return list;
    };
    linux_spec["uidMappings"] = mappings(in.sandbox->userns->uids);
    linux_spec["gidMappings"] = mappings(in.sandbox->userns->gids);
  }
  return linux_spec;
}

json BuildAnnotations(const ContainerSpecInputs& in) {
  json annotations = json::object();
  for (const auto& [key, value] : in.config->annotations()) annotations[key] = value;
  annotations["io.kubernetes.cri.container-type"] = "container";
  annotations["io.kubernetes.cri.container-name"] = in.config->metadata().name();
  annotations["io.kubernetes.cri.sandbox-id"] = in.sandbox->id;
  return annotations;
}

// The container's filter, for the capabilities it ends up with.
absl::StatusOr<std::optional<json>> BuildSeccomp(const ContainerSpecInputs& in,
                                                 const json& process) {
  const LinuxContainerSecurityContext& sc = in.config->linux().security_context();
  ASSIGN_OR_RETURN(SeccompRequest request, SeccompRequestOf(sc));
  if (sc.privileged() || request.kind == SeccompRequest::Kind::kUnconfined) {
    return std::optional<json>();
  }
  if (in.seccomp == nullptr) {
    return Invalid("config.linux.security_context.seccomp", "no seccomp profiles here");
  }
  std::vector<std::string> caps;
  for (const json& cap : process["capabilities"]["bounding"])
    caps.push_back(cap.get<std::string>());
  return in.seccomp->ForContainer(request, caps);
}

absl::Status ValidateInputs(const ContainerSpecInputs& in) {
  if (in.config == nullptr) return Invalid("config", "missing");
  if (in.sandbox == nullptr) return Invalid("sandbox", "missing");
  if (in.container_id.empty() || absl::StrContains(in.container_id, '/')) {
    return Invalid("container_id", Quote(in.container_id) + " is empty or has a '/'");
  }
  if (in.rootfs.empty() || in.rootfs[0] != '/') {
    return Invalid("rootfs", Quote(in.rootfs) + " is not absolute");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<nlohmann::json> BuildContainerSpec(const ContainerSpecInputs& inputs) {
  RETURN_IF_ERROR(ValidateInputs(inputs));
  const ImageConfig no_image;
  const ImageConfig& image = inputs.image != nullptr ? *inputs.image : no_image;
  const LinuxContainerSecurityContext& sc = inputs.config->linux().security_context();
  ASSIGN_OR_RETURN(json process, BuildProcess(inputs, image));
  ASSIGN_OR_RETURN(CriMounts cri, BuildCriMounts(*inputs.config, inputs.idmapped_sources));
  ASSIGN_OR_RETURN(json linux_spec, BuildLinux(inputs, cri.rootfs_propagation));
  json spec = {
      {"ociVersion", kOciVersion},
      {"process", process},
      {"root", {{"path", inputs.rootfs}, {"readonly", sc.readonly_rootfs()}}},
      {"mounts", MergeMounts(DefaultMounts(*inputs.sandbox, sc.privileged(), sc.readonly_rootfs()),
                             cri.mounts)},
      {"linux", linux_spec},
      {"annotations", BuildAnnotations(inputs)},
  };
  if (!inputs.sandbox->uts_ns_path.empty() && !inputs.sandbox->hostname.empty()) {
    spec["hostname"] = inputs.sandbox->hostname;
  }
  ASSIGN_OR_RETURN(std::optional<json> seccomp, BuildSeccomp(inputs, process));
  if (seccomp.has_value()) spec["linux"]["seccomp"] = *std::move(seccomp);
  ASSIGN_OR_RETURN(std::optional<std::string> apparmor,
                   AppArmorProfileFor(sc, inputs.apparmor_host != nullptr ? *inputs.apparmor_host
                                                                          : AppArmorHost()));
  if (apparmor.has_value()) spec["process"]["apparmorProfile"] = *apparmor;
  if (!inputs.selinux.process.empty()) spec["process"]["selinuxLabel"] = inputs.selinux.process;
  if (!inputs.selinux.mount.empty()) spec["linux"]["mountLabel"] = inputs.selinux.mount;
  return spec;
}

absl::Status ValidateUserFields(const LinuxContainerSecurityContext& sc) {
  return ValidateUserFieldsIn(sc);
}

absl::Status ValidateUserFieldsMapped(const LinuxContainerSecurityContext& sc,
                                      const UserNamespaceMappings& userns) {
  RETURN_IF_ERROR(ValidateUserFieldsIn(sc));
  return RequestedIdsMapped(sc, userns);
}

absl::StatusOr<std::vector<std::string>> NormalizeCapabilities(
    const std::vector<std::string>& names, const std::string& field) {
  std::vector<std::string> caps;
  for (size_t i = 0; i < names.size(); ++i) {
    ASSIGN_OR_RETURN(std::string cap, CapabilityName(names[i], absl::StrCat(field, "[", i, "]")));
    if (cap == "ALL")
      return Invalid(absl::StrCat(field, "[", i, "]"), "\"ALL\" is not a capability");
    if (!Contains(caps, cap)) caps.push_back(std::move(cap));
  }
  return caps;
}

}  // namespace ocid
