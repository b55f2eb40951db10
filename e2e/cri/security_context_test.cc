// critest's "Security Context" specs (cri-tools pkg/validate/
// security_context_linux.go, v1.29): namespace options, users and groups,
// read-only rootfs, privileged, capabilities, masked and read-only paths,
// seccomp profiles and no_new_privs, each asserting what the upstream spec
// asserts through the CRI API and the container's own view of itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

// critest's defaultExecSyncTimeout, in seconds.
constexpr int64_t kExecSyncTimeout = 30;
// critest's pauseCmd on Linux.
const std::vector<std::string> kPauseCmd = {"sh", "-c", "top"};

constexpr char kTestImagePredefinedGroup[] =
    "gcr.io/k8s-staging-cri-tools/test-image-predefined-group";
constexpr int64_t kImagePredefinedGroupUid = 1000;
constexpr int64_t kImagePredefinedGroupGid = 50000;

// seccomp profiles of the SeccompProfilePath specs: everything allowed but
// sethostname, or but chmod.
constexpr char kBlockHostNameProfile[] = R"({
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]
})";
constexpr char kBlockChmodProfile[] = R"({
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"}]
})";
const std::vector<std::string> kSeccompStatusCmd = {"grep", "Seccomp:", "/proc/self/status"};

// What critest's ExecSync client reports as an error: the call failing, or
// the command exiting non-zero.
bool ExecFailed(const absl::StatusOr<ExecResult>& result) {
  return !result.ok() || result->exit_code != 0;
}

std::string Describe(const std::vector<std::string>& cmd, const absl::StatusOr<ExecResult>& r) {
  if (!r.ok()) return absl::StrCat("cmd [", absl::StrJoin(cmd, " "), "]: ", r.status().ToString());
  return absl::StrCat("cmd [", absl::StrJoin(cmd, " "), "] exit ", r->exit_code, ", stdout \"",
                      r->stdout_text, "\", stderr \"", r->stderr_text, "\"");
}

// A SysV shared memory segment of the host's IPC namespace, made as
// `ipcmk -M SIZE` makes one (a random key, mode 0644), removed when this goes.
class HostShmSegment {
 public:
  static absl::StatusOr<HostShmSegment> Create(size_t size) {
    std::random_device random_key;
    for (int attempt = 0; attempt < 16; ++attempt) {
      key_t key = static_cast<key_t>(random_key() & 0x7fffffff);
      if (key == IPC_PRIVATE) continue;
      int id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0644);
      if (id >= 0) return HostShmSegment(id);
      if (errno != EEXIST) return absl::ErrnoToStatus(errno, "shmget");
    }
    return absl::AlreadyExistsError("shmget: no free key after 16 tries");
  }
  HostShmSegment(HostShmSegment&& other) noexcept : id_(other.id_) { other.id_ = -1; }
  HostShmSegment& operator=(HostShmSegment&&) = delete;
  ~HostShmSegment() {
    if (id_ >= 0) shmctl(id_, IPC_RMID, nullptr);
  }
  int id() const { return id_; }

 private:
  explicit HostShmSegment(int id) : id_(id) {}
  int id_;
};

// A TCP socket listening on a free loopback port of the host's network
// namespace (nothing connects to it: the spec only looks for it in netstat).
class HostListener {
 public:
  static absl::StatusOr<HostListener> Create() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
    HostListener listener(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::ErrnoToStatus(errno, "bind 127.0.0.1:0");
    }
    if (listen(fd, 8) != 0) return absl::ErrnoToStatus(errno, "listen");
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return absl::ErrnoToStatus(errno, "getsockname");
    }
    listener.port_ = ntohs(addr.sin_port);
    return listener;
  }
  HostListener(HostListener&& other) noexcept : fd_(other.fd_), port_(other.port_) {
    other.fd_ = -1;
  }
  HostListener& operator=(HostListener&&) = delete;
  ~HostListener() {
    if (fd_ >= 0) close(fd_);
  }
  int port() const { return port_; }

 private:
  explicit HostListener(int fd) : fd_(fd) {}
  int fd_;
  int port_ = 0;
};

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

class SecurityContext : public CriTest {
 protected:
  // critest's execSyncContainer: the command must succeed with nothing on
  // stderr; returns its stdout.
  void ExecSyncOk(const std::string& container_id, const std::vector<std::string>& cmd,
                  std::string* stdout_text) {
    absl::StatusOr<ExecResult> result = ExecSync(container_id, cmd, kExecSyncTimeout);
    ASSERT_FALSE(ExecFailed(result)) << Describe(cmd, result);
    EXPECT_EQ(result->stderr_text, "") << "The stderr should be empty. " << Describe(cmd, result);
    *stdout_text = result->stdout_text;
  }

