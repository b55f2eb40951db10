// Needs real root (tagged local + exclusive): pins real namespaces, mounts
// tmpfs and starts ocid-infra. Everything lives under a temp dir that the
// fixture unmounts and removes, pass or fail.
#include "pkg/sandbox/linux_sandbox_host.h"
#include "pkg/sandbox/namespaces.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

// Bazel runs tests in the runfiles root.
std::string Runfile(const std::string& relative) {
  char cwd[4096];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return relative;
  return std::string(cwd) + "/" + relative;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

ino_t Inode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Mount points at or under `dir`, from /proc/self/mountinfo, newest first.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> mounts;
  std::istringstream lines(ReadFile("/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && (fields[4] == dir || fields[4].rfind(dir + "/", 0) == 0)) {
      mounts.push_back(fields[4]);
    }
  }
  std::reverse(mounts.begin(), mounts.end());
  return mounts;
}

// Runs `check` in a forked child that first joins the namespace pinned at
// `pin`; returns the child's exit code (0: the check passed).
template <typename Check>
int InNamespace(const std::string& pin, int type, Check check) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(pin.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, type) != 0) ::_exit(100);
    ::_exit(check() ? 0 : 1);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

constexpr char kPortStartSysctl[] = "/proc/sys/net/ipv4/ip_unprivileged_port_start";

std::string Hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  return ::gethostname(name, sizeof(name) - 1) == 0 ? name : "";
}

bool LoopbackIsUp() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  struct ifreq request = {};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  return fd.valid() && ::ioctl(fd.get(), SIOCGIFFLAGS, &request) == 0 &&
         (request.ifr_flags & IFF_UP) != 0;
}

// Waits up to 2 s for our (subreaper's) child `pid` to exit; its wait status.
int WaitWithTimeout(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    ::usleep(10000);
  }
  return -1;
}

class NamespacesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = ::getenv("TEST_TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/ns-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    request_.pod_id = "pod-1234";
    request_.pin_dir = dir_ + "/ns";
    request_.pinns_binary = Runfile("cmd/ocid/ocid-pinns");
    request_.hostname = "podhost";
    // The infra is orphaned by design (double fork): as a subreaper we get it
    // back and can reap it, whatever this machine's PID 1 does.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }

  void TearDown() override {
    for (pid_t pid : pids_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    UnpinNamespaces(pinned_).IgnoreError();
    for (const std::string& mount : MountsUnder(dir_)) ::umount2(mount.c_str(), MNT_DETACH);
    EXPECT_TRUE(MountsUnder(dir_).empty());
    EXPECT_TRUE(RemoveAll(dir_).ok());
  }

  void Pin() {
    absl::StatusOr<PinnedNamespaces> pinned = PinNamespaces(request_);
    ASSERT_TRUE(pinned.ok()) << pinned.status();
    pinned_ = *pinned;
  }

  std::string dir_;
  PinRequest request_;
  PinnedNamespaces pinned_;
  std::vector<pid_t> pids_;  // started processes to kill in TearDown
};

TEST_F(NamespacesTest, PinsNewNamespacesWithHostnameSysctlsAndLoopback) {
  request_.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "80"}, {"kernel.shmmni", "1000"}};
  Pin();
  EXPECT_EQ(pinned_.net, dir_ + "/ns/net/pod-1234");
  EXPECT_EQ(pinned_.ipc, dir_ + "/ns/ipc/pod-1234");
  EXPECT_EQ(pinned_.uts, dir_ + "/ns/uts/pod-1234");
  for (const auto& [pin, kind] : {std::pair(pinned_.net, "net"), std::pair(pinned_.ipc, "ipc"),
                                  std::pair(pinned_.uts, "uts")}) {
    struct statfs fs;
    ASSERT_EQ(::statfs(pin.c_str(), &fs), 0) << pin;
    EXPECT_EQ(fs.f_type, static_cast<decltype(fs.f_type)>(NSFS_MAGIC)) << pin;
    EXPECT_NE(Inode(pin), Inode(std::string("/proc/self/ns/") + kind)) << pin;
  }
  EXPECT_EQ(InNamespace(pinned_.uts, CLONE_NEWUTS, [] { return Hostname() == "podhost"; }), 0);
  EXPECT_EQ(InNamespace(pinned_.net, CLONE_NEWNET, LoopbackIsUp), 0);
  EXPECT_EQ(
      InNamespace(pinned_.net, CLONE_NEWNET, [] { return ReadFile(kPortStartSysctl) == "80\n"; }),
      0);
  EXPECT_EQ(InNamespace(pinned_.ipc, CLONE_NEWIPC,
                        [] { return ReadFile("/proc/sys/kernel/shmmni") == "1000\n"; }),
            0);
  EXPECT_NE(ReadFile("/proc/sys/kernel/shmmni"), "1000\n");  // the host's is untouched
}

