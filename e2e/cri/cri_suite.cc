// The suite's environment (registry, stand-in images, CNI bridge, ocid) and
// the framework helpers of cri_suite.h.
#include "e2e/cri/cri_suite.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid::e2e {
namespace {

constexpr char kBridge[] = "ocricri0";
constexpr char kSubnetPrefix[] = "10.216.0.";
constexpr char kNetworkName[] = "ocid-cri-suite";
// Image stand-ins and pulls can be slow on a loaded 2-core machine.
constexpr absl::Duration kOcidStartTimeout = absl::Seconds(30);

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

// Where Bazel put our data files (the workspace's runfiles root).
std::string RunfilesRoot() {
  std::string dir = Env("TEST_SRCDIR");
  if (dir.empty()) dir = Env("RUNFILES_DIR");
  std::string workspace = Env("TEST_WORKSPACE");
  return absl::StrCat(dir, "/", workspace.empty() ? "ocid" : workspace);
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(dir);
  return names;
}

// Runs a command through Subprocess and returns its output (stdout and
// stderr together); a non-zero exit is an error carrying the output.
absl::StatusOr<std::string> Run(const std::vector<std::string>& argv, const std::string& log) {
  auto child = Subprocess::SpawnLogged(argv, log);
  if (!child.ok()) return child.status();
  auto status = child->Wait();
  if (!status.ok()) return status.status();
  std::string output = ReadFile(log);
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " failed: ", output));
  }
  return output;
}

absl::StatusOr<std::string> Shell(const std::string& script, const std::string& log) {
  return Run({"/bin/bash", "-c", script}, log);
}

// SysV shm segment ids present now.
std::set<std::string> ShmIds() {
  std::set<std::string> ids;
  std::istringstream lines(ReadFile("/proc/sysvipc/shm"));
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() > 1) ids.insert(fields[1]);
  }
  return ids;
}

// pid -> start time (clock ticks since boot): a pid reused by a process
// that started during the run does not count as "there before".
std::map<std::string, std::string> Processes() {
  std::map<std::string, std::string> procs;
  for (const std::string& pid : ListDir("/proc")) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadFile("/proc/" + pid + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 > stat.size()) continue;
    // After "pid (comm) " the state is field 3 and starttime field 22.
    std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ');
    if (fields.size() > 19) procs[pid] = fields[19];
  }
  return procs;
}

std::string Realpath(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return "";
  std::string result = real;
  free(real);
  return result;
}

// Cgroup directories ocid makes for pods with no cgroup parent (cgroupfs:
// /ocid/<id>) in every mounted hierarchy.
std::set<std::string> OcidCgroups() {
  std::set<std::string> dirs;
  for (const std::string& hierarchy : ListDir("/sys/fs/cgroup")) {
    std::string base = absl::StrCat("/sys/fs/cgroup/", hierarchy, "/ocid");
    for (const std::string& name : ListDir(base)) {
      struct stat st;
      std::string path = absl::StrCat(base, "/", name);
      if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) dirs.insert(path);
    }
  }
  return dirs;
}

class SuiteEnvironment : public ::testing::Environment {
 public:
  static SuiteEnvironment& Get() {
    static SuiteEnvironment* env = new SuiteEnvironment;
    return *env;
  }

  void SetUp() override {
    absl::Status status = Boot();
    if (!status.ok()) {
      booted_ = false;
      boot_error_ = status;
      fprintf(stderr, "cri suite: boot failed: %s\n", status.ToString().c_str());
    }
  }

  void TearDown() override;

  const absl::Status& boot_error() const { return boot_error_; }
  bool booted() const { return booted_; }
  const SuiteInfo& info() const { return info_; }
  const std::string& cgroup_parent() const { return cgroup_parent_; }
  v1::RuntimeService::Stub& runtime() { return *runtime_; }
  v1::ImageService::Stub& images() { return *images_; }

  absl::Status RestartOcid(bool kill);

 private:
  absl::Status Boot();
  absl::Status StartRegistry();
  absl::Status WriteConfigs();
  absl::Status MakeBridge();
  std::vector<std::string> OcidArgv() const;
  absl::Status StartOcid();
  absl::Status StopOcid(int signal);
  absl::Status WaitForOcid();
  absl::Status PickCgroupParent();
  void RemoveEverything();
  std::vector<std::string> LeakCensus();