  // A pod log dir under the suite's log root, named after the pod (critest's
  // createLogTempDir).
  absl::StatusOr<std::string> MakeLogDir(const std::string& pod_name) {
    std::string dir = absl::StrCat(Info().pod_log_root, "/", pod_name);
    if (mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, "mkdir " + dir);
    }
    return dir;
  }

  // createPodSandboxWithLogDirectory.
  absl::StatusOr<Pod> RunPodWithLogDirectory() {
    v1::PodSandboxConfig config = DefaultPodConfig("PodSandbox-with-log-directory-");
    absl::StatusOr<std::string> dir = MakeLogDir(config.metadata().name());
    if (!dir.ok()) return dir.status();
    config.set_log_directory(*dir);
    return RunPod(config);
  }

  // createNamespacePodSandbox.
  absl::StatusOr<Pod> RunNamespacePod(const v1::NamespaceOption& options,
                                      bool with_log_dir = false) {
    v1::PodSandboxConfig config = DefaultPodConfig("NamespaceOption-PodSandbox-");
    *config.mutable_linux()->mutable_security_context()->mutable_namespace_options() = options;
    if (with_log_dir) {
      absl::StatusOr<std::string> dir = MakeLogDir(config.metadata().name());
      if (!dir.ok()) return dir.status();
      config.set_log_directory(*dir);
    }
    return RunPod(config);
  }

  // createNamespaceContainer: the container repeats the pod's options.
  absl::StatusOr<std::string> CreateNamespaceContainer(const Pod& pod, const std::string& prefix,
                                                       const std::string& image,
                                                       const v1::NamespaceOption& options,
                                                       const std::vector<std::string>& command,
                                                       const std::string& log_path = "") {
    v1::ContainerConfig config = DefaultContainerConfig(prefix);
    config.mutable_image()->set_image(image);
    config.clear_command();
    for (const std::string& arg : command) config.add_command(arg);
    *config.mutable_linux()->mutable_security_context()->mutable_namespace_options() = options;
    config.set_log_path(log_path);
    return CreateContainer(pod, config);
  }

  // A default-image container running `command` with `security_context`.
  v1::ContainerConfig ContainerWith(const std::string& prefix,
                                    const std::vector<std::string>& command,
                                    const v1::LinuxContainerSecurityContext& security_context) {
    v1::ContainerConfig config = DefaultContainerConfig(prefix);
    config.mutable_image()->set_image(kDefaultImage);
    config.clear_command();
    for (const std::string& arg : command) config.add_command(arg);
    *config.mutable_linux()->mutable_security_context() = security_context;
    return config;
  }

  // Starts the container and waits until it is in `state`.
  void StartAndWait(const std::string& container_id, v1::ContainerState state) {
    OCID_ASSERT_OK(StartContainer(container_id));
    OCID_ASSERT_OK(WaitForContainerState(container_id, state));
  }

  // critest's verifyLogContents: some line of the log is `expected` (with
  // its newline) on `stream`.
  void ExpectLogLine(const Pod& pod, const std::string& log_path, const std::string& expected,
                     const std::string& stream) {
    OCID_ASSERT_OK_AND_ASSIGN(
        std::vector<LogLine> lines,
        ReadContainerLog(absl::StrCat(pod.config.log_directory(), "/", log_path)));
    std::vector<std::string> seen;
    bool found = false;
    for (const LogLine& line : lines) {
      if (line.stream == stream && line.message + "\n" == expected) found = true;
      seen.push_back(absl::StrCat(line.stream, ": ", line.message));
    }
    EXPECT_TRUE(found) << "expected log \"" << expected << "\" (stream=" << stream
                       << ") not found in [" << absl::StrJoin(seen, " | ") << "]";
  }

  // The HostIpc specs: a segment made on the host is seen (NODE) or not
  // (POD) by `ipcs -m` in the container.
  void TestHostIpc(v1::NamespaceMode mode) {
    OCID_ASSERT_OK_AND_ASSIGN(HostShmSegment segment, HostShmSegment::Create(1048576));
    const std::string segment_id = absl::StrCat(segment.id());
    v1::NamespaceOption options;
    options.set_pid(v1::POD);
    options.set_ipc(mode);
    options.set_network(v1::POD);
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunNamespacePod(options));
    OCID_ASSERT_OK_AND_ASSIGN(
        std::string id,
        CreateNamespaceContainer(pod, "namespace-container-", kDefaultImage, options, kPauseCmd));
    StartAndWait(id, v1::CONTAINER_RUNNING);
    std::string out;
    ASSERT_NO_FATAL_FAILURE(ExecSyncOk(id, {"ipcs", "-m"}, &out));
    if (mode == v1::NODE) {
      EXPECT_TRUE(absl::StrContains(out, segment_id))
          << "The shared memory segment " << segment_id
          << " should be included in the container: " << out;
    } else {
      EXPECT_FALSE(absl::StrContains(out, segment_id))
          << "The shared memory segment " << segment_id
          << " should not be included in the container: " << out;
    }
  }

  // createAndCheckHostNetwork: `netstat -ln` in the pod lists a port that
  // listens in the host's network namespace exactly when the pod uses it.
  void TestHostNetwork(bool host_network) {
    OCID_ASSERT_OK_AND_ASSIGN(HostListener listener, HostListener::Create());
    v1::NamespaceOption options;
    options.set_pid(v1::POD);
    options.set_ipc(v1::POD);
    options.set_network(host_network ? v1::NODE : v1::POD);
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunNamespacePod(options, /*with_log_dir=*/true));
    const std::string name = "container-with-HostNetwork-test-" + NewUuid();
    const std::string log_path = name + ".log";
    OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                              CreateNamespaceContainer(pod, name, kDefaultImage, options,
                                                       {"sh", "-c", "netstat -ln"}, log_path));
    // critest polls the log while netstat may still run; waiting for the
    // exit reads the whole listing once.
    StartAndWait(id, v1::CONTAINER_EXITED);
    OCID_ASSERT_OK_AND_ASSIGN(
        std::vector<LogLine> lines,
        ReadContainerLog(absl::StrCat(pod.config.log_directory(), "/", log_path)));
    const std::string port = absl::StrCat(":", listener.port());
    bool listed = false;
    std::string listing;
    for (const LogLine& line : lines) {
      if (absl::StrContains(line.message, port)) listed = true;
      absl::StrAppend(&listing, line.message, "\n");
    }
    EXPECT_FALSE(lines.empty()) << "netstat printed nothing";
    if (host_network) {
      EXPECT_TRUE(listed) << "host port " << listener.port()
                          << " should be in container's port list:\n"
                          << listing;
    } else {
      EXPECT_FALSE(listed) << "host port " << listener.port()
                           << " should not be in container's port list:\n"
                           << listing;
    }
  }

  // checkNetworkManagement: `brctl addbr` works only with CAP_NET_ADMIN.
  void CheckNetworkManagement(const std::string& container_id, bool manageable) {
    const std::vector<std::string> cmd = {"brctl", "addbr", "foobar"};
    absl::StatusOr<ExecResult> result = ExecSync(container_id, cmd, kExecSyncTimeout);
    if (manageable) {
      EXPECT_FALSE(ExecFailed(result)) << Describe(cmd, result);
    } else {
      EXPECT_TRUE(ExecFailed(result)) << Describe(cmd, result);
    }
  }

  // createPrivilegedPodSandbox.
  absl::StatusOr<Pod> RunPrivilegedPod(bool privileged) {
    v1::PodSandboxConfig config = DefaultPodConfig("create-Privileged-PodSandbox-for-container-");
    config.mutable_linux()->mutable_security_context()->set_privileged(privileged);
    return RunPod(config);
  }

  // createPrivilegedPodSandbox + createPrivilegedContainer, started.
  void TestPrivileged(bool privileged, const std::string& prefix) {
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPrivilegedPod(privileged));
    v1::LinuxContainerSecurityContext sc;
    sc.set_privileged(privileged);
    OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                              CreateContainer(pod, ContainerWith(prefix, kPauseCmd, sc)));
    StartAndWait(id, v1::CONTAINER_RUNNING);
    CheckNetworkManagement(id, privileged);
  }

  // createCapabilityContainer, started; returns its id.
  absl::StatusOr<std::string> RunCapabilityContainer(const Pod& pod, const std::string& prefix,
                                                     const std::vector<std::string>& add,
                                                     const std::vector<std::string>& drop) {
    v1::LinuxContainerSecurityContext sc;
    for (const std::string& cap : add) sc.mutable_capabilities()->add_add_capabilities(cap);
    for (const std::string& cap : drop) sc.mutable_capabilities()->add_drop_capabilities(cap);
    absl::StatusOr<std::string> id = CreateContainer(pod, ContainerWith(prefix, kPauseCmd, sc));
    if (!id.ok()) return id.status();
    if (absl::Status s = StartContainer(*id); !s.ok()) return s;
    if (absl::Status s = WaitForContainerState(*id, v1::CONTAINER_RUNNING); !s.ok()) return s;
    return id;
  }

  // The bounding set line of /proc/self/status of a process exec'd in the
  // container, which must succeed with nothing on stderr.
  void ExpectCapBndZero(const std::string& container_id, bool zero) {
    const std::vector<std::string> cmd = {"cat", "/proc/self/status"};
    absl::StatusOr<ExecResult> result = ExecSync(container_id, cmd, kExecSyncTimeout);
    ASSERT_FALSE(ExecFailed(result)) << Describe(cmd, result);
    EXPECT_EQ(result->stderr_text, "");
    bool matches =
        std::regex_search(result->stdout_text, std::regex(R"(CapBnd:\s0000000000000000)"));
    EXPECT_EQ(matches, zero) << result->stdout_text;
  }

  // The SeccompProfilePath specs write their localhost profiles here
  // (critest's createSeccompProfileDir/createSeccompProfile).
  absl::StatusOr<std::string> WriteSeccompProfile(const std::string& name,
                                                  const std::string& contents) {
    std::string dir = absl::StrCat(Info().scratch_dir, "/seccomp-tests-", NewUuid());
    if (mkdir(dir.c_str(), 0755) != 0) return absl::ErrnoToStatus(errno, "mkdir " + dir);
    std::string path = absl::StrCat(dir, "/", name);
    if (absl::Status s = WriteFile(path, contents); !s.ok()) return s;
    return path;
  }

  // seccompTestContainer: pod and container with `profile` (none when
  // null), the container running.
  absl::StatusOr<std::string> RunSeccompTestContainer(const v1::SecurityProfile* profile) {
    v1::PodSandboxConfig pod_config = DefaultPodConfig("seccomp-sandbox-");
    if (profile != nullptr) {
      *pod_config.mutable_linux()->mutable_security_context()->mutable_seccomp() = *profile;
    }
    absl::StatusOr<Pod> pod = RunPod(pod_config);
    if (!pod.ok()) return pod.status();
    v1::LinuxContainerSecurityContext sc;
    if (profile != nullptr) *sc.mutable_seccomp() = *profile;
    absl::StatusOr<std::string> id =
        CreateContainer(*pod, ContainerWith("seccomp-container-" + NewUuid(), kPauseCmd, sc));
    if (!id.ok()) return id.status();
    if (absl::Status s = StartContainer(*id); !s.ok()) return s;
    if (absl::Status s = WaitForContainerState(*id, v1::CONTAINER_RUNNING); !s.ok()) return s;
    return id;
  }

  // verifySeccomp.
  void VerifySeccomp(const std::string& container_id, const std::vector<std::string>& cmd,
                     bool expect_error, const std::string& output) {
    absl::StatusOr<ExecResult> result = ExecSync(container_id, cmd, kExecSyncTimeout);
    if (expect_error) {
      ASSERT_TRUE(ExecFailed(result)) << Describe(cmd, result);
      ASSERT_TRUE(result.ok()) << Describe(cmd, result);
      EXPECT_TRUE(absl::StrContains(result->stderr_text, output)) << Describe(cmd, result);
    } else {
      ASSERT_FALSE(ExecFailed(result)) << Describe(cmd, result);
      EXPECT_TRUE(absl::StrContains(result->stdout_text, output)) << Describe(cmd, result);
    }
  }

  // createSeccompContainer (create expected to pass) in `pod`, started.
  absl::StatusOr<std::string> RunSeccompContainer(const Pod& pod,
                                                  const v1::SecurityProfile& profile,
                                                  const std::vector<std::string>& caps,
                                                  bool privileged) {
    v1::LinuxContainerSecurityContext sc;
    sc.set_privileged(privileged);
    for (const std::string& cap : caps) sc.mutable_capabilities()->add_add_capabilities(cap);
    *sc.mutable_seccomp() = profile;
    v1::ContainerConfig config =
        ContainerWith("container-with-block-hostname-seccomp-profile-test-", {"sleep", "60"}, sc);
    config.mutable_image()->set_user_specified_image(kDefaultImage);
    absl::StatusOr<std::string> id = CreateContainer(pod, config);
    if (!id.ok()) return id.status();
    if (absl::Status s = StartContainer(*id); !s.ok()) return s;
    if (absl::Status s = WaitForContainerState(*id, v1::CONTAINER_RUNNING); !s.ok()) return s;
    return id;
  }

  // checkSetHostname.
  void CheckSetHostname(const std::string& container_id, bool settable) {
    const std::vector<std::string> cmd = {"hostname", "ANewHostName"};
    absl::StatusOr<ExecResult> result = ExecSync(container_id, cmd, kExecSyncTimeout);
    if (settable) {
      EXPECT_FALSE(ExecFailed(result)) << Describe(cmd, result);
    } else {
      EXPECT_TRUE(ExecFailed(result)) << Describe(cmd, result);
    }
  }

  // createReadOnlyRootfsContainer + checkRootfs.
  void TestReadOnlyRootfs(bool readonly, const std::string& prefix) {
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPodWithLogDirectory());
    v1::LinuxContainerSecurityContext sc;
    sc.set_readonly_rootfs(readonly);
    const std::string name = prefix + NewUuid();
    v1::ContainerConfig config =
        ContainerWith(name, {"sh", "-c", "touch test.go && [ -f test.go ] && echo 'Found'"}, sc);
    config.mutable_metadata()->set_name(name);
    config.set_log_path(name + ".log");
    OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
    StartAndWait(id, v1::CONTAINER_EXITED);
    if (readonly) {
      ExpectLogLine(pod, config.log_path(), "touch: test.go: Read-only file system\n", "stderr");
    } else {
      ExpectLogLine(pod, config.log_path(), "Found\n", "stdout");
    }
  }

  // NoNewPrivs' createContainerWithNoNewPrivs + matchContainerOutput: the
  // image's setuid-root entrypoint prints its effective uid.
  void TestNoNewPrivs(const std::string& prefix, bool no_new_privs, const std::string& expected) {
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPodWithLogDirectory());
    const std::string name = prefix + NewUuid();
    v1::ContainerConfig config = DefaultContainerConfig(name);
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(kNonNewPrivsImage);
    config.clear_command();
    config.clear_args();
    auto* sc = config.mutable_linux()->mutable_security_context();
    sc->set_no_new_privs(no_new_privs);
    sc->mutable_run_as_user()->set_value(1000);
    config.set_log_path(name + ".log");
    OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
    StartAndWait(id, v1::CONTAINER_EXITED);
    ExpectLogLine(pod, config.log_path(), expected, "stdout");
  }
};