TEST_F(NamespacesTest, PinDirBecomesAPrivateMountPoint) {
  Pin();
  std::istringstream lines(ReadFile("/proc/self/mountinfo"));
  bool found = false;
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 7 || fields[4] != request_.pin_dir) continue;
    found = true;
    EXPECT_EQ(fields[6], "-") << "propagation tags on the pin dir: " << line;
  }
  EXPECT_TRUE(found);
  // A second pod reuses the mount point rather than stacking another.
  PinRequest second = request_;
  second.pod_id = "pod-5678";
  absl::StatusOr<PinnedNamespaces> pinned = PinNamespaces(second);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  std::vector<std::string> mounts = MountsUnder(request_.pin_dir);
  EXPECT_EQ(std::count(mounts.begin(), mounts.end(), request_.pin_dir), 1);
  EXPECT_TRUE(UnpinNamespaces(*pinned).ok());
}

TEST_F(NamespacesTest, UnpinRemovesEverythingAndIsIdempotent) {
  Pin();
  ASSERT_TRUE(UnpinNamespaces(pinned_).ok());
  for (const std::string& pin : {pinned_.net, pinned_.ipc, pinned_.uts}) {
    EXPECT_FALSE(Exists(pin)) << pin;
  }
  EXPECT_EQ(MountsUnder(request_.pin_dir), std::vector<std::string>{request_.pin_dir});
  EXPECT_TRUE(UnpinNamespaces(pinned_).ok());
  EXPECT_TRUE(UnpinNamespaces(PinnedNamespaces{}).ok());
}