  bool booted_ = true;
  absl::Status boot_error_;
  SuiteInfo info_;
  std::string state_dir_;  // root, runroot, configs under it
  std::string registry_pid_;
  std::string registry_dir_;
  bool bridge_made_ = false;
  std::set<std::string> shm_before_;
  std::set<std::string> cgroups_before_;
  std::set<std::string> cgroup_parents_before_;  // the /ocid dirs that existed
  std::map<std::string, std::string> procs_before_;
  std::set<std::string> our_binaries_;  // realpaths of ocid and its helpers
  std::string cgroup_parent_;
  std::unique_ptr<Subprocess> ocid_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<v1::ImageService::Stub> images_;
};

absl::Status SuiteEnvironment::Boot() {
  if (getuid() != 0) return absl::FailedPreconditionError("the CRI suite must run as root");
  char scratch[] = "/tmp/ocid-cri.XXXXXX";
  if (mkdtemp(scratch) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  state_dir_ = scratch;
  // Searchable by others (not listable), as /run is: root of a pod user
  // namespace must reach the rootfs under the runroot (userns_test).
  if (chmod(scratch, 0711) != 0) return absl::ErrnoToStatus(errno, "chmod 0711 " + state_dir_);
  info_.scratch_dir = state_dir_ + "/scratch";
  info_.root_dir = state_dir_ + "/root";
  info_.pod_log_root = state_dir_ + "/podlogs";
  info_.socket = state_dir_ + "/ocid.sock";
  info_.cni_bridge = kBridge;
  info_.pod_cidr = absl::StrCat(kSubnetPrefix, "0/24");
  info_.policy_dir = state_dir_ + "/policies";
  for (const char* sub : {"/scratch", "/podlogs", "/ocid.conf.d", "/net.d", "/ipam", "/logs",
                          "/runtime", "/policies"}) {
    if (mkdir((state_dir_ + sub).c_str(), 0755) != 0) {
      return absl::ErrnoToStatus(errno, "mkdir " + state_dir_ + sub);
    }
  }
  shm_before_ = ShmIds();
  cgroups_before_ = OcidCgroups();
  for (const std::string& hierarchy : ListDir("/sys/fs/cgroup")) {
    std::string parent = absl::StrCat("/sys/fs/cgroup/", hierarchy, "/ocid");
    if (access(parent.c_str(), F_OK) == 0) cgroup_parents_before_.insert(parent);
  }
  procs_before_ = Processes();
  for (const char* binary : {"/cmd/ocid/ocid", "/cmd/ocid/ocid-infra", "/cmd/ocid/ocid-pinns",
                             "/cmd/ocid/ocid-pull"}) {
    std::string real = Realpath(RunfilesRoot() + binary);
    if (real.empty()) return absl::NotFoundError(absl::StrCat("runfile ", binary, " is missing"));
    our_binaries_.insert(real);
  }
  absl::Time start = absl::Now();
  RETURN_IF_ERROR(StartRegistry());
  absl::Time images_done = absl::Now();
  RETURN_IF_ERROR(WriteConfigs());
  RETURN_IF_ERROR(MakeBridge());
  RETURN_IF_ERROR(StartOcid());
  RETURN_IF_ERROR(PickCgroupParent());
  fprintf(stderr, "cri suite: registry and images %.1f s, ocid %.2f s (state in %s)\n",
          absl::ToDoubleSeconds(images_done - start),
          absl::ToDoubleSeconds(absl::Now() - images_done), state_dir_.c_str());
  return absl::OkStatus();
}

absl::Status SuiteEnvironment::StartRegistry() {
  std::string registry = RunfilesRoot() + "/e2e/registry";
  ASSIGN_OR_RETURN(std::string out,
                   Run({registry + "/start_registry.sh"}, state_dir_ + "/start_registry.log"));
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::ConsumePrefix(&line, "REGISTRY=")) info_.registry = std::string(line);
    if (absl::ConsumePrefix(&line, "REGISTRY_PID=")) registry_pid_ = std::string(line);
    if (absl::ConsumePrefix(&line, "REGISTRY_DIR=")) registry_dir_ = std::string(line);
  }
  if (info_.registry.empty() || registry_pid_.empty()) {
    return absl::InternalError("start_registry.sh printed no registry: " + out);
  }
  return Run({registry + "/build_critest_images.sh", info_.registry},
             state_dir_ + "/build_images.log")
      .status();
}