// ---- NamespaceOption ----

TEST_F(SecurityContext, RuntimeShouldSupportHostPID) {
  v1::NamespaceOption options;
  options.set_pid(v1::NODE);
  options.set_ipc(v1::POD);
  options.set_network(v1::POD);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunNamespacePod(options));

  OCID_ASSERT_OK_AND_ASSIGN(std::string nginx, CreateNamespaceContainer(pod, "nginx-container-",
                                                                        kNginxImage, options, {}));
  StartAndWait(nginx, v1::CONTAINER_RUNNING);
  std::string out;
  ASSERT_NO_FATAL_FAILURE(ExecSyncOk(
      nginx,
      {"sh", "-c", "while [ ! -f /var/run/nginx.pid ]; do sleep 1; done && cat /var/run/nginx.pid"},
      &out));
  const std::string nginx_pid(absl::StripAsciiWhitespace(out));
  ASSERT_FALSE(nginx_pid.empty());

  OCID_ASSERT_OK_AND_ASSIGN(
      std::string busybox,
      CreateNamespaceContainer(pod, "container-with-HostPID-test-", kDefaultImage, options,
                               {"sh", "-c", "sleep 1000"}));
  StartAndWait(busybox, v1::CONTAINER_RUNNING);
  // critest's command, "||" and "true" included as pidof arguments.
  ASSERT_NO_FATAL_FAILURE(ExecSyncOk(busybox, {"pidof", "nginx", "||", "true"}, &out));
  const std::string pids(absl::StripAsciiWhitespace(out));
  ASSERT_FALSE(pids.empty()) << "nginx's pid should be seen by hostpid containers";
  EXPECT_TRUE(absl::StrContains(pids, nginx_pid))
      << "nginx's pid " << nginx_pid << " should be seen by hostpid containers, got " << pids;
}

