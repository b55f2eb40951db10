// ocid-pinns: creates a pod's network, IPC and UTS namespaces and pins them
// with bind mounts so they outlive this process:
//
//   ocid-pinns --dir DIR --name POD_ID [--net] [--ipc] [--uts]
//              [--hostname H] [--sysctl KEY=VALUE]...
//              [--uid-map "CONTAINER HOST LENGTH"... --gid-map "..."...]
//
// makes DIR/<kind>/POD_ID for each kind asked for. With --uid-map and
// --gid-map it first makes a user namespace with those mappings, pinned as
// DIR/user/POD_ID (alone, without --net/--ipc/--uts: an idmapped mount's
// namespace), and the other namespaces are made inside it (owned by it,
// so that root in the pod has its capabilities over them): a child unshares
// the user namespace, this process (root outside) writes its maps, the child
// then unshares the rest and this process pins the child's namespaces. It sets the hostname and
// the sysctls inside the new namespaces and brings up `lo` in the new network
// namespace. On failure it removes what it made, prints one line on stderr and
// exits 1 (2 for bad arguments, before anything was made). Plain libc on
// purpose: it runs once per pod and must start fast.
//
// DIR is made a mount point (a bind mount of itself) with private propagation
// the first time: pins made under it then never propagate into, or get
// pinned by, other mount namespaces that share the parent mount (a copy of a
// pin elsewhere would keep a pod's network namespace alive after unpinning).
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>
#include <vector>

namespace ocid {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string dir;
  std::string name;
  bool net = false;
  bool ipc = false;
  bool uts = false;
  bool has_hostname = false;
  std::string hostname;
  std::vector<std::string> sysctls;  // KEY=VALUE as given
  std::vector<std::string> uid_map;  // "CONTAINER HOST LENGTH" lines
  std::vector<std::string> gid_map;
  bool user() const { return !uid_map.empty(); }
};

struct Sysctl {
  std::string path;  // under /proc/sys
  std::string value;
};

// Each step returns "" on success or the message to print.
std::string ErrnoMessage(const std::string& what) { return what + ": " + strerror(errno); }

std::string ParseArgs(int argc, char** argv, Options* options) {
  enum { kDir = 1, kName, kNet, kIpc, kUts, kHostname, kSysctl, kUidMap, kGidMap };
  static const struct option kLongOptions[] = {
      {"dir", required_argument, nullptr, kDir},
      {"name", required_argument, nullptr, kName},
      {"net", no_argument, nullptr, kNet},
      {"ipc", no_argument, nullptr, kIpc},
      {"uts", no_argument, nullptr, kUts},
      {"hostname", required_argument, nullptr, kHostname},
      {"sysctl", required_argument, nullptr, kSysctl},
      {"uid-map", required_argument, nullptr, kUidMap},
      {"gid-map", required_argument, nullptr, kGidMap},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  int option;
  while ((option = getopt_long(argc, argv, "", kLongOptions, nullptr)) != -1) {
    switch (option) {
      case kDir:
        options->dir = optarg;
        break;
      case kName:
        options->name = optarg;
        break;
      case kNet:
        options->net = true;
        break;
      case kIpc:
        options->ipc = true;
        break;
      case kUts:
        options->uts = true;
        break;
      case kHostname:
        options->has_hostname = true;
        options->hostname = optarg;
        break;
      case kSysctl:
        options->sysctls.push_back(optarg);
        break;
      case kUidMap:
        options->uid_map.push_back(optarg);
        break;
      case kGidMap:
        options->gid_map.push_back(optarg);
        break;
      default:
        return std::string("unknown or incomplete option ") + argv[optind - 1];
    }
  }
  if (optind != argc) return std::string("unexpected argument ") + argv[optind];
  return "";
}

std::string ValidateOptions(const Options& options) {
  if (options.dir.empty() || options.dir[0] != '/') return "--dir must be an absolute path";
  const std::string& name = options.name;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.size() > NAME_MAX) {
    return "--name must be a plain file name";
  }
  if (!options.net && !options.ipc && !options.uts && options.uid_map.empty()) {
    return "no namespace to pin";
  }
  if (options.has_hostname && !options.uts) return "--hostname needs --uts";
  if (options.uid_map.empty() != options.gid_map.empty()) {
    return "--uid-map and --gid-map go together";
  }
  for (const auto* map : {&options.uid_map, &options.gid_map}) {
    for (const std::string& line : *map) {
      unsigned long a, b, c;
      char rest;
      if (sscanf(line.c_str(), "%lu %lu %lu%c", &a, &b, &c, &rest) != 3) {
        return "bad id mapping \"" + line + "\": want CONTAINER HOST LENGTH";
      }
    }
  }
  return "";
}