absl::Status SuiteEnvironment::WriteConfigs() {
  // The public registries critest names are all served by the stand-in
  // registry: each prefix maps onto its root.
  std::string conf = "unqualified-search-registries = [\"docker.io\"]\n";
  for (const char* prefix : {"registry.k8s.io", "gcr.io", "public.ecr.aws", "docker.io"}) {
    absl::StrAppend(&conf, "\n[[registry]]\nprefix = \"", prefix, "\"\nlocation = \"",
                    info_.registry, "\"\ninsecure = true\n");
  }
  RETURN_IF_ERROR(WriteFile(state_dir_ + "/registries.conf", conf));
  // The suite's own trust policy (accept every image) and an empty
  // registries.d, whatever the machine's /etc/containers says.
  RETURN_IF_ERROR(WriteFile(state_dir_ + "/policy.json",
                            R"({"default": [{"type": "insecureAcceptAnything"}]})"));
  // The runtimes' state in the run's dirs too, so that the census sees a
  // container the runtime still knows.
  RETURN_IF_ERROR(
      WriteFile(state_dir_ + "/ocid.conf",
                absl::StrCat("[ocid.runtime.runtimes.runc]\nruntime_root = \"", state_dir_,
                             "/runtime/runc\"\n\n[ocid.runtime.runtimes.crun]\nruntime_root = \"",
                             state_dir_, "/runtime/crun\"\n")));
  // A bridge of the suite's own, no masquerade and no route out.
  std::string conflist = absl::StrFormat(R"({
  "cniVersion": "1.0.0",
  "name": "%s",
  "plugins": [
    {"type": "bridge", "bridge": "%s", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "%s/ipam",
              "ranges": [[{"subnet": "%s0/24"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
)",
                                         kNetworkName, kBridge, state_dir_, kSubnetPrefix);
  return WriteFile(state_dir_ + "/net.d/10-cri-suite.conflist", conflist);
}

absl::Status SuiteEnvironment::MakeBridge() {
  // The bridge plugin makes it; the suite only checks that no earlier
  // (killed) run left one behind, and removes it at the end.
  std::string log = state_dir_ + "/ip.log";
  if (Run({"/usr/sbin/ip", "link", "show", kBridge}, log).ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("bridge ", kBridge, " exists already (a killed run?): ip link del ", kBridge));
  }
  bridge_made_ = true;
  return absl::OkStatus();
}

std::vector<std::string> SuiteEnvironment::OcidArgv() const {
  return {
      RunfilesRoot() + "/cmd/ocid/ocid",
      "--config",
      state_dir_ + "/ocid.conf",
      "--config-dir",
      state_dir_ + "/ocid.conf.d",
      "--listen",
      info_.socket,
      "--root",
      info_.root_dir,
      "--runroot",
      state_dir_ + "/run",
      "--log-dir",
      state_dir_ + "/logs",
      "--cni-config-dir",
      state_dir_ + "/net.d",
      "--registries-conf",
      state_dir_ + "/registries.conf",
      "--signature-policy",
      state_dir_ + "/policy.json",
      "--registries-d",
      state_dir_ + "/registries.d",
      "--signature-policy-dir",
      info_.policy_dir,
      "--log-level",
      "debug",
  };
}

absl::Status SuiteEnvironment::StartOcid() {
  ASSIGN_OR_RETURN(Subprocess child, Subprocess::SpawnLogged(OcidArgv(), state_dir_ + "/ocid.log"));
  ocid_ = std::make_unique<Subprocess>(std::move(child));
  return WaitForOcid();
}

// True once something accepts connections on the unix socket at `path`.
bool Accepts(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (!fd.valid() || path.size() >= sizeof(address.sun_path)) return false;
  path.copy(address.sun_path, path.size());
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

absl::Status SuiteEnvironment::WaitForOcid() {
  // Poll the socket itself: a gRPC channel that failed to connect backs off
  // for seconds before it tries again.
  absl::Time deadline = absl::Now() + kOcidStartTimeout;
  while (!Accepts(info_.socket)) {
    if (!ocid_->Running()) {
      return absl::InternalError("ocid exited at start: " + ReadFile(state_dir_ + "/ocid.log"));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("ocid did not listen within 30 s");
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  channel_ = grpc::CreateChannel("unix:" + info_.socket, grpc::InsecureChannelCredentials());
  runtime_ = v1::RuntimeService::NewStub(channel_);
  images_ = v1::ImageService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  context.set_wait_for_ready(true);
  v1::VersionRequest request;
  v1::VersionResponse response;
  grpc::Status status = runtime_->Version(&context, request, &response);
  if (!status.ok()) return absl::InternalError("Version: " + status.error_message());
  return absl::OkStatus();
}

// common.GetCgroupParent: "" when the runtime reports the cgroupfs driver,
// else the systemd slice "/test.slice" (also when RuntimeConfig fails).
absl::Status SuiteEnvironment::PickCgroupParent() {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::RuntimeConfigRequest request;
  v1::RuntimeConfigResponse response;
  grpc::Status status = runtime_->RuntimeConfig(&context, request, &response);
  cgroup_parent_ = status.ok() && response.has_linux() &&
                           response.linux().cgroup_driver() == v1::CgroupDriver::CGROUPFS
                       ? ""
                       : "/test.slice";
  return absl::OkStatus();
}

absl::Status SuiteEnvironment::StopOcid(int signal) {
  if (ocid_ == nullptr) return absl::OkStatus();
  RETURN_IF_ERROR(ocid_->Signal(signal));
  auto status = ocid_->Wait();
  ocid_.reset();
  return status.status();
}

absl::Status SuiteEnvironment::RestartOcid(bool kill) {
  RETURN_IF_ERROR(StopOcid(kill ? SIGKILL : SIGTERM));
  ASSIGN_OR_RETURN(Subprocess child, Subprocess::SpawnLogged(OcidArgv(), state_dir_ + "/ocid.log"));
  ocid_ = std::make_unique<Subprocess>(std::move(child));
  return WaitForOcid();
}

// Removes every pod (and so every container) still known to ocid.
void SuiteEnvironment::RemoveEverything() {
  if (runtime_ == nullptr || ocid_ == nullptr) return;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(1)));
  v1::ListPodSandboxRequest request;
  v1::ListPodSandboxResponse response;
  if (!runtime_->ListPodSandbox(&context, request, &response).ok()) return;
  for (const v1::PodSandbox& pod : response.items()) {
    grpc::ClientContext remove_context;
    remove_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(2)));
    v1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod.id());
    v1::RemovePodSandboxResponse removed;
    grpc::Status status = runtime_->RemovePodSandbox(&remove_context, remove, &removed);
    if (!status.ok()) {
      ADD_FAILURE() << "removing pod " << pod.id()
                    << " left by the suite: " << status.error_message();
    }
  }
}

// What this run left behind once every pod is removed and ocid has
// stopped: one line per leak.
std::vector<std::string> SuiteEnvironment::LeakCensus() {
  std::vector<std::string> leaks;
  // Mounts under the run's dirs.
  std::istringstream mounts(ReadFile("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(mounts, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    // <runroot>/ns is ocid's own private mount for the pins, kept while idle.
    if (fields.size() > 4 && absl::StartsWith(fields[4], state_dir_ + "/") &&
        fields[4] != state_dir_ + "/run/ns") {
      leaks.push_back("mount " + fields[4]);
    }
  }
  // Namespace pins (files under runroot/ns/<type>/).
  for (const char* type : {"net", "ipc", "uts", "pid", "user"}) {
    std::string dir = absl::StrCat(state_dir_, "/run/ns/", type);
    for (const std::string& pin : ListDir(dir)) leaks.push_back("netns pin " + dir + "/" + pin);
  }
  // Veths still on the bridge.
  std::string ip_log = state_dir_ + "/census-ip.log";
  auto veths = Run({"/usr/sbin/ip", "-o", "link", "show", "master", kBridge}, ip_log);
  if (veths.ok()) {
    for (absl::string_view veth : absl::StrSplit(*veths, '\n', absl::SkipWhitespace())) {
      leaks.push_back(absl::StrCat("veth ", veth.substr(0, veth.find('@'))));
    }
  }
  // IPAM leases (host-local keeps one file per leased IP).
  std::string leases = absl::StrCat(state_dir_, "/ipam/", kNetworkName);
  for (const std::string& name : ListDir(leases)) {
    if (absl::StartsWith(name, kSubnetPrefix)) leaks.push_back("IPAM lease " + name);
  }
  // Cgroups of this run's containers.
  for (const std::string& dir : OcidCgroups()) {
    if (cgroups_before_.count(dir) > 0) continue;
    leaks.push_back("cgroup " + dir);
    rmdir(dir.c_str());  // reported; gone unless a process is still in it
  }
  // The shared parent /ocid the runtimes made for them (and leave, see
  // MACHINE-NOTES) is no one container's: removed when the run made it.
  for (const std::string& hierarchy : ListDir("/sys/fs/cgroup")) {
    std::string parent = absl::StrCat("/sys/fs/cgroup/", hierarchy, "/ocid");
    if (cgroup_parents_before_.count(parent) == 0) rmdir(parent.c_str());
  }
  // Processes of the run: started after boot and either naming the run's
  // dirs (conmon, the runtimes, ocid-infra), running one of our binaries
  // (ocid, ocid-infra), or rooted in a rootfs of ours (a container's
  // processes). Killed once reported.
  for (const auto& [pid, start] : Processes()) {
    if (pid == std::to_string(getpid())) continue;
    auto before = procs_before_.find(pid);
    if (before != procs_before_.end() && before->second == start) continue;
    std::string cmdline = ReadFile("/proc/" + pid + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    std::string exe = Realpath("/proc/" + pid + "/exe");
    std::string root = Realpath("/proc/" + pid + "/root");
    if (absl::StrContains(cmdline, state_dir_ + "/") || our_binaries_.count(exe) > 0 ||
        absl::StartsWith(root, state_dir_ + "/")) {
      leaks.push_back(absl::StrCat("process ", pid, ": ", cmdline, "(exe ", exe, ")"));
      kill(std::stoi(pid), SIGKILL);
    }
  }
  // Containers the runtimes still keep state for.
  for (const char* runtime : {"runc", "crun"}) {
    std::string dir = absl::StrCat(state_dir_, "/runtime/", runtime);
    for (const std::string& id : ListDir(dir)) {
      leaks.push_back(absl::StrCat(runtime, " state of ", id));
    }
  }
  // portmap's DNAT/SNAT rules and chains name the pods' addresses.
  auto rules = Run({"/usr/sbin/iptables-save"}, state_dir_ + "/census-iptables.log");
  if (rules.ok()) {
    for (absl::string_view rule : absl::StrSplit(*rules, '\n')) {
      if (absl::StrContains(rule, kSubnetPrefix)) leaks.push_back(absl::StrCat("iptables ", rule));
    }
  } else {
    leaks.push_back("iptables-save failed, rules not checked: " + rules.status().ToString());
  }
  // SysV shm segments made during the run (critest's HostIpc specs make
  // some in the host's IPC namespace and must remove them).
  for (const std::string& id : ShmIds()) {
    if (shm_before_.count(id) > 0) continue;
    leaks.push_back("SysV shm segment " + id);
    shmctl(std::stoi(id), IPC_RMID, nullptr);
  }
  return leaks;
}

void SuiteEnvironment::TearDown() {
  RemoveEverything();
  absl::Status stopped = StopOcid(SIGTERM);
  if (!stopped.ok()) ADD_FAILURE() << "stopping ocid: " << stopped;
  if (!state_dir_.empty()) {
    std::vector<std::string> leaks = LeakCensus();
    for (const std::string& leak : leaks) {
      ADD_FAILURE() << "left behind: " << leak;
      fprintf(stderr, "cri suite: leak census: left behind: %s\n", leak.c_str());
    }
    fprintf(stderr,
            "cri suite: leak census (mounts, namespace pins, veths on %s, IPAM leases, "
            "cgroups, processes, runtime state, iptables rules, SysV shm): %zu left behind\n",
            kBridge, leaks.size());
  }
  if (!registry_pid_.empty()) {
    Run({RunfilesRoot() + "/e2e/registry/stop_registry.sh", registry_pid_, registry_dir_},
        state_dir_ + "/stop_registry.log")
        .IgnoreError();
  }
  if (bridge_made_) {
    Run({"/usr/sbin/ip", "link", "del", kBridge}, state_dir_ + "/ip.log").IgnoreError();
  }
  if (!state_dir_.empty()) {
    // Keep the state (ocid.log) for a failed run's reader, in the test's
    // undeclared outputs when Bazel gives a place.
    std::string outputs = Env("TEST_UNDECLARED_OUTPUTS_DIR");
    if (!outputs.empty()) {
      Shell(absl::StrCat("cp ", state_dir_, "/*.log ", outputs, "/ 2>/dev/null || true"),
            "/dev/null")
          .IgnoreError();
    }
    // Mounts left (already reported) would make the removal fail.
    Shell(absl::StrCat("awk '$5 ~ \"^", state_dir_, "/\" {print $5}' /proc/self/mountinfo ",
                       "| sort -r | xargs -r umount -l"),
          "/dev/null")
        .IgnoreError();
    RemoveAll(state_dir_).IgnoreError();
  }
}

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(&SuiteEnvironment::Get());

// not_yet.txt: "Suite.Name  # feature" lines.
std::map<std::string, std::string> NotYetList() {
  std::map<std::string, std::string> list;
  std::istringstream lines(ReadFile(RunfilesRoot() + "/e2e/cri/not_yet.txt"));
  std::string line;
  while (std::getline(lines, line)) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    size_t hash = text.find('#');
    std::string name(absl::StripAsciiWhitespace(text.substr(0, hash)));
    std::string feature(
        hash == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(text.substr(hash + 1)));
    list[name] = feature;
  }
  return list;
}

std::string CurrentTestName() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat(test->test_suite_name(), ".", test->name());
}

// Pure gRPC call with a deadline, as absl::Status.
absl::Status ToStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

void CheckNotYetListed(const std::string& feature) {
  std::string name = CurrentTestName();
  if (NotYetList().count(name) == 0) {
    ADD_FAILURE() << name << " skips itself (" << feature
                  << ") but is not listed in e2e/cri/not_yet.txt";
  }
}

void CriTest::SetUp() {
  SuiteEnvironment& env = SuiteEnvironment::Get();
  ASSERT_TRUE(env.booted()) << "the suite's environment did not boot: " << env.boot_error();
  // A spec listed as not yet built must skip itself; one that runs to the
  // end instead means the list is stale (checked in TearDown).
  not_yet_listed_ = NotYetList().count(CurrentTestName()) > 0;
}

void CriTest::TearDown() {
  if (not_yet_listed_ && !IsSkipped()) {
    ADD_FAILURE() << CurrentTestName()
                  << " is listed in e2e/cri/not_yet.txt but did not skip itself: "
                     "remove it from the list";
  }
  for (auto it = containers_.rbegin(); it != containers_.rend(); ++it) {
    RemoveContainer(*it).IgnoreError();
  }
  for (auto it = pods_.rbegin(); it != pods_.rend(); ++it) {
    StopPod(*it).IgnoreError();
    RemovePod(*it).IgnoreError();
  }
}

const SuiteInfo& CriTest::Info() { return SuiteEnvironment::Get().info(); }
v1::RuntimeService::Stub& CriTest::Runtime() { return SuiteEnvironment::Get().runtime(); }
v1::ImageService::Stub& CriTest::Images() { return SuiteEnvironment::Get().images(); }

absl::Status CriTest::Finish(const grpc::Status& status) { return ToStatus(status); }

std::string CriTest::NewUuid() {
  static std::mt19937_64 random{std::random_device{}()};
  uint64_t high = random();
  uint64_t low = random();
  high = (high & ~0xf000ull) | 0x4000ull;      // version 4
  low = (low & ~(3ull << 62)) | (2ull << 62);  // variant 10
  std::string hex = absl::StrFormat("%016x%016x", high, low);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

v1::PodSandboxConfig CriTest::DefaultPodConfig(const std::string& name_prefix) {
  v1::PodSandboxConfig config;
  v1::PodSandboxMetadata* metadata = config.mutable_metadata();
  metadata->set_name(name_prefix + NewUuid());
  metadata->set_uid(kDefaultUidPrefix + NewUuid());
  metadata->set_namespace_(kDefaultNamespacePrefix + NewUuid());
  metadata->set_attempt(kDefaultAttempt);
  // critest's GetCgroupParent, asked of ocid at boot.
  config.mutable_linux()->set_cgroup_parent(SuiteEnvironment::Get().cgroup_parent());
  return config;
}

absl::StatusOr<Pod> CriTest::RunPod(const v1::PodSandboxConfig& config) {
  v1::RunPodSandboxRequest request;
  *request.mutable_config() = config;
  v1::RunPodSandboxResponse response;
  RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::RunPodSandbox, request, &response));
  pods_.push_back(response.pod_sandbox_id());
  return Pod{response.pod_sandbox_id(), config};
}