TEST_F(SecurityContext, RuntimeShouldSupportHostIpcIsTrue) { TestHostIpc(v1::NODE); }

TEST_F(SecurityContext, RuntimeShouldSupportHostIpcIsFalse) { TestHostIpc(v1::POD); }

TEST_F(SecurityContext, RuntimeShouldSupportPodPID) {
  v1::NamespaceOption options;
  options.set_pid(v1::POD);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunNamespacePod(options));
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id, CreateNamespaceContainer(pod, "nginx-container-", kNginxImage, options, {}));
  StartAndWait(id, v1::CONTAINER_RUNNING);
  sleep(1);  // as critest: nginx up and running
  std::string out;
  ASSERT_NO_FATAL_FAILURE(ExecSyncOk(id, {"cat", "/proc/1/cmdline"}, &out));
  // PID 1 of a shared namespace is the pod's infra process, not nginx.
  EXPECT_FALSE(absl::StrContains(out, "master process")) << out;
}

TEST_F(SecurityContext, RuntimeShouldSupportContainerPID) {
  v1::NamespaceOption options;
  options.set_pid(v1::CONTAINER);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunNamespacePod(options));
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id, CreateNamespaceContainer(pod, "nginx-container-", kNginxImage, options, {}));
  StartAndWait(id, v1::CONTAINER_RUNNING);
  // The container's own namespace: nginx's master is its PID 1.
  std::string out;
  ASSERT_NO_FATAL_FAILURE(ExecSyncOk(
      id, {"sh", "-c", R"(while ! cat /proc/1/cmdline | grep "master process"; do sleep 1; done)"},
      &out));
}