// "net.ipv4.ip_forward" or "net/ipv4/ip_forward" -> path under /proc/sys. A
// key with '/' keeps its dots (interface names like eth0.100). Only sysctls of
// the namespaces we create are allowed: others would change the host.
std::string ParseSysctl(const std::string& entry, const Options& options, Sysctl* sysctl) {
  size_t equals = entry.find('=');
  if (equals == 0 || equals == std::string::npos) return "bad sysctl " + entry + ": want KEY=VALUE";
  std::string path = entry.substr(0, equals);
  if (path.find('/') == std::string::npos) {
    for (char& c : path) c = c == '.' ? '/' : c;
  }
  if (path.find("//") != std::string::npos || path.back() == '/' || path.front() == '/' ||
      path.find("..") != std::string::npos) {
    return "bad sysctl name " + entry.substr(0, equals);
  }
  bool is_net = path.compare(0, 4, "net/") == 0;
  bool is_ipc = path.compare(0, 10, "kernel/shm") == 0 || path.compare(0, 10, "kernel/msg") == 0 ||
                path == "kernel/sem" || path.compare(0, 10, "fs/mqueue/") == 0;
  if (!(is_net && options.net) && !(is_ipc && options.ipc)) {
    return "sysctl " + entry.substr(0, equals) +
           " is not namespaced by a namespace being created (net.*, kernel.shm*, kernel.msg*, "
           "kernel.sem, fs.mqueue.* with --net/--ipc)";
  }
  sysctl->path = "/proc/sys/" + path;
  sysctl->value = entry.substr(equals + 1);
  return "";
}

std::string MakeDirs(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoMessage("mkdir " + prefix);
    if (slash == std::string::npos) break;
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoMessage("stat " + path);
  if (!S_ISDIR(st.st_mode)) return path + " is not a directory";
  return "";
}

// Makes `dir` a private mount point unless it is a mount point already. A
// lock on the dir keeps two pinns from stacking two bind mounts.
std::string MakePrivateMountPoint(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoMessage("open " + dir);
  std::string error;
  struct statx stx;
  if (flock(fd, LOCK_EX) != 0) {
    error = ErrnoMessage("lock " + dir);
  } else if (statx(AT_FDCWD, dir.c_str(), 0, STATX_BASIC_STATS, &stx) != 0) {
    error = ErrnoMessage("statx " + dir);
  } else if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) == 0) {
    error = "cannot tell whether " + dir + " is a mount point (needs Linux 5.8)";
  } else if ((stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) == 0) {
    if (mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      error = ErrnoMessage("bind mount " + dir + " on itself");
    } else if (mount(nullptr, dir.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
      error = ErrnoMessage("make " + dir + " private");
      umount2(dir.c_str(), MNT_DETACH);
    }
  }
  close(fd);  // drops the lock
  return error;
}

std::string WriteFile(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoMessage("open " + path);
  ssize_t written = write(fd, value.data(), value.size());
  std::string error;
  if (written < 0) error = ErrnoMessage("write " + value + " to " + path);
  if (written >= 0 && static_cast<size_t>(written) != value.size())
    error = "short write to " + path;
  close(fd);
  return error;
}

// Sets IFF_UP on `lo` of the current network namespace.
std::string BringUpLoopback() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoMessage("socket in the new network namespace");
  struct ifreq request;
  memset(&request, 0, sizeof(request));
  strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  std::string error;
  if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
    error = ErrnoMessage("get flags of lo");
  } else {
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) error = ErrnoMessage("bring up lo");
  }
  close(fd);
  return error;
}

std::string EnterNamespaces(const Options& options, const std::vector<Sysctl>& sysctls) {
  int flags = (options.net ? CLONE_NEWNET : 0) | (options.ipc ? CLONE_NEWIPC : 0) |
              (options.uts ? CLONE_NEWUTS : 0);
  if (unshare(flags) != 0) return ErrnoMessage("unshare");
  if (options.has_hostname && sethostname(options.hostname.data(), options.hostname.size()) != 0) {
    return ErrnoMessage("set hostname " + options.hostname);
  }
  for (const Sysctl& sysctl : sysctls) {
    std::string error = WriteFile(sysctl.path, sysctl.value);
    if (!error.empty()) return "sysctl: " + error;
  }
  return options.net ? BringUpLoopback() : "";
}

// Pins /proc/<proc>/ns/<kind> on DIR/<kind>/<name>; records each pin made in
// `made` so the caller can undo them. An existing pin is never touched.
std::string Pin(const Options& options, const std::string& proc, const char* kind,
                std::vector<std::string>* made) {
  std::string path = options.dir + "/" + kind + "/" + options.name;
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return ErrnoMessage("create " + path);
  close(fd);
  std::string source = "/proc/" + proc + "/ns/" + kind;
  if (mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    std::string error = ErrnoMessage("bind mount " + source + " on " + path);
    unlink(path.c_str());
    return error;
  }
  made->push_back(path);
  return "";
}