absl::StatusOr<Pod> CriTest::RunDefaultPod(const std::string& name_prefix) {
  return RunPod(DefaultPodConfig(name_prefix));
}

absl::Status CriTest::StopPod(const std::string& pod_id) {
  v1::StopPodSandboxRequest request;
  request.set_pod_sandbox_id(pod_id);
  v1::StopPodSandboxResponse response;
  return Call(&v1::RuntimeService::Stub::StopPodSandbox, request, &response);
}

absl::Status CriTest::RemovePod(const std::string& pod_id) {
  v1::RemovePodSandboxRequest request;
  request.set_pod_sandbox_id(pod_id);
  v1::RemovePodSandboxResponse response;
  return Call(&v1::RuntimeService::Stub::RemovePodSandbox, request, &response);
}

absl::StatusOr<v1::PodSandboxStatusResponse> CriTest::PodStatus(const std::string& pod_id,
                                                                bool verbose) {
  v1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(pod_id);
  request.set_verbose(verbose);
  v1::PodSandboxStatusResponse response;
  RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::PodSandboxStatus, request, &response));
  return response;
}

absl::StatusOr<std::vector<v1::PodSandbox>> CriTest::ListPods(const v1::PodSandboxFilter& filter) {
  v1::ListPodSandboxRequest request;
  *request.mutable_filter() = filter;
  v1::ListPodSandboxResponse response;
  RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::ListPodSandbox, request, &response));
  return std::vector<v1::PodSandbox>(response.items().begin(), response.items().end());
}