TEST_F(SecurityContext, RuntimeShouldSupportHostNetworkIsTrue) { TestHostNetwork(true); }

TEST_F(SecurityContext, RuntimeShouldSupportHostNetworkIsFalse) { TestHostNetwork(false); }

// ---- bucket ----

TEST_F(SecurityContext, RuntimeShouldSupportSupplementalGroups) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  v1::LinuxContainerSecurityContext sc;
  sc.add_supplemental_groups(1234);
  sc.add_supplemental_groups(5678);
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id, CreateContainer(pod, ContainerWith("container-with-SupplementalGroups-test-",
                                                         kPauseCmd, sc)));
  StartAndWait(id, v1::CONTAINER_RUNNING);
  std::string out;
  ASSERT_NO_FATAL_FAILURE(ExecSyncOk(id, {"id", "-G"}, &out));
  std::vector<std::string> groups = absl::StrSplit(absl::StripAsciiWhitespace(out), ' ');
  for (const char* gid : {"1234", "5678"}) {
    EXPECT_NE(std::find(groups.begin(), groups.end(), gid), groups.end())
        << gid << " not in `id -G`: " << out;
  }
}

TEST_F(
    SecurityContext,
    IfTheContainerSPrimaryUIDBelongsToSomeGroupsInTheImageRuntimeShouldAddSupplementalGroupsToThem) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPodWithLogDirectory());
  const int64_t supplemental_group = 1234;
  const std::string name =
      "container-with-SupplementalGroups-and-predefined-group-image-test-" + NewUuid();
  v1::LinuxContainerSecurityContext sc;
  sc.mutable_run_as_user()->set_value(kImagePredefinedGroupUid);
  sc.add_supplemental_groups(supplemental_group);
  v1::ContainerConfig config =
      ContainerWith(name, {"sh", "-c", "id -G; while :; do sleep 1; done"}, sc);
  config.mutable_metadata()->set_name(name);
  config.mutable_image()->set_image(kTestImagePredefinedGroup);
  config.set_log_path(name + ".log");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  StartAndWait(id, v1::CONTAINER_RUNNING);
  // Running, and the first `id -G` is in the log.
  const std::string log_file = absl::StrCat(pod.config.log_directory(), "/", config.log_path());
  absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (true) {
    absl::StatusOr<std::vector<LogLine>> lines = ReadContainerLog(log_file);
    if (lines.ok() && !lines->empty()) break;
    ASSERT_LT(absl::Now(), deadline) << "no log line in " << log_file;
    absl::SleepFor(absl::Seconds(1));
  }
  // The image's user 1000 is a member of group 50000 in its /etc/group: the
  // process has its own gid, the requested group and the image's.
  const std::string expected = absl::StrCat(kImagePredefinedGroupUid, " ", supplemental_group, " ",
                                            kImagePredefinedGroupGid, "\n");
  ExpectLogLine(pod, config.log_path(), expected, "stdout");
  std::string out;
  ASSERT_NO_FATAL_FAILURE(ExecSyncOk(id, {"id", "-G"}, &out));
  EXPECT_EQ(out, expected);
}