void Unpin(const std::vector<std::string>& made) {
  for (auto it = made.rbegin(); it != made.rend(); ++it) {
    umount2(it->c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    unlink(it->c_str());
  }
}

std::string PrepareDirs(const Options& options) {
  std::string error = MakeDirs(options.dir);
  if (error.empty()) error = MakePrivateMountPoint(options.dir);
  const char* kinds[] = {"net", "ipc", "uts", "user"};
  const bool wanted[] = {options.net, options.ipc, options.uts, options.user()};
  for (int i = 0; i < 4 && error.empty(); ++i) {
    if (wanted[i]) error = MakeDirs(options.dir + "/" + kinds[i]);
  }
  return error;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// Reads what the other side of `fd` wrote until it closed it (at most 4 KiB).
std::string ReadAll(int fd) {
  std::string text;
  char buffer[512];
  ssize_t got;
  while (text.size() < 4096 && (got = read(fd, buffer, sizeof(buffer))) != 0) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return text;
    text.append(buffer, static_cast<size_t>(got));
  }
  return text;
}

// The child's side: a user namespace, wait for its maps, then the other
// namespaces inside it. Reports "" (closing `report`) or the error, then
// waits to be pinned and killed, holding its namespaces meanwhile.
[[noreturn]] void UserNamespaceChild(const Options& options, const std::vector<Sysctl>& sysctls,
                                     int report, int go) {
  std::string error;
  char byte = 0;
  if (unshare(CLONE_NEWUSER) != 0) {
    error = ErrnoMessage("unshare a user namespace");
  } else if (write(report, "u", 1) != 1 || read(go, &byte, 1) != 1 || byte != 'm') {
    error = "the parent did not map the user namespace";
  } else if (!options.net && !options.ipc && !options.uts) {
    // A user namespace alone: nothing to make inside, and its mappings
    // need not map root.
  } else if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
    error = ErrnoMessage("become root of the new user namespace");
  } else {
    error = EnterNamespaces(options, sysctls);
  }
  if (!error.empty() && write(report, error.data(), error.size()) < 0) _exit(kExitFailure);
  close(report);
  while (read(go, &byte, 1) < 0 && errno == EINTR) {
  }
  _exit(error.empty() ? 0 : kExitFailure);
}

// With a user namespace: forks the child above, maps its user namespace and
// pins its namespaces. The child is killed and reaped before this returns.
std::string MakeInUserNamespace(const Options& options, const std::vector<Sysctl>& sysctls,
                                std::vector<std::string>* made) {
  int report[2], go[2];
  if (pipe2(report, O_CLOEXEC) != 0) return ErrnoMessage("pipe");
  if (pipe2(go, O_CLOEXEC) != 0) {
    close(report[0]);
    close(report[1]);
    return ErrnoMessage("pipe");
  }
  pid_t child = fork();
  if (child == 0) {
    close(report[0]);
    close(go[1]);
    UserNamespaceChild(options, sysctls, report[1], go[0]);
  }
  close(report[1]);
  close(go[0]);
  std::string error;
  char byte = 0;
  std::string proc = std::to_string(child);
  if (child < 0) {
    error = ErrnoMessage("fork");
  } else if (read(report[0], &byte, 1) != 1 || byte != 'u') {
    error = "the child could not make a user namespace: " + ReadAll(report[0]);
  } else {
    // The map of a namespace we did not make is ours to write as its
    // parent's root; setgroups stays allowed, so runc can set the groups.
    error = WriteFile("/proc/" + proc + "/uid_map", Join(options.uid_map));
    if (error.empty()) error = WriteFile("/proc/" + proc + "/gid_map", Join(options.gid_map));
    if (!error.empty()) error = "map the user namespace: " + error;
    if (error.empty() && write(go[1], "m", 1) != 1) error = ErrnoMessage("signal the child");
    if (error.empty()) error = ReadAll(report[0]);
  }
  // The user namespace first: Unpin drops it last.
  const char* kinds[] = {"user", "net", "ipc", "uts"};
  const bool wanted[] = {true, options.net, options.ipc, options.uts};
  for (int i = 0; i < 4 && error.empty(); ++i) {
    if (wanted[i]) error = Pin(options, proc, kinds[i], made);
  }
  close(go[1]);  // the child exits on EOF
  close(report[0]);
  if (child > 0) {
    kill(child, SIGKILL);
    while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  return error;
}

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "ocid-pinns: %s\n", message.c_str());
  return code;
}

int Run(int argc, char** argv) {
  Options options;
  std::string error = ParseArgs(argc, argv, &options);
  if (error.empty()) error = ValidateOptions(options);
  std::vector<Sysctl> sysctls(options.sysctls.size());
  for (size_t i = 0; i < sysctls.size() && error.empty(); ++i) {
    error = ParseSysctl(options.sysctls[i], options, &sysctls[i]);
  }
  if (!error.empty()) return Fail(error, kExitUsage);

  error = PrepareDirs(options);
  std::vector<std::string> made;
  if (error.empty() && options.user()) {
    error = MakeInUserNamespace(options, sysctls, &made);
  } else {
    if (error.empty()) error = EnterNamespaces(options, sysctls);
    if (error.empty() && options.net) error = Pin(options, "self", "net", &made);
    if (error.empty() && options.ipc) error = Pin(options, "self", "ipc", &made);
    if (error.empty() && options.uts) error = Pin(options, "self", "uts", &made);
  }
  if (error.empty()) return 0;
  Unpin(made);
  return Fail(error, kExitFailure);
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
