#include "pkg/sandbox/namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
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
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "pkg/base/child_process.h"
#include "pkg/base/child_reaper.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

constexpr int kPinnsUsageExit = 2;  // ocid-pinns: bad arguments, nothing made
constexpr size_t kMaxPinnsOutput = 4096;
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

PinnedNamespaces PinPaths(const PinRequest& request) {
  auto path = [&](bool wanted, const char* kind) {
    return wanted ? absl::StrCat(request.pin_dir, "/", kind, "/", request.pod_id) : "";
  };
  return PinnedNamespaces{path(request.net, "net"), path(request.ipc, "ipc"),
                          path(request.uts, "uts")};
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
  return argv;
}

// What the helper wrote, from the memfd its stdout and stderr went to.
std::string ReadOutput(int fd) {
  std::string output(kMaxPinnsOutput, '\0');
  ssize_t n = ::pread(fd, output.data(), output.size(), 0);
  output.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return std::string(absl::StripAsciiWhitespace(output));
}

// Runs ocid-pinns; its one-line message becomes the error.
absl::Status RunPinns(const PinRequest& request) {
  UniqueFd output(::memfd_create("ocid-pinns-output", MFD_CLOEXEC));
  if (!output.valid()) return absl::ErrnoToStatus(errno, "memfd_create for ocid-pinns output");
  // The spawned child opens this path before it execs, while it still holds
  // a copy of our (close-on-exec) fd table.
  std::string output_path = absl::StrCat("/proc/self/fd/", output.get());
  ASSIGN_OR_RETURN(ChildProcess pinns, ChildProcess::Spawn(PinnsArgv(request), output_path));
  ASSIGN_OR_RETURN(int wait_status, pinns.Wait());
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return absl::OkStatus();

  std::string message =
      absl::StrCat("pin namespaces of pod ", request.pod_id, ": ", ReadOutput(output.get()));
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

// StartInfraProcess forks twice: the middle child joins the pod's namespaces
// and unshares a PID namespace, so its child (the infra) is PID 1 there. ocid
// is multithreaded: between fork and exec the children only make
// async-signal-safe calls on data prepared before the fork.
struct InfraLaunch {
  const char* binary = nullptr;
  std::vector<std::pair<int, int>> namespaces;  // fd of a pin, CLONE_NEW* type
  int null_fd = -1;
  int report_fd = -1;  // write end of the pipe to the parent
  // Blocked across the exec: a signal that PID 1 of a namespace gets before
  // it has a handler would be dropped, so a SIGTERM sent right after we
  // return stays pending until ocid-infra takes it.
  sigset_t infra_signals;
};

// One message from a child: the infra's pid, or the step that failed + errno.
enum InfraStep : int32_t { kInfraPid = 0, kSetns, kUnshare, kFork, kDetach, kExec };
struct InfraReport {
  int32_t step;
  int32_t value;
};

[[noreturn]] void ReportAndExit(int fd, InfraStep step, int32_t value) {
  InfraReport report = {step, value};
  ssize_t ignored = ::write(fd, &report, sizeof(report));  // atomic: < PIPE_BUF
  (void)ignored;
  ::_exit(step == kInfraPid ? 0 : 1);
}

[[noreturn]] void RunInfraGrandchild(const InfraLaunch& launch) {
  // Its own session, so ocid's terminal and process group signals miss it;
  // "/" as cwd, so it pins no mount.
  if (::setsid() < 0 || ::chdir("/") != 0) ReportAndExit(launch.report_fd, kDetach, errno);
  for (int fd = 0; fd < 3; ++fd) {
    if (::dup2(launch.null_fd, fd) < 0) ReportAndExit(launch.report_fd, kDetach, errno);
  }
  char* const argv[] = {const_cast<char*>(launch.binary), nullptr};
  char* const envp[] = {nullptr};
  ::execve(launch.binary, argv, envp);
  ReportAndExit(launch.report_fd, kExec, errno);
}

[[noreturn]] void RunInfraMiddleChild(const InfraLaunch& launch) {
  for (const auto& [fd, type] : launch.namespaces) {
    if (::setns(fd, type) != 0) ReportAndExit(launch.report_fd, kSetns, errno);
  }
  if (::unshare(CLONE_NEWPID) != 0) ReportAndExit(launch.report_fd, kUnshare, errno);
  ::sigprocmask(SIG_BLOCK, &launch.infra_signals, nullptr);
  pid_t pid = ::_Fork();  // unlike fork(), async-signal-safe
  if (pid < 0) ReportAndExit(launch.report_fd, kFork, errno);
  if (pid == 0) RunInfraGrandchild(launch);
  ReportAndExit(launch.report_fd, kInfraPid, pid);  // pid in our (the host's) namespace
}

// Reads the children's reports until both have closed the pipe (the infra's
// end closes on its exec).
absl::StatusOr<pid_t> ReadInfraReports(int fd, const std::string& binary) {
  static const char* const kSteps[] = {"",     "join namespace", "unshare pid namespace",
                                       "fork", "detach",         "exec"};
  pid_t pid = -1;
  InfraReport report;
  while (true) {
    ssize_t n = ::read(fd, &report, sizeof(report));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read infra start reports");
    if (n == 0) break;
    if (n != sizeof(report) || report.step < kInfraPid || report.step > kExec) {
      return absl::InternalError("garbled infra start report");
    }
    if (report.step != kInfraPid) {
      return absl::ErrnoToStatus(report.value,
                                 absl::StrCat("start ", binary, ": ", kSteps[report.step]));
    }
    pid = report.value;
  }
  if (pid <= 0) return absl::InternalError("start " + binary + ": its launcher died");
  return pid;
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

absl::StatusOr<PinnedNamespaces> PinNamespaces(const PinRequest& request) {
  RETURN_IF_ERROR(ValidatePinRequest(request));
  PinnedNamespaces pinned = PinPaths(request);
  if (!request.net && !request.ipc && !request.uts) return pinned;  // all host namespaces
  // A pin already there is someone else's (a pod not yet unpinned): refuse
  // here, so that no cleanup of ours can touch it.
  for (const std::string* path : {&pinned.net, &pinned.ipc, &pinned.uts}) {
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
  for (const std::string* path : {&pinned.uts, &pinned.ipc, &pinned.net}) {
    status.Update(RemovePin(*path));
  }
  return status;
}

absl::StatusOr<pid_t> StartInfraProcess(const std::string& infra_binary,
                                        const PinnedNamespaces& pinned,
                                        const std::string& cgroup_parent) {
  // cgroup_parent is not used yet: the infra stays in ocid's cgroups.
  if (infra_binary.empty() || infra_binary[0] != '/') {
    return absl::InvalidArgumentError("infra binary must be an absolute path: " + infra_binary);
  }
  std::vector<UniqueFd> fds;
  InfraLaunch launch;
  launch.binary = infra_binary.c_str();
  sigemptyset(&launch.infra_signals);
  for (int signal : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&launch.infra_signals, signal);
  for (const auto& [path, type] :
       {std::pair(&pinned.net, CLONE_NEWNET), std::pair(&pinned.ipc, CLONE_NEWIPC),
        std::pair(&pinned.uts, CLONE_NEWUTS)}) {
    if (path->empty()) continue;
    fds.emplace_back(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
    if (!fds.back().valid()) return absl::ErrnoToStatus(errno, "open namespace pin " + *path);
    launch.namespaces.emplace_back(fds.back().get(), type);
  }
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd.valid()) return absl::ErrnoToStatus(errno, "open /dev/null");
  launch.null_fd = null_fd.get();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  launch.report_fd = write_end.get();

  // Registered: the orphan reaper leaves the middle child to our wait (the
  // infra it forks is reparented to ocid, and reaped by the reaper).
  int fork_errno = 0;
  pid_t middle = SpawnOwnedChild([&] {
    pid_t pid = ::fork();
    if (pid == 0) RunInfraMiddleChild(launch);  // does not return
    fork_errno = errno;
    return pid;
  });
  if (middle < 0) return absl::ErrnoToStatus(fork_errno, "fork to start " + infra_binary);
  write_end.Reset();
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
  ReleaseOwnedChild(middle);
  return ReadInfraReports(read_end.get(), infra_binary);
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
  RETURN_IF_ERROR(WriteFileAtomically(files.resolv_conf, resolv_conf, 0644, /*durable=*/false));
  RETURN_IF_ERROR(WriteFileAtomically(files.hosts, hosts, 0644, /*durable=*/false));
  RETURN_IF_ERROR(WriteFileAtomically(files.hostname, hostname + "\n", 0644, /*durable=*/false));
  return files;
}

absl::Status MountShm(const std::string& path, int64_t size_bytes) {
  if (size_bytes < 0) return absl::InvalidArgumentError("negative /dev/shm size");
  if (size_bytes == 0) size_bytes = kDefaultShmBytes;
  RETURN_IF_ERROR(MakeDirs(path, 0755));
  std::string options = absl::StrCat("mode=1777,size=", size_bytes);
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