v1::ContainerConfig CriTest::DefaultContainerConfig(const std::string& name_prefix) {
  v1::ContainerConfig config;
  config.mutable_metadata()->set_name(name_prefix + NewUuid());
  config.mutable_metadata()->set_attempt(kDefaultAttempt);
  config.mutable_image()->set_image(kDefaultImage);
  config.add_command("top");
  config.mutable_linux();
  return config;
}

absl::StatusOr<std::string> CriTest::CreateContainer(const Pod& pod, v1::ContainerConfig config) {
  // As the framework does: pull the image when it is not there yet, and name
  // it as the user did.
  std::string image = config.image().image();
  if (!absl::StrContains(image, ":")) image += ":latest";
  if (absl::IsNotFound(ImageStatus(image).status())) {
    RETURN_IF_ERROR(PullImage(image).status());
  }
  if (config.image().user_specified_image().empty()) {
    config.mutable_image()->set_user_specified_image(image);
  }
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(pod.id);
  *request.mutable_config() = config;
  *request.mutable_sandbox_config() = pod.config;
  v1::CreateContainerResponse response;
  RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::CreateContainer, request, &response));
  containers_.push_back(response.container_id());
  return response.container_id();
}

absl::StatusOr<std::string> CriTest::CreateDefaultContainer(const Pod& pod,
                                                            const std::string& name_prefix) {
  return CreateContainer(pod, DefaultContainerConfig(name_prefix));
}

