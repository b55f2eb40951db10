#include "pkg/sandbox/namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

constexpr int kPinnsUsageExit = 2;  // ocid-pinns: bad arguments, nothing made
constexpr size_t kMaxPinnsOutput = 4096;
// ocid-pinns and ocid-infra's launcher do a few syscalls and exit.
constexpr absl::Duration kHelperTimeout = absl::Seconds(30);
constexpr int64_t kDefaultShmBytes = 64 << 20;

absl::Status ValidatePinRequest(const PinRequest& request) {
  const std::string& id = request.pod_id;
  if (id.empty() || id == "." || id == ".." || absl::StrContains(id, '/')) {
    return absl::InvalidArgumentError(absl::StrCat("bad pod id \"", id, "\""));
  }
  if (request.pin_dir.empty() || request.pin_dir[0] != '/') {
    return absl::InvalidArgumentError("pin dir must be an absolute path: " + request.pin_dir);
  }
  return absl::OkStatus();
}

std::vector<std::string> PinnsArgv(const PinRequest& request) {
  std::vector<std::string> argv = {request.pinns_binary, "--dir", request.pin_dir, "--name",
                                   request.pod_id};
  if (request.net) argv.push_back("--net");
  if (request.ipc) argv.push_back("--ipc");
  if (request.uts) argv.push_back("--uts");
  if (request.uts && !request.hostname.empty()) {
    argv.insert(argv.end(), {"--hostname", request.hostname});
  }
  for (const auto& [key, value] : request.sysctls) {
    argv.insert(argv.end(), {"--sysctl", absl::StrCat(key, "=", value)});
  }
  if (request.userns) {
    for (const IdMapping& m : request.userns->uids) {
      argv.insert(argv.end(),
                  {"--uid-map", absl::StrCat(m.container_id, " ", m.host_id, " ", m.length)});
    }
    for (const IdMapping& m : request.userns->gids) {
      argv.insert(argv.end(),
                  {"--gid-map", absl::StrCat(m.container_id, " ", m.host_id, " ", m.length)});
    }
  }
  return argv;
}

// Runs ocid-pinns; its one-line message becomes the error.
absl::Status RunPinns(const PinRequest& request) {
  Subprocess::Options options;
  options.argv = PinnsArgv(request);
  options.stdout_io = Stdio::Capture();
  options.stderr_io = Stdio::Capture();
  options.max_capture = kMaxPinnsOutput;
  ASSIGN_OR_RETURN(Subprocess pinns, Subprocess::Spawn(std::move(options)));
  ASSIGN_OR_RETURN(int wait_status, pinns.Wait(kHelperTimeout));
  if (ExitedZero(wait_status)) return absl::OkStatus();

  std::string message =
      absl::StrCat("pin namespaces of pod ", request.pod_id, ": ",
                   absl::StripAsciiWhitespace(absl::StrCat(pinns.Stdout(), pinns.Stderr())));
  if (WIFSIGNALED(wait_status)) {
    // It could not clean up after itself.
    UnpinNamespaces(PinPaths(request)).IgnoreError();
    return absl::InternalError(
        absl::StrCat(message, " (ocid-pinns killed by signal ", WTERMSIG(wait_status), ")"));
  }
  if (WEXITSTATUS(wait_status) == kPinnsUsageExit) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

// Unmounts every mount stacked on `path` (normally one), then unlinks it.
absl::Status RemovePin(const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  for (int mounts = 0; ::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0; ++mounts) {
    if (mounts == 16) return absl::InternalError("too many mounts on pin " + path);
  }
  if (errno != EINVAL && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "unmount pin " + path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "remove pin " + path);
  }
  return absl::OkStatus();
}