// What Recover asks of a pod's pins: a pin is a mount of a namespace, not
// merely a file where one was (the mount gone, as after a reboot).
TEST_F(NamespacesTest, PinnedHoldsOnlyWhileEveryPinIsANamespace) {
  Pin();
  LinuxSandboxHost host(Runfile("cmd/ocid/ocid-infra"));
  EXPECT_TRUE(host.Pinned(pinned_));
  EXPECT_TRUE(host.Pinned(PinnedNamespaces{}));  // host namespaces only
  ASSERT_EQ(::umount2(pinned_.ipc.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  EXPECT_TRUE(Exists(pinned_.ipc)) << "the file stays where the mount was";
  EXPECT_FALSE(host.Pinned(pinned_));
  ASSERT_TRUE(UnpinNamespaces(pinned_).ok());
  EXPECT_FALSE(host.Pinned(pinned_));
}

TEST_F(NamespacesTest, OnlyRequestedNamespacesArePinned) {
  request_.net = false;
  request_.hostname.clear();
  Pin();
  EXPECT_EQ(pinned_.net, "");
  EXPECT_TRUE(Exists(pinned_.ipc));
  EXPECT_FALSE(Exists(request_.pin_dir + "/net/pod-1234"));

  PinRequest none = request_;
  none.pod_id = "host-pod";
  none.ipc = none.uts = false;
  absl::StatusOr<PinnedNamespaces> pinned = PinNamespaces(none);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_TRUE(pinned->net.empty() && pinned->ipc.empty() && pinned->uts.empty());
}

// An idmapped mount's user namespace: any mappings (root need not be
// mapped), held by the fd alone, no pin left.
TEST_F(NamespacesTest, MakeUserNamespaceGivesAnFdWithTheMappingsAndLeavesNoPin) {
  UserNamespaceMappings mappings{{{1000, 1 << 20, 1}, {5, 2 << 20, 10}}, {{1000, 3 << 20, 1}}};
  absl::StatusOr<UniqueFd> userns =
      MakeUserNamespace(request_.pinns_binary, request_.pin_dir, "ctr1-mount0", mappings);
  ASSERT_TRUE(userns.ok()) << userns.status();
  struct statfs fs;
  ASSERT_EQ(::fstatfs(userns->get(), &fs), 0);
  EXPECT_EQ(fs.f_type, static_cast<decltype(fs.f_type)>(NSFS_MAGIC));
  EXPECT_EQ(ioctl(userns->get(), NS_GET_NSTYPE), CLONE_NEWUSER);
  EXPECT_FALSE(Exists(request_.pin_dir + "/user/ctr1-mount0")) << "unpinned at once";
  EXPECT_EQ(MountsUnder(request_.pin_dir), std::vector<std::string>{request_.pin_dir});

  // What a crash between pinning and unpinning leaves, removed by prefix.
  request_.pod_id = "ctr1-mount1";
  request_.net = request_.ipc = request_.uts = false;
  request_.userns = mappings;
  Pin();
  ASSERT_TRUE(Exists(pinned_.user));
  PinRequest other = request_;
  other.pod_id = "ctr2-mount0";
  absl::StatusOr<PinnedNamespaces> kept = PinNamespaces(other);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(RemoveUserNamespacePins(request_.pin_dir, "ctr1-").ok());
  EXPECT_FALSE(Exists(pinned_.user));
  EXPECT_TRUE(Exists(kept->user)) << "another container's pin is not touched";
  EXPECT_TRUE(UnpinNamespaces(*kept).ok());
  EXPECT_TRUE(RemoveUserNamespacePins(request_.pin_dir, "ctr1-").ok()) << "idempotent";
}

TEST_F(NamespacesTest, BadSysctlsLeaveNothingBehind) {
  request_.sysctls = {{"vm.swappiness", "10"}};  // not namespaced
  absl::StatusOr<PinnedNamespaces> pinned = PinNamespaces(request_);
  EXPECT_EQ(pinned.status().code(), absl::StatusCode::kInvalidArgument) << pinned.status();
  EXPECT_NE(pinned.status().message().find("vm.swappiness"), std::string::npos);

  request_.sysctls = {{"net.ipv4.no_such_sysctl", "1"}};  // fails after the unshare
  pinned = PinNamespaces(request_);
  EXPECT_EQ(pinned.status().code(), absl::StatusCode::kInternal) << pinned.status();
  EXPECT_NE(pinned.status().message().find("no_such_sysctl"), std::string::npos);
  for (const char* kind : {"net", "ipc", "uts"}) {
    EXPECT_FALSE(Exists(request_.pin_dir + "/" + kind + "/pod-1234")) << kind;
  }
  EXPECT_EQ(MountsUnder(request_.pin_dir), std::vector<std::string>{request_.pin_dir});
}

TEST_F(NamespacesTest, ExistingPinIsRefusedAndKept) {
  Pin();
  absl::StatusOr<PinnedNamespaces> again = PinNamespaces(request_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_TRUE(Exists(pinned_.net));
}

TEST_F(NamespacesTest, PinnsRollsBackItsPinsWhenALaterOneFails) {
  ASSERT_TRUE(MakeDirs(request_.pin_dir + "/uts", 0755).ok());
  std::string foreign = request_.pin_dir + "/uts/pod-1234";
  ASSERT_TRUE(WriteFileAtomically(foreign, "").ok());
  std::string output = dir_ + "/pinns.out";
  absl::StatusOr<Subprocess> pinns =
      Subprocess::SpawnLogged({request_.pinns_binary, "--dir", request_.pin_dir, "--name",
                               "pod-1234", "--net", "--ipc", "--uts"},
                              output);
  ASSERT_TRUE(pinns.ok()) << pinns.status();
  absl::StatusOr<int> status = pinns->Wait();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
  EXPECT_NE(ReadFile(output).find("File exists"), std::string::npos) << ReadFile(output);
  EXPECT_FALSE(Exists(request_.pin_dir + "/net/pod-1234"));
  EXPECT_FALSE(Exists(request_.pin_dir + "/ipc/pod-1234"));
  EXPECT_TRUE(Exists(foreign));  // not its own: left alone
  EXPECT_EQ(MountsUnder(request_.pin_dir), std::vector<std::string>{request_.pin_dir});
}

TEST_F(NamespacesTest, InfraRunsAsPid1InThePodNamespaces) {
  Pin();
  absl::StatusOr<pid_t> pid = StartInfraProcess(Runfile("cmd/ocid/ocid-infra"), pinned_);
  ASSERT_TRUE(pid.ok()) << pid.status();
  pids_.push_back(*pid);
  EXPECT_EQ(::kill(*pid, 0), 0);
  std::string proc = absl::StrCat("/proc/", *pid);
  EXPECT_NE(Inode(proc + "/ns/pid"), Inode("/proc/self/ns/pid"));
  EXPECT_EQ(Inode(proc + "/ns/net"), Inode(pinned_.net));
  EXPECT_EQ(Inode(proc + "/ns/ipc"), Inode(pinned_.ipc));
  EXPECT_EQ(Inode(proc + "/ns/uts"), Inode(pinned_.uts));
  EXPECT_NE(ReadFile(proc + "/status").find(absl::StrCat("NSpid:\t", *pid, "\t1\n")),
            std::string::npos);

  ASSERT_EQ(::kill(*pid, SIGTERM), 0);
  int status = WaitWithTimeout(*pid);
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  if (status != -1) pids_.clear();
}

// Makes an orphan inside the infra's PID namespace; returns the orphan's host
// pid. The orphan lives 200 ms after being re-parented to the infra.
pid_t MakeOrphanIn(pid_t infra) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  pid_t child = ::fork();
  if (child == 0) {
    int fd = ::open(absl::StrCat("/proc/", infra, "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWPID) != 0) ::_exit(1);
    pid_t parent = ::fork();
    if (parent == 0) {
      if (::fork() == 0) {
        char self[32] = {};  // /proc is the host's: this is our host pid
        if (::readlink("/proc/self", self, sizeof(self) - 1) <= 0) ::_exit(1);
        pid_t host_pid = ::atoi(self);
        if (::write(pipe_fds[1], &host_pid, sizeof(host_pid)) != sizeof(host_pid)) ::_exit(1);
        ::usleep(200000);
      }
      ::_exit(0);  // the orphan's parent exits at once
    }
    ::waitpid(parent, nullptr, 0);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  pid_t orphan = -1;
  if (child < 0 || ::read(pipe_fds[0], &orphan, sizeof(orphan)) != sizeof(orphan)) orphan = -1;
  ::close(pipe_fds[0]);
  ::waitpid(child, nullptr, 0);
  return orphan;
}

TEST_F(NamespacesTest, InfraReapsOrphans) {
  Pin();
  absl::StatusOr<pid_t> pid = StartInfraProcess(Runfile("cmd/ocid/ocid-infra"), pinned_);
  ASSERT_TRUE(pid.ok()) << pid.status();
  pids_.push_back(*pid);
  pid_t orphan = MakeOrphanIn(*pid);
  ASSERT_GT(orphan, 0);
  // Gone from /proc only once reaped: a zombie would stay listed.
  bool reaped = false;
  for (int i = 0; i < 200 && !reaped; ++i) {
    reaped = !Exists(absl::StrCat("/proc/", orphan));
    if (!reaped) ::usleep(10000);
  }
  EXPECT_TRUE(reaped) << ReadFile(absl::StrCat("/proc/", orphan, "/status"));
  EXPECT_EQ(::kill(*pid, 0), 0);  // still running
}

// StopInfra kills the infra its identity names, and nothing when the
// identity is stale (the pid reused by another process, here simulated by a
// wrong start time); a record without a start time is trusted only while the
// pid runs ocid-infra.
TEST_F(NamespacesTest, StopInfraKillsOnlyTheProcessItsIdentityNames) {
  Pin();
  LinuxSandboxHost host(Runfile("cmd/ocid/ocid-infra"));
  absl::StatusOr<ProcessIdentity> infra =
      host.StartInfra(pinned_, "/ocid/pod-test/ocid-infra-test", "");
  ASSERT_TRUE(infra.ok()) << infra.status();
  pids_.push_back(infra->pid);
  EXPECT_GT(infra->start_time, 0u);

  EXPECT_TRUE(host.InfraAlive(*infra));
  EXPECT_FALSE(host.InfraAlive({infra->pid, infra->start_time + 1}));
  host.StopInfra({infra->pid, infra->start_time + 1});
  ::usleep(100000);
  EXPECT_EQ(::kill(infra->pid, 0), 0) << "a stale identity killed the infra";

  pid_t self = ::getpid();
  host.StopInfra({self, 0});  // an old record whose pid is now ours: left alone
  host.StopInfra({infra->pid, 0});
  EXPECT_TRUE(WIFSIGNALED(WaitWithTimeout(infra->pid)));
  EXPECT_FALSE(host.InfraAlive(*infra));
}

// The label reaches the spawn, which writes it for the exec: where SELinux
// is off (this CI host) the kernel refuses it and nothing starts.
TEST_F(NamespacesTest, AnInfraLabelGoesToTheSpawn) {
  if (Exists("/sys/fs/selinux/enforce")) GTEST_SKIP() << "SELinux is on: the policy decides";
  Pin();
  absl::StatusOr<pid_t> pid = StartInfraProcess(Runfile("cmd/ocid/ocid-infra"), pinned_,
                                                "system_u:system_r:container_t:s0:c1,c2");
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.status().message().find("container_t:s0:c1,c2"), std::string::npos) << pid.status();
  EXPECT_NE(pid.status().message().find("/proc/thread-self/attr/exec"), std::string::npos)
      << pid.status();
}

TEST_F(NamespacesTest, InfraStartFailuresAreReported) {
  absl::StatusOr<pid_t> pid = StartInfraProcess(dir_ + "/no-such-infra", {});
  EXPECT_EQ(pid.status().code(), absl::StatusCode::kNotFound) << pid.status();
  EXPECT_NE(pid.status().message().find("no-such-infra"), std::string::npos) << pid.status();

  PinnedNamespaces missing{dir_ + "/no-such-pin", "", ""};
  pid = StartInfraProcess(Runfile("cmd/ocid/ocid-infra"), missing);
  EXPECT_FALSE(pid.ok());
  PinnedNamespaces not_a_namespace{"/dev/null", "", ""};
  pid = StartInfraProcess(Runfile("cmd/ocid/ocid-infra"), not_a_namespace);
  EXPECT_FALSE(pid.ok());
  EXPECT_NE(pid.status().message().find("join namespace"), std::string::npos) << pid.status();
}

TEST_F(NamespacesTest, WritesPodFiles) {
  absl::StatusOr<PodFiles> files =
      WritePodFiles(dir_ + "/files", "podhost", {"10.0.0.10", "fd00::a"},
                    {"ns.svc.cluster.local", "cluster.local"}, {"ndots:5"});
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(ReadFile(files->resolv_conf),
            "nameserver 10.0.0.10\nnameserver fd00::a\n"
            "search ns.svc.cluster.local cluster.local\noptions ndots:5\n");
  EXPECT_EQ(ReadFile(files->hosts),
            "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
            "127.0.1.1 podhost\n");
  EXPECT_EQ(ReadFile(files->hostname), "podhost\n");
  for (const std::string& path : {files->resolv_conf, files->hosts, files->hostname}) {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u) << path;
  }

  files = WritePodFiles(dir_ + "/files", "podhost", {}, {}, {});
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(ReadFile(files->resolv_conf), ReadFile("/etc/resolv.conf"));

  EXPECT_FALSE(
      WritePodFiles(dir_ + "/files", "podhost", {"1.1.1.1\nnameserver 6.6.6.6"}, {}, {}).ok());
  EXPECT_FALSE(WritePodFiles(dir_ + "/files", "pod host", {}, {}, {}).ok());
}

TEST(PodHostnameTest, EmptyRequestGivesTheNodesHostname) {
  char node[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(::gethostname(node, sizeof(node) - 1), 0);
  absl::StatusOr<std::string> hostname = PodHostname("");
  ASSERT_TRUE(hostname.ok()) << hostname.status();
  EXPECT_EQ(*hostname, node);
  EXPECT_FALSE(hostname->empty());
  EXPECT_LE(hostname->size(), kMaxHostnameBytes);
  EXPECT_EQ(kMaxHostnameBytes, static_cast<size_t>(HOST_NAME_MAX));

  hostname = PodHostname("podhost");
  ASSERT_TRUE(hostname.ok());
  EXPECT_EQ(*hostname, "podhost");
}

TEST_F(NamespacesTest, MountsShmWithSizeAndFlags) {
  std::string shm = dir_ + "/shm";
  ASSERT_TRUE(MountShm(shm, 1 << 20).ok());
  struct statfs fs;
  ASSERT_EQ(::statfs(shm.c_str(), &fs), 0);
  EXPECT_EQ(fs.f_type, static_cast<decltype(fs.f_type)>(TMPFS_MAGIC));
  EXPECT_EQ(static_cast<int64_t>(fs.f_blocks) * fs.f_bsize, 1 << 20);
  struct statvfs vfs;
  ASSERT_EQ(::statvfs(shm.c_str(), &vfs), 0);
  EXPECT_EQ(vfs.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC), ST_NOSUID | ST_NODEV | ST_NOEXEC);
  struct stat st;
  ASSERT_EQ(::stat(shm.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);

  ASSERT_TRUE(UnmountShm(shm).ok());
  EXPECT_TRUE(MountsUnder(shm).empty());
  EXPECT_TRUE(UnmountShm(shm).ok());

  ASSERT_TRUE(MountShm(shm, 0).ok());
  ASSERT_EQ(::statfs(shm.c_str(), &fs), 0);
  EXPECT_EQ(static_cast<int64_t>(fs.f_blocks) * fs.f_bsize, 64 << 20);
  EXPECT_TRUE(UnmountShm(shm).ok());
}

}  // namespace
}  // namespace ocid