TEST_F(SecurityContext, RuntimeShouldSupportRunAsUser) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  v1::LinuxContainerSecurityContext sc;
  sc.mutable_run_as_user()->set_value(1001);
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      CreateContainer(pod, ContainerWith("container-with-RunAsUser-test-", kPauseCmd, sc)));
  StartAndWait(id, v1::CONTAINER_RUNNING);
  std::string out;
  ASSERT_NO_FATAL_FAILURE(ExecSyncOk(id, {"id", "-u"}, &out));
  EXPECT_EQ(out, "1001\n");
}

TEST_F(SecurityContext, RuntimeShouldSupportRunAsUserName) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  v1::LinuxContainerSecurityContext sc;
  sc.set_run_as_username("nobody");
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      CreateContainer(pod, ContainerWith("container-with-RunAsUserName-test-", kPauseCmd, sc)));
  StartAndWait(id, v1::CONTAINER_RUNNING);
  std::string out;
  ASSERT_NO_FATAL_FAILURE(ExecSyncOk(id, {"id", "-nu"}, &out));
  EXPECT_EQ(out, "nobody\n");
}

TEST_F(SecurityContext, RuntimeShouldSupportRunAsGroup) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPodWithLogDirectory());
  const std::string name = "container-with-RunAsGroup-test-" + NewUuid();
  v1::LinuxContainerSecurityContext sc;
  sc.mutable_run_as_user()->set_value(1001);
  sc.mutable_run_as_group()->set_value(1002);
  v1::ContainerConfig config = ContainerWith(name, {"sh", "-c", "echo $(id -u):$(id -g)"}, sc);
  config.mutable_metadata()->set_name(name);
  config.set_log_path(name + ".log");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  StartAndWait(id, v1::CONTAINER_EXITED);
  ExpectLogLine(pod, config.log_path(), "1001:1002\n", "stdout");
}