absl::Status CriTest::StartContainer(const std::string& container_id) {
  v1::StartContainerRequest request;
  request.set_container_id(container_id);
  v1::StartContainerResponse response;
  return Call(&v1::RuntimeService::Stub::StartContainer, request, &response);
}

absl::Status CriTest::StopContainer(const std::string& container_id, int64_t timeout_s) {
  v1::StopContainerRequest request;
  request.set_container_id(container_id);
  request.set_timeout(timeout_s);
  v1::StopContainerResponse response;
  return Call(&v1::RuntimeService::Stub::StopContainer, request, &response,
              absl::Seconds(timeout_s) + absl::Minutes(1));
}

absl::Status CriTest::RemoveContainer(const std::string& container_id) {
  v1::RemoveContainerRequest request;
  request.set_container_id(container_id);
  v1::RemoveContainerResponse response;
  return Call(&v1::RuntimeService::Stub::RemoveContainer, request, &response);
}

absl::StatusOr<v1::ContainerStatusResponse> CriTest::ContainerStatus(
    const std::string& container_id, bool verbose) {
  v1::ContainerStatusRequest request;
  request.set_container_id(container_id);
  request.set_verbose(verbose);
  v1::ContainerStatusResponse response;
  RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::ContainerStatus, request, &response));
  return response;
}