// A DNS or host name entry goes on a line of its own: no whitespace inside.
absl::Status CheckToken(const std::string& what, const std::string& token) {
  for (char c : token) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '\0') {
      return absl::InvalidArgumentError(absl::StrCat("bad ", what, " \"", token, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResolvConf(const std::vector<std::string>& servers,
                                       const std::vector<std::string>& searches,
                                       const std::vector<std::string>& options) {
  if (servers.empty() && searches.empty() && options.empty()) {
    absl::StatusOr<std::string> host = ReadFileToString("/etc/resolv.conf", 1 << 20);
    if (!host.ok() && absl::IsNotFound(host.status())) return std::string();
    return host;
  }
  std::string conf;
  for (const std::string& server : servers) {
    RETURN_IF_ERROR(CheckToken("DNS server", server));
    absl::StrAppend(&conf, "nameserver ", server, "\n");
  }
  for (const std::string& search : searches) RETURN_IF_ERROR(CheckToken("DNS search", search));
  for (const std::string& option : options) RETURN_IF_ERROR(CheckToken("DNS option", option));
  if (!searches.empty()) absl::StrAppend(&conf, "search ", absl::StrJoin(searches, " "), "\n");
  if (!options.empty()) absl::StrAppend(&conf, "options ", absl::StrJoin(options, " "), "\n");
  return conf;
}

}  // namespace

PinnedNamespaces PinPaths(const PinRequest& request) {
  auto path = [&](bool wanted, const char* kind) {
    return wanted ? absl::StrCat(request.pin_dir, "/", kind, "/", request.pod_id) : "";
  };
  return PinnedNamespaces{path(request.net, "net"), path(request.ipc, "ipc"),
                          path(request.uts, "uts"), path(request.userns.has_value(), "user")};
}

absl::StatusOr<PinnedNamespaces> PinNamespaces(const PinRequest& request) {
  RETURN_IF_ERROR(ValidatePinRequest(request));
  PinnedNamespaces pinned = PinPaths(request);
  const bool any_other = request.net || request.ipc || request.uts;
  if (request.userns && any_other && !(request.net && request.ipc && request.uts)) {
    return absl::InvalidArgumentError(
        "a pod user namespace needs the pod's own network, IPC and UTS namespaces");
  }
  if (!request.userns && !any_other) return pinned;  // all host namespaces
  // A pin already there is someone else's (a pod not yet unpinned): refuse
  // here, so that no cleanup of ours can touch it.
  for (const std::string* path : {&pinned.net, &pinned.ipc, &pinned.uts, &pinned.user}) {
    struct stat st;
    if (!path->empty() && ::lstat(path->c_str(), &st) == 0) {
      return absl::AlreadyExistsError("namespace pin exists: " + *path);
    }
  }
  RETURN_IF_ERROR(RunPinns(request));
  return pinned;
}

absl::Status UnpinNamespaces(const PinnedNamespaces& pinned) {
  absl::Status status;
  // The user namespace last: it owns the others.
  for (const std::string* path : {&pinned.uts, &pinned.ipc, &pinned.net, &pinned.user}) {
    status.Update(RemovePin(*path));
  }
  return status;
}

absl::StatusOr<UniqueFd> MakeUserNamespace(const std::string& pinns_binary,
                                           const std::string& pin_dir, const std::string& name,
                                           const UserNamespaceMappings& mappings) {
  PinRequest request;
  request.pod_id = name;
  request.pin_dir = pin_dir;
  request.pinns_binary = pinns_binary;
  request.net = request.ipc = request.uts = false;
  request.userns = mappings;
  ASSIGN_OR_RETURN(PinnedNamespaces pinned, PinNamespaces(request));
  UniqueFd userns(::open(pinned.user.c_str(), O_RDONLY | O_CLOEXEC));
  absl::Status opened =
      userns.valid() ? absl::OkStatus() : absl::ErrnoToStatus(errno, "open " + pinned.user);
  RETURN_IF_ERROR(UnpinNamespaces(pinned));
  RETURN_IF_ERROR(opened);
  return userns;
}

absl::Status RemoveUserNamespacePins(const std::string& pin_dir, const std::string& prefix) {
  const std::string dir = pin_dir + "/user";
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (!names.ok()) return absl::IsNotFound(names.status()) ? absl::OkStatus() : names.status();
  absl::Status status;
  for (const std::string& name : *names) {
    if (absl::StartsWith(name, prefix)) status.Update(RemovePin(absl::StrCat(dir, "/", name)));
  }
  return status;
}

absl::StatusOr<pid_t> StartInfraProcess(const std::string& infra_binary,
                                        const PinnedNamespaces& pinned,
                                        const std::string& exec_label) {
  // ocid-infra joins the pins, unshares a PID namespace and forks the infra
  // (PID 1 there), then exits: the infra is reparented to us, a subreaper,
  // and the orphan reaper reaps it once it is killed.
  Subprocess::Options options;
  options.argv = {infra_binary};
  // The user namespace first: it owns the others.
  for (const auto& [flag, path] :
       {std::pair("--user", &pinned.user), std::pair("--net", &pinned.net),
        std::pair("--ipc", &pinned.ipc), std::pair("--uts", &pinned.uts)}) {
    if (!path->empty()) options.argv.insert(options.argv.end(), {flag, *path});
  }
  options.stdout_io = Stdio::Capture();
  options.stderr_io = Stdio::Capture();
  options.max_capture = kMaxPinnsOutput;
  options.exec_label = exec_label;
  ASSIGN_OR_RETURN(Subprocess launcher, Subprocess::Spawn(std::move(options)));
  ASSIGN_OR_RETURN(int wait_status, launcher.Wait(kHelperTimeout));
  std::string output(absl::StripAsciiWhitespace(launcher.Stdout()));
  int pid = 0;
  if (!ExitedZero(wait_status) || !absl::SimpleAtoi(output, &pid) || pid <= 0) {
    std::string why(absl::StripAsciiWhitespace(launcher.Stderr()));
    if (why.empty()) why = DescribeWaitStatus(wait_status);
    return absl::InternalError(absl::StrCat("start ", infra_binary, ": ", why));
  }
  return pid;
}

absl::StatusOr<std::string> PodHostname(const std::string& requested) {
  if (!requested.empty()) return requested;
  struct utsname node;
  if (::uname(&node) != 0) return absl::ErrnoToStatus(errno, "uname");
  return std::string(node.nodename);
}

absl::StatusOr<PodFiles> WritePodFiles(const std::string& dir, const std::string& hostname,
                                       const std::vector<std::string>& dns_servers,
                                       const std::vector<std::string>& dns_searches,
                                       const std::vector<std::string>& dns_options) {
  RETURN_IF_ERROR(CheckToken("hostname", hostname));
  ASSIGN_OR_RETURN(std::string resolv_conf, ResolvConf(dns_servers, dns_searches, dns_options));
  std::string hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n";
  // The pod's IP is not known yet (CNI runs later): Debian's convention.
  if (!hostname.empty()) absl::StrAppend(&hosts, "127.0.1.1 ", hostname, "\n");

  RETURN_IF_ERROR(MakeDirs(dir, 0755));
  PodFiles files{dir + "/resolv.conf", dir + "/hosts", dir + "/hostname"};
  RETURN_IF_ERROR(WriteFileAtomically(files.resolv_conf, resolv_conf, 0644, Durability::kVolatile));
  RETURN_IF_ERROR(WriteFileAtomically(files.hosts, hosts, 0644, Durability::kVolatile));
  RETURN_IF_ERROR(WriteFileAtomically(files.hostname, hostname + "\n",
                                      0644, Durability::kVolatile));
  return files;
}

absl::Status MountShm(const std::string& path, int64_t size_bytes, const std::string& mount_label) {
  if (size_bytes < 0) return absl::InvalidArgumentError("negative /dev/shm size");
  if (size_bytes == 0) size_bytes = kDefaultShmBytes;
  RETURN_IF_ERROR(MakeDirs(path, 0755));
  std::string options = absl::StrCat("mode=1777,size=", size_bytes);
  if (!mount_label.empty()) absl::StrAppend(&options, ",context=\"", mount_label, "\"");
  if (::mount("shm", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str()) !=
      0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mount tmpfs (", options, ") on ", path));
  }
  return absl::OkStatus();
}

absl::Status UnmountShm(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL &&
      errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "unmount " + path);
  }
  return absl::OkStatus();
}

}  // namespace ocid