TEST_F(SecurityContext, RuntimeShouldReturnErrorIfRunAsGroupIsSetWithoutRunAsUser) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  v1::LinuxContainerSecurityContext sc;
  sc.mutable_run_as_group()->set_value(1002);
  v1::ContainerConfig config = ContainerWith("container-with-RunAsGroup-without-RunAsUser-test-",
                                             {"sh", "-c", "echo $(id -u):$(id -g)"}, sc);
  absl::StatusOr<std::string> id = CreateContainer(pod, config);
  EXPECT_FALSE(id.ok()) << "CreateContainer with run_as_group alone made container " << *id;
}

TEST_F(SecurityContext, RuntimeShouldSupportThatReadOnlyRootfsIsFalse) {
  TestReadOnlyRootfs(false, "container-with-ReadOnlyRootfs-false-test-");
}

TEST_F(SecurityContext, RuntimeShouldSupportThatReadOnlyRootfsIsTrue) {
  TestReadOnlyRootfs(true, "container-with-ReadOnlyRootfs-true-test-");
}

TEST_F(SecurityContext, RuntimeShouldSupportPrivilegedIsTrue) {
  TestPrivileged(true, "container-with-isPrivileged-test-");
}

TEST_F(SecurityContext, RuntimeShouldSupportPrivilegedIsFalse) {
  TestPrivileged(false, "container-with-notPrivileged-test-");
}

TEST_F(SecurityContext, RuntimeShouldSupportAddingCapability) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string with_cap,
      RunCapabilityContainer(pod, "container-with-added-capability-test-", {"NET_ADMIN"}, {}));
  CheckNetworkManagement(with_cap, true);

  OCID_ASSERT_OK_AND_ASSIGN(std::string without,
                            CreateDefaultContainer(pod, "container-with-notCapability-test-"));
  StartAndWait(without, v1::CONTAINER_RUNNING);
  CheckNetworkManagement(without, false);
}

TEST_F(SecurityContext, RuntimeShouldSupportDroppingCapability) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      RunCapabilityContainer(pod, "container-with-dropped-capability-test-", {}, {"NET_RAW"}));
  const std::vector<std::string> cmd = {"ping", "127.0.0.1"};
  absl::StatusOr<ExecResult> result = ExecSync(id, cmd, kExecSyncTimeout);
  ASSERT_TRUE(ExecFailed(result)) << Describe(cmd, result);
  ASSERT_TRUE(result.ok()) << Describe(cmd, result);
  EXPECT_NE(result->stdout_text, "") << Describe(cmd, result);
  EXPECT_TRUE(absl::StrContains(result->stderr_text, "permission denied")) << Describe(cmd, result);
}

TEST_F(SecurityContext, RuntimeShouldSupportAddingALLCapabilities) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      RunCapabilityContainer(pod, "container-with-added-all-capability-test-", {"ALL"}, {}));
  ExpectCapBndZero(id, false);
}

TEST_F(SecurityContext, RuntimeShouldSupportDroppingALLCapabilities) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      RunCapabilityContainer(pod, "container-with-dropped-all-capability-test-", {}, {"ALL"}));
  ExpectCapBndZero(id, true);
}

TEST_F(SecurityContext, RuntimeShouldSupportMaskedPaths) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  v1::LinuxContainerSecurityContext sc;
  sc.add_masked_paths("/bin/ls");
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      CreateContainer(pod, ContainerWith("container-with-maskedpaths", kPauseCmd, sc)));
  StartAndWait(id, v1::CONTAINER_RUNNING);
  const std::vector<std::string> cmd = {"/bin/sh", "-c", "ls"};
  absl::StatusOr<ExecResult> result = ExecSync(id, cmd, kExecSyncTimeout);
  ASSERT_TRUE(ExecFailed(result)) << Describe(cmd, result);
  ASSERT_TRUE(result.ok()) << Describe(cmd, result);
  EXPECT_EQ(result->stderr_text, "/bin/sh: ls: Permission denied\n");
}