absl::StatusOr<std::vector<v1::Container>> CriTest::ListContainers(
    const v1::ContainerFilter& filter) {
  v1::ListContainersRequest request;
  *request.mutable_filter() = filter;
  v1::ListContainersResponse response;
  RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::ListContainers, request, &response));
  return std::vector<v1::Container>(response.containers().begin(), response.containers().end());
}

absl::Status CriTest::WaitForContainerState(const std::string& container_id,
                                            v1::ContainerState state, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  v1::ContainerState last = v1::CONTAINER_UNKNOWN;
  while (true) {
    ASSIGN_OR_RETURN(v1::ContainerStatusResponse status, ContainerStatus(container_id));
    last = status.status().state();
    if (last == state) return absl::OkStatus();
    if (absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("container ", container_id, " is ", v1::ContainerState_Name(last), ", not ",
                   v1::ContainerState_Name(state), " after ", absl::FormatDuration(timeout)));
}

absl::StatusOr<ExecResult> CriTest::ExecSync(const std::string& container_id,
                                             const std::vector<std::string>& cmd,
                                             int64_t timeout_s) {
  v1::ExecSyncRequest request;
  request.set_container_id(container_id);
  for (const std::string& arg : cmd) request.add_cmd(arg);
  request.set_timeout(timeout_s);
  v1::ExecSyncResponse response;
  RETURN_IF_ERROR(Call(&v1::RuntimeService::Stub::ExecSync, request, &response,
                       absl::Seconds(timeout_s) + absl::Minutes(2)));
  return ExecResult{response.stdout(), response.stderr(), response.exit_code()};
}

absl::StatusOr<std::string> CriTest::PullImage(const std::string& image) {
  v1::PullImageRequest request;
  request.mutable_image()->set_image(image);
  v1::PullImageResponse response;
  RETURN_IF_ERROR(Call(&v1::ImageService::Stub::PullImage, request, &response, absl::Minutes(5)));
  return response.image_ref();
}

absl::StatusOr<v1::Image> CriTest::ImageStatus(const std::string& image) {
  v1::ImageStatusRequest request;
  request.mutable_image()->set_image(image);
  v1::ImageStatusResponse response;
  RETURN_IF_ERROR(Call(&v1::ImageService::Stub::ImageStatus, request, &response));
  if (!response.has_image()) return absl::NotFoundError("image " + image + " is not pulled");
  return response.image();
}

absl::Status CriTest::RemoveImage(const std::string& image) {
  v1::RemoveImageRequest request;
  request.mutable_image()->set_image(image);
  v1::RemoveImageResponse response;
  return Call(&v1::ImageService::Stub::RemoveImage, request, &response);
}

absl::StatusOr<std::vector<v1::Image>> CriTest::ListImages(const v1::ImageFilter& filter) {
  v1::ListImagesRequest request;
  *request.mutable_filter() = filter;
  v1::ListImagesResponse response;
  RETURN_IF_ERROR(Call(&v1::ImageService::Stub::ListImages, request, &response));
  return std::vector<v1::Image>(response.images().begin(), response.images().end());
}

absl::StatusOr<std::vector<CriTest::LogLine>> CriTest::ReadContainerLog(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("no container log at " + path);
  std::vector<LogLine> lines;
  std::string line;
  while (std::getline(in, line)) {
    // "<RFC3339Nano time> <stream> <tag> <message>"
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (fields.size() < 3) return absl::DataLossError("malformed CRI log line: " + line);
    lines.push_back({fields[1], fields[2], fields.size() > 3 ? fields[3] : ""});
  }
  return lines;
}

absl::Status CriTest::RestartOcid(bool kill) { return SuiteEnvironment::Get().RestartOcid(kill); }

absl::StatusOr<int> HttpGetStatus(const std::string& ip, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError("not an IPv4 address: " + ip);
  }
  UniqueFd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return absl::ErrnoToStatus(errno, "socket");
  timeval timeout{5, 0};
  setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  const std::string target = absl::StrCat(ip, ":", port);
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::ErrnoToStatus(errno, "connect " + target);
  }
  const std::string request = absl::StrCat("GET / HTTP/1.0\r\nHost: ", target, "\r\n\r\n");
  if (send(sock.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::ErrnoToStatus(errno, "send to " + target);
  }
  // The status line ("HTTP/1.x 200 OK") is all we need.
  std::string response;
  char buffer[1024];
  while (response.find("\r\n") == std::string::npos && response.size() < 8192) {
    ssize_t n = recv(sock.get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "recv from " + target);
    if (n == 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  int code = 0;
  size_t space = response.find(' ');
  if (!absl::StartsWith(response, "HTTP/") || space == std::string::npos ||
      !absl::SimpleAtoi(response.substr(space + 1, 3), &code)) {
    return absl::UnavailableError(
        absl::StrCat("no HTTP status line from ", target, ": \"", response.substr(0, 80), "\""));
  }
  return code;
}

}  // namespace ocid::e2e