TEST_F(SecurityContext, RuntimeShouldSupportReadonlyPaths) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  v1::LinuxContainerSecurityContext sc;
  sc.add_readonly_paths("/tmp");
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      CreateContainer(pod, ContainerWith("container-with-readonlypaths", kPauseCmd, sc)));
  StartAndWait(id, v1::CONTAINER_RUNNING);
  const std::vector<std::string> cmd = {"touch", "/tmp/test"};
  absl::StatusOr<ExecResult> result = ExecSync(id, cmd, kExecSyncTimeout);
  ASSERT_TRUE(ExecFailed(result)) << Describe(cmd, result);
  ASSERT_TRUE(result.ok()) << Describe(cmd, result);
  EXPECT_EQ(result->stderr_text, "touch: /tmp/test: Read-only file system\n");
}

// ---- SeccompProfilePath ----

TEST_F(SecurityContext, ShouldSupportSeccompUnconfinedOnTheContainer) {
  v1::SecurityProfile profile;
  profile.set_profile_type(v1::SecurityProfile::Unconfined);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunSeccompTestContainer(&profile));
  VerifySeccomp(id, kSeccompStatusCmd, false, "0");  // no filter
}

TEST_F(SecurityContext, ShouldSupportSeccompLocalhostProfileOnTheContainer) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string path,
                            WriteSeccompProfile("block-chmod.json", kBlockChmodProfile));
  v1::SecurityProfile profile;
  profile.set_profile_type(v1::SecurityProfile::Localhost);
  profile.set_localhost_ref(path);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunSeccompTestContainer(&profile));
  VerifySeccomp(id, {"chmod", "400", "/"}, true, "Operation not permitted");
}

TEST_F(SecurityContext, ShouldSupportSeccompDefaultOnTheContainer) {
  v1::SecurityProfile profile;  // RuntimeDefault
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunSeccompTestContainer(&profile));
  VerifySeccomp(id, kSeccompStatusCmd, false, "2");  // filter mode
}

TEST_F(SecurityContext, ShouldSupportNilProfileWhichIsUnconfined) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunSeccompTestContainer(nullptr));
  VerifySeccomp(id, kSeccompStatusCmd, false, "0");  // no filter
}

// SYS_ADMIN allows sethostname and nothing filters it.
TEST_F(SecurityContext, RuntimeShouldNotBlockSettingHostNameWithUnconfinedSeccompAndSYSADMIN) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  v1::SecurityProfile profile;
  profile.set_profile_type(v1::SecurityProfile::Unconfined);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            RunSeccompContainer(pod, profile, {"SYS_ADMIN"}, false));
  CheckSetHostname(id, true);
}

// SYS_ADMIN allows sethostname, but the profile filters it out.
TEST_F(SecurityContext, RuntimeShouldSupportAnSeccompProfileThatBlocksSettingHostnameWithSYSADMIN) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string path,
                            WriteSeccompProfile("block-host-name.json", kBlockHostNameProfile));
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  v1::SecurityProfile profile;
  profile.set_profile_type(v1::SecurityProfile::Localhost);
  profile.set_localhost_ref(path);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            RunSeccompContainer(pod, profile, {"SYS_ADMIN"}, false));
  CheckSetHostname(id, false);
}

// A privileged container runs without the profile it names.
TEST_F(SecurityContext, RuntimeShouldIgnoreASeccompProfileThatBlocksSettingHostnameWhenPrivileged) {
  OCID_ASSERT_OK_AND_ASSIGN(std::string path,
                            WriteSeccompProfile("block-host-name.json", kBlockHostNameProfile));
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPrivilegedPod(true));
  v1::SecurityProfile profile;
  profile.set_profile_type(v1::SecurityProfile::Localhost);
  profile.set_localhost_ref(path);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunSeccompContainer(pod, profile, {}, true));
  CheckSetHostname(id, true);
}

// ---- NoNewPrivs ----

TEST_F(SecurityContext, ShouldNotAllowPrivilegeEscalationWhenTrue) {
  TestNoNewPrivs("alpine-nnp-true-", true, "Effective uid: 1000\n");
}

TEST_F(SecurityContext, ShouldAllowPrivilegeEscalationWhenFalse) {
  TestNoNewPrivs("alpine-nnp-false-", false, "Effective uid: 0\n");
}

}  // namespace
}  // namespace ocid::e2e
