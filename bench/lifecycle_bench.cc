// Pod and container lifecycle benchmark (run it with bench/lifecycle_bench.sh,
// which starts a local registry holding busybox). A private ocid on fresh
// dirs pulls REGISTRY/busybox:latest once, then per runtime (runc, crun) and
// per iteration, timed separately:
//   (a) RunPodSandbox: pod network (CNI loopback only) and IPC, own PID
//       namespace per container
//   (b) CreateContainer + StartContainer of `sh -c 'exec sleep 3600'`
//   (c) StopContainer(0) + RemoveContainer + StopPodSandbox + RemovePodSandbox
// The floor, interleaved with ocid's iterations in the same run:
//   (a) ocid-pinns --net --ipc --uts (what every pod costs at least)
//   (b) OciRuntime::Create + Start under conmon, a plain-dir busybox rootfs
//       and the config.json BuildContainerSpec makes for the same request
//   (c) Kill SIGKILL + wait for conmon's exit file + Delete, and the unpin
//       (ocid unpins in StopPodSandbox, so the unpin is counted in (c))
// and, timed apart in the same floor iteration, the other program ocid runs
// in a pod's phases here: the CNI loopback plugin, exec'd directly with ADD
// after the pin and DEL before the unpin. The "external floor" adds it to
// (a) and (c): every process ocid must run, none of ocid's own work. (No
// ocid-infra: these pods have a PID namespace per container.)
// Then ocid's RSS with --rss-pods pods of one running container each (a
// list such as 10,50,200 measures at each count, the pods added on the way),
// and ListContainers (no filter) over --list-pods x --list-containers
// containers (--list-pods 0: not measured).
// ocid's runroot and the floor's bundles, exit files and pins are on a
// tmpfs of the bench's (--runroot-tmpfs 1, the default), as /run is on a
// systemd host (this machine's /run is on its disk); --runroot-tmpfs 0
// keeps them on the bench dir's disk.
// Reports p50/p99 per phase, ocid's overhead over the floor, and the targets;
// besides, "result:" lines for bench/lean_bench.sh.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "bench/bench_support.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/fs.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/config/config.h"
#include "pkg/oci/runtime.h"
#include "pkg/oci/spec.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr absl::Duration kRpcTimeout = absl::Seconds(60);
constexpr absl::Duration kPullTimeout = absl::Seconds(120);
constexpr absl::Duration kBulkRemoveTimeout = absl::Seconds(300);  // a pod of 50 containers
constexpr absl::Duration kExitTimeout = absl::Seconds(10);
constexpr char kFloorCgroupParent[] = "ocid-bench-floor";
constexpr char kOcidCgroupParent[] = "ocid";  // ocid's cgroupsPath without a cgroup_parent
constexpr double kOverheadTargetMs = 10;
constexpr long kRssTargetKb = 30 * 1024;        // with 50 pods, this bench's own
constexpr long kRss10PodsTargetKb = 15 * 1024;  // issue 15: with 10 pods
constexpr double kListTargetMs = 2;

struct Options {
  std::string registry;  // 127.0.0.1:PORT
  std::string ocid = "cmd/ocid/ocid";  // runfiles paths
  std::string pinns = "cmd/ocid/ocid-pinns";
  std::vector<std::string> runtimes = {"runc", "crun"};
  int iterations = 50;
  std::vector<int> rss_pods = {50};  // increasing
  int list_pods = 10;
  int list_containers = 50;  // per pod
  int list_calls = 200;
  bool list_started = false;  // start the ListContainers containers too
  int runroot_tmpfs = 1;
};

// A tmpfs at `dir`, which the bench dir's teardown unmounts.
absl::Status MountTmpfs(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirs(dir, 0755));
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
    return absl::ErrnoToStatus(errno, "mount tmpfs on " + dir);
  }
  return absl::OkStatus();
}

// Set by SIGINT/SIGTERM so that every loop stops and the teardown still runs
// (a signal handler can only reach a global).
volatile std::sig_atomic_t interrupted = 0;

absl::Status CheckInterrupted() {
  return interrupted ? absl::CancelledError("interrupted") : absl::OkStatus();
}


// ---- host resources: temp dir, cgroup parents, hugetlb for crun ----

// Removes /sys/fs/cgroup/*/NAME on destruction (the runtimes leave the
// parents of a cgroupsPath behind); only when this run made them.
class CgroupParents {
 public:
  explicit CgroupParents(std::vector<std::string> names) {
    for (std::string& name : names) {
      if (!AnyExists(name)) names_.push_back(std::move(name));
    }
  }
  ~CgroupParents() {
    std::error_code error;
    for (const auto& controller : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      for (const std::string& name : names_) {
        ::rmdir((controller.path() / name).c_str());  // fails harmlessly when in use
      }
    }
  }

 private:
  static bool AnyExists(const std::string& name) {
    std::error_code error;
    for (const auto& controller : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      if (std::filesystem::exists(controller.path() / name, error)) return true;
    }
    return false;
  }
  std::vector<std::string> names_;
};

// crun refuses this host's hybrid cgroups unless hugetlb is a v1 controller
// at exactly /sys/fs/cgroup/hugetlb (MACHINE-NOTES); mounted here only if
// missing, and then unmounted again.
class HugetlbForCrun {
 public:
  absl::Status Ensure() {
    const std::string dir = "/sys/fs/cgroup/hugetlb";
    std::ifstream in("/proc/self/mounts");
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(" " + dir + " cgroup ") != std::string::npos) return absl::OkStatus();
    }
    if (::mkdir(dir.c_str(), 0755) == 0) made_dir_ = true;
    else if (errno != EEXIST) return absl::ErrnoToStatus(errno, "mkdir " + dir);
    if (::mount("cgroup", dir.c_str(), "cgroup", 0, "hugetlb") != 0) {
      return absl::ErrnoToStatus(errno, "mount the hugetlb cgroup on " + dir);
    }
    mount_ = ScopedMount(dir);
    return absl::OkStatus();
  }
  ~HugetlbForCrun() {
    mount_.Unmount().IgnoreError();
    if (made_dir_) ::rmdir("/sys/fs/cgroup/hugetlb");
  }

 private:
  ScopedMount mount_;
  bool made_dir_ = false;
};

// ---- the CRI client side ----

// A private ocid and its CRI client. On destruction: every pod still known
// is removed over CRI, ocid gets SIGTERM (SIGKILL after 15 s), and anything
// a dead ocid could not remove is removed behind its back.
class OcidSession {
 public:
  static absl::StatusOr<std::unique_ptr<OcidSession>> Start(const Options& options,
                                                            const std::string& dir);
  ~OcidSession();

  pid_t pid() const { return process_.pid(); }
  absl::Status Pull(const std::string& image);
  absl::StatusOr<std::string> RunPod(const cri::PodSandboxConfig& config,
                                     const std::string& handler);
  absl::StatusOr<std::string> CreateContainer(const std::string& pod_id,
                                              const cri::PodSandboxConfig& pod,
                                              const cri::ContainerConfig& config);
  absl::Status StartContainer(const std::string& id);
  absl::Status ExpectRunning(const std::string& id);
  absl::Status StopContainer(const std::string& id);
  absl::Status RemoveContainer(const std::string& id);
  absl::Status StopPod(const std::string& id);
  absl::Status RemovePod(const std::string& id, absl::Duration timeout = kRpcTimeout);
  absl::StatusOr<int> ListContainers();

 private:
  OcidSession(Subprocess process, std::string dir) : process_(std::move(process)), dir_(std::move(dir)) {}
  absl::Status WaitUntilServing();
  void Shutdown();

  template <typename Stub, typename Request, typename Response>
  static absl::Status Call(Stub& stub,
                           grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                        Response*),
                           const char* name, const Request& request, Response* response,
                           absl::Duration timeout = kRpcTimeout) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    grpc::Status status = (stub.*method)(&context, request, response);
    if (status.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(name, ": ", status.error_message()));
  }

  Subprocess process_;
  std::string dir_;
  std::unique_ptr<cri::RuntimeService::Stub> runtime_;
  std::unique_ptr<cri::ImageService::Stub> images_;
  std::set<std::string> pods_;  // not yet removed
  // Containers not yet removed, with their handlers: the fallback teardown
  // deletes them from the runtime if ocid could not.
  std::map<std::string, std::string> containers_;
  std::map<std::string, std::vector<std::string>> containers_of_pod_;
  std::map<std::string, std::string> handler_of_pod_;
};

absl::StatusOr<std::unique_ptr<OcidSession>> OcidSession::Start(const Options& options,
                                                                const std::string& dir) {
  ASSIGN_OR_RETURN(Subprocess process, StartLoopbackOcid(options.ocid, dir, options.registry));
  std::unique_ptr<OcidSession> session(new OcidSession(std::move(process), dir));
  RETURN_IF_ERROR(session->WaitUntilServing());
  return session;
}

absl::Status OcidSession::WaitUntilServing() {
  const std::string socket = dir_ + "/ocid.sock";
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  runtime_ = cri::RuntimeService::NewStub(channel);
  images_ = cri::ImageService::NewStub(channel);
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  cri::VersionResponse version;
  grpc::Status status = runtime_->Version(&context, cri::VersionRequest(), &version);
  if (!status.ok()) return absl::InternalError("Version: " + status.error_message());
  return absl::OkStatus();
}

OcidSession::~OcidSession() {
  for (const std::string& pod : std::set<std::string>(pods_)) {
    absl::Status removed = RemovePod(pod, kBulkRemoveTimeout);
    if (!removed.ok()) std::fprintf(stderr, "teardown: %s\n", removed.ToString().c_str());
  }
  Shutdown();
  // What ocid could not remove (it died, or a call failed): by the runtime.
  for (const auto& [id, handler] : containers_) {
    std::string binary = handler == "crun" ? "/usr/bin/crun" : "/usr/sbin/runc";
    auto child = Subprocess::SpawnLogged({binary, "--root", "/run/" + handler, "delete", "--force", id});
    if (child.ok()) (void)child->Wait();
  }
  KillConmonsUnder(dir_);
}

void OcidSession::Shutdown() {
  if (!process_.Running()) return;
  (void)process_.Signal(SIGTERM);
  for (int i = 0; i < 1500 && process_.Running(); ++i) ::usleep(10000);
  // Subprocess's destructor sends SIGKILL if it is still running.
}

absl::Status OcidSession::Pull(const std::string& image) {
  cri::PullImageRequest request;
  request.mutable_image()->set_image(image);
  cri::PullImageResponse response;
  return Call(*images_, &cri::ImageService::Stub::PullImage, "PullImage", request, &response,
              kPullTimeout);
}

absl::StatusOr<std::string> OcidSession::RunPod(const cri::PodSandboxConfig& config,
                                                const std::string& handler) {
  cri::RunPodSandboxRequest request;
  *request.mutable_config() = config;
  request.set_runtime_handler(handler);
  cri::RunPodSandboxResponse response;
  RETURN_IF_ERROR(Call(*runtime_, &cri::RuntimeService::Stub::RunPodSandbox, "RunPodSandbox",
                       request, &response));
  pods_.insert(response.pod_sandbox_id());
  handler_of_pod_[response.pod_sandbox_id()] = handler.empty() ? "runc" : handler;
  return response.pod_sandbox_id();
}

absl::StatusOr<std::string> OcidSession::CreateContainer(const std::string& pod_id,
                                                         const cri::PodSandboxConfig& pod,
                                                         const cri::ContainerConfig& config) {
  cri::CreateContainerRequest request;
  request.set_pod_sandbox_id(pod_id);
  *request.mutable_config() = config;
  *request.mutable_sandbox_config() = pod;
  cri::CreateContainerResponse response;
  RETURN_IF_ERROR(Call(*runtime_, &cri::RuntimeService::Stub::CreateContainer, "CreateContainer",
                       request, &response));
  containers_[response.container_id()] = handler_of_pod_[pod_id];
  containers_of_pod_[pod_id].push_back(response.container_id());
  return response.container_id();
}

absl::Status OcidSession::StartContainer(const std::string& id) {
  cri::StartContainerRequest request;
  request.set_container_id(id);
  cri::StartContainerResponse response;
  return Call(*runtime_, &cri::RuntimeService::Stub::StartContainer, "StartContainer", request,
              &response);
}

absl::Status OcidSession::ExpectRunning(const std::string& id) {
  cri::ContainerStatusRequest request;
  request.set_container_id(id);
  cri::ContainerStatusResponse response;
  RETURN_IF_ERROR(Call(*runtime_, &cri::RuntimeService::Stub::ContainerStatus, "ContainerStatus",
                       request, &response));
  if (response.status().state() == cri::CONTAINER_RUNNING) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("container ", id, " is ",
                                          cri::ContainerState_Name(response.status().state()),
                                          " after StartContainer"));
}

absl::Status OcidSession::StopContainer(const std::string& id) {
  cri::StopContainerRequest request;
  request.set_container_id(id);
  request.set_timeout(0);
  cri::StopContainerResponse response;
  return Call(*runtime_, &cri::RuntimeService::Stub::StopContainer, "StopContainer", request,
              &response);
}

absl::Status OcidSession::RemoveContainer(const std::string& id) {
  cri::RemoveContainerRequest request;
  request.set_container_id(id);
  cri::RemoveContainerResponse response;
  RETURN_IF_ERROR(Call(*runtime_, &cri::RuntimeService::Stub::RemoveContainer, "RemoveContainer",
                       request, &response));
  containers_.erase(id);
  return absl::OkStatus();
}

absl::Status OcidSession::StopPod(const std::string& id) {
  cri::StopPodSandboxRequest request;
  request.set_pod_sandbox_id(id);
  cri::StopPodSandboxResponse response;
  return Call(*runtime_, &cri::RuntimeService::Stub::StopPodSandbox, "StopPodSandbox", request,
              &response);
}

absl::Status OcidSession::RemovePod(const std::string& id, absl::Duration timeout) {
  cri::RemovePodSandboxRequest request;
  request.set_pod_sandbox_id(id);
  cri::RemovePodSandboxResponse response;
  RETURN_IF_ERROR(Call(*runtime_, &cri::RuntimeService::Stub::RemovePodSandbox,
                       "RemovePodSandbox", request, &response, timeout));
  pods_.erase(id);
  for (const std::string& container : containers_of_pod_[id]) containers_.erase(container);
  containers_of_pod_.erase(id);
  return absl::OkStatus();
}

absl::StatusOr<int> OcidSession::ListContainers() {
  cri::ListContainersResponse response;
  RETURN_IF_ERROR(Call(*runtime_, &cri::RuntimeService::Stub::ListContainers, "ListContainers",
                       cri::ListContainersRequest(), &response));
  return response.containers_size();
}

// ---- requests ----

cri::PodSandboxConfig PodConfig(const std::string& name, const std::string& log_root) {
  cri::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_("ocid-bench");
  config.mutable_metadata()->set_uid("uid-" + NewRandomId().substr(0, 16));
  config.set_hostname(name);
  config.set_log_directory(log_root + "/" + name);
  auto* namespaces = config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  namespaces->set_network(cri::POD);
  namespaces->set_ipc(cri::POD);
  namespaces->set_pid(cri::CONTAINER);
  return config;
}

cri::ContainerConfig SleepConfig(const std::string& name, const std::string& image) {
  cri::ContainerConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_image()->set_image(image);
  for (const char* arg : {"/bin/sh", "-c", "exec sleep 3600"}) config.add_command(arg);
  cri::KeyValue* path = config.add_envs();
  path->set_key("PATH");
  path->set_value("/usr/sbin:/usr/bin:/sbin:/bin");
  config.set_log_path(name + ".log");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      cri::CONTAINER);
  return config;
}

// ---- phases ----

struct PhaseTimes {
  std::vector<double> a, b, c;  // milliseconds
  // The floor's CNI loopback ADD and DEL, per iteration (the floor's only).
  std::vector<double> cni_add, cni_del;
};

// One pod with one running sleep container through ocid, then gone again.
absl::Status OcidIteration(OcidSession& ocid, const Options& options, const std::string& handler,
                           const std::string& dir, int i, PhaseTimes* times) {
  cri::PodSandboxConfig pod = PodConfig(absl::StrCat("lc-", handler, "-", i), dir + "/podlogs");
  absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(std::string pod_id, ocid.RunPod(pod, handler));
  if (times) times->a.push_back(MillisSince(start));

  cri::ContainerConfig container =
      SleepConfig("sleeper", options.registry + "/busybox:latest");
  start = absl::Now();
  ASSIGN_OR_RETURN(std::string id, ocid.CreateContainer(pod_id, pod, container));
  RETURN_IF_ERROR(ocid.StartContainer(id));
  if (times) times->b.push_back(MillisSince(start));
  RETURN_IF_ERROR(ocid.ExpectRunning(id));  // StartContainer answers once it runs

  start = absl::Now();
  RETURN_IF_ERROR(ocid.StopContainer(id));
  RETURN_IF_ERROR(ocid.RemoveContainer(id));
  RETURN_IF_ERROR(ocid.StopPod(pod_id));
  RETURN_IF_ERROR(ocid.RemovePod(pod_id));
  if (times) times->c.push_back(MillisSince(start));
  return absl::OkStatus();
}

// Collects conmon's exit files as its ExitWatcher reports them.
class ExitWaiter {
 public:
  static absl::StatusOr<std::unique_ptr<ExitWaiter>> Start(const std::string& dir) {
    std::unique_ptr<ExitWaiter> waiter(new ExitWaiter);
    ExitWaiter* raw = waiter.get();
    ASSIGN_OR_RETURN(waiter->watcher_, ExitWatcher::Start(dir, [raw](const std::string& id) {
                       absl::MutexLock lock(&raw->mu_);
                       raw->exited_.insert(id);
                     }));
    return waiter;
  }
  absl::Status WaitFor(const std::string& id, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return exited_.count(id) > 0; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&seen), timeout)) {
      return absl::DeadlineExceededError("no exit file for " + id);
    }
    exited_.erase(id);
    return absl::OkStatus();
  }

 private:
  ExitWaiter() = default;
  absl::Mutex mu_;
  std::set<std::string> exited_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ExitWatcher> watcher_;  // last: stops before the set goes
};

// The floor's fixed parts: a busybox rootfs, conmon dirs, the pin dir.
struct FloorEnv {
  std::string dir;  // <bench>/floor
  std::string rootfs, bundles, exits, pins, logs;
  std::string pinns;
  std::string loopback;  // the CNI plugin, found where ocid looks
  std::string cni_path;  // CNI_PATH: ocid's plugin dirs
  std::unique_ptr<ExitWaiter> exits_waiter;
};

absl::StatusOr<FloorEnv> MakeFloorEnv(const Options& options, const std::string& bench_dir) {
  FloorEnv env;
  env.dir = bench_dir + "/floor";
  env.rootfs = env.dir + "/rootfs";
  env.logs = env.dir + "/logs";
  // What a runtime keeps in ocid's runroot.
  const std::string run = env.dir + "/run";
  if (options.runroot_tmpfs != 0) RETURN_IF_ERROR(MountTmpfs(run));
  env.bundles = run + "/bundles";
  env.exits = run + "/exits";
  env.pins = run + "/ns";
  env.pinns = std::filesystem::absolute(options.pinns).string();
  const std::vector<std::string> plugin_dirs = Config().plugin_dirs;  // as the private ocid
  env.cni_path = absl::StrJoin(plugin_dirs, ":");
  for (const std::string& plugin_dir : plugin_dirs) {
    if (env.loopback.empty() && ::access((plugin_dir + "/loopback").c_str(), X_OK) == 0) {
      env.loopback = plugin_dir + "/loopback";
    }
  }
  if (env.loopback.empty()) {
    return absl::NotFoundError("no CNI loopback plugin in " + env.cni_path);
  }
  for (const char* sub : {"/bin", "/etc", "/proc", "/dev", "/sys", "/tmp"}) {
    RETURN_IF_ERROR(MakeDirs(env.rootfs + sub, 0755));
  }
  for (const std::string* d : {&env.bundles, &env.exits, &env.logs}) {
    RETURN_IF_ERROR(MakeDirs(*d, 0700));
  }
  std::error_code error;
  std::filesystem::copy_file("/bin/busybox", env.rootfs + "/bin/busybox", error);
  if (error) return absl::InternalError("copy /bin/busybox: " + error.message());
  for (const char* applet : {"sh", "sleep"}) {
    std::filesystem::create_symlink("busybox", env.rootfs + "/bin/" + applet, error);
    if (error) return absl::InternalError("symlink " + std::string(applet) + ": " + error.message());
  }
  RETURN_IF_ERROR(WriteFileAtomically(env.rootfs + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
  RETURN_IF_ERROR(WriteFileAtomically(env.rootfs + "/etc/group", "root:x:0:\n"));
  ASSIGN_OR_RETURN(env.exits_waiter, ExitWaiter::Start(env.exits));
  return env;
}

// config.json for the floor container: the spec ocid would build for the
// same request, in the host's network/IPC/UTS, under /ocid-bench-floor.
absl::Status WriteFloorBundle(const FloorEnv& env, const std::string& id,
                              const std::string& bundle) {
  cri::ContainerConfig config = SleepConfig("sleeper", "busybox");
  SandboxContext sandbox;
  sandbox.id = id;
  ContainerSpecInputs inputs{id, &config, nullptr, &sandbox, env.rootfs, 0, "cgroupfs"};
  ASSIGN_OR_RETURN(nlohmann::json spec, BuildContainerSpec(inputs));
  spec["linux"]["cgroupsPath"] = absl::StrCat("/", kFloorCgroupParent, "/", id);
  RETURN_IF_ERROR(MakeDirs(bundle + "/persist", 0700));
  return WriteFileAtomically(bundle + "/config.json", spec.dump(), 0600);
}

void Unpin(const FloorEnv& env, const std::string& id) {
  for (const char* kind : {"net", "ipc", "uts"}) {
    std::string pin = absl::StrCat(env.pins, "/", kind, "/", id);
    ::umount2(pin.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    ::unlink(pin.c_str());
  }
}

absl::Status RunPinns(const FloorEnv& env, const std::string& id) {
  ASSIGN_OR_RETURN(Subprocess pinns, Subprocess::SpawnLogged({env.pinns, "--dir", env.pins, "--name",
                                                            id, "--net", "--ipc", "--uts"}));
  ASSIGN_OR_RETURN(int status, pinns.Wait());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError("ocid-pinns failed for " + id);
  }
  return absl::OkStatus();
}

// The CNI loopback plugin on the pinned netns, as ocid's CniManager runs it
// for the loopback-only network (the same env; the conflist's one plugin
// config with its name and version), without ocid's result cache.
absl::Status RunLoopback(const FloorEnv& env, const std::string& id, const char* command) {
  Subprocess::Options options;
  options.argv = {env.loopback};
  options.env = {absl::StrCat("CNI_COMMAND=", command),
                 absl::StrCat("CNI_CONTAINERID=", id),
                 absl::StrCat("CNI_NETNS=", env.pins, "/net/", id),
                 "CNI_IFNAME=eth0",
                 absl::StrCat("CNI_PATH=", env.cni_path),
                 absl::StrCat("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=ocid-bench;K8S_POD_NAME=",
                              id, ";K8S_POD_INFRA_CONTAINER_ID=", id)};
  options.stdin_io =
      Stdio::Data(R"({"cniVersion": "1.0.0", "name": "lo-only", "type": "loopback"})");
  options.stdout_io = Stdio::Capture();
  options.stderr_io = Stdio::Capture();
  ASSIGN_OR_RETURN(Subprocess plugin, Subprocess::Spawn(std::move(options)));
  ASSIGN_OR_RETURN(int status, plugin.Wait());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("CNI loopback ", command, " failed for ", id, ": ",
                                            plugin.Stdout(), plugin.Stderr()));
  }
  return absl::OkStatus();
}

// The floor of one iteration; everything it made is gone again on return.
absl::Status FloorIteration(FloorEnv& env, OciRuntime& runtime, PhaseTimes* times) {
  const std::string id = NewRandomId();
  absl::Time start = absl::Now();
  RETURN_IF_ERROR(RunPinns(env, id));
  if (times) times->a.push_back(MillisSince(start));
  absl::Cleanup unpin = [&] { Unpin(env, id); };
  start = absl::Now();
  // The netns goes with its pin: loopback's ADD leaves nothing to undo.
  RETURN_IF_ERROR(RunLoopback(env, id, "ADD"));
  if (times) times->cni_add.push_back(MillisSince(start));

  const std::string bundle = env.bundles + "/" + id;
  absl::Cleanup remove_bundle = [&] {
    RemoveAll(bundle).IgnoreError();
    ::unlink((env.exits + "/" + id).c_str());
  };
  RETURN_IF_ERROR(WriteFloorBundle(env, id, bundle));
  ContainerLaunch launch{id, "sleeper", bundle, env.logs + "/" + id + ".log", env.exits,
                         bundle + "/persist"};
  start = absl::Now();
  RETURN_IF_ERROR(runtime.Create(launch).status());
  absl::Cleanup remove_container = [&] { runtime.Delete(id, /*force=*/true).IgnoreError(); };
  RETURN_IF_ERROR(runtime.Start(id));
  if (times) times->b.push_back(MillisSince(start));

  start = absl::Now();
  RETURN_IF_ERROR(runtime.Kill(id, SIGKILL));
  RETURN_IF_ERROR(env.exits_waiter->WaitFor(id, kExitTimeout));
  RETURN_IF_ERROR(runtime.Delete(id, /*force=*/false));
  std::move(remove_container).Cancel();
  double stopped_ms = MillisSince(start);
  start = absl::Now();
  RETURN_IF_ERROR(RunLoopback(env, id, "DEL"));  // ocid's StopPodSandbox runs it before the unpin
  double del_ms = MillisSince(start);
  start = absl::Now();
  std::move(unpin).Cancel();
  Unpin(env, id);
  if (times) {
    times->c.push_back(stopped_ms + MillisSince(start));
    times->cni_del.push_back(del_ms);
  }
  ::unlink((env.logs + "/" + id + ".log").c_str());
  return absl::OkStatus();
}

struct RuntimeResult {
  std::string handler;
  PhaseTimes ocid, floor;
};

// One warm-up round each (not counted), then ocid and floor alternate.
absl::StatusOr<RuntimeResult> MeasureLifecycle(OcidSession& ocid, FloorEnv& env,
                                               const Options& options, const std::string& handler,
                                               const std::string& dir) {
  RuntimeResult result{handler, {}, {}};
  RuntimeHandler runtime_handler{handler == "crun" ? "/usr/bin/crun" : "/usr/sbin/runc",
                                 "/run/" + handler, "oci"};
  OciRuntime runtime(handler, runtime_handler, "/usr/bin/conmon", env.dir);
  RETURN_IF_ERROR(OcidIteration(ocid, options, handler, dir, -1, nullptr));
  RETURN_IF_ERROR(FloorIteration(env, runtime, nullptr));
  for (int i = 0; i < options.iterations; ++i) {
    RETURN_IF_ERROR(CheckInterrupted());
    RETURN_IF_ERROR(OcidIteration(ocid, options, handler, dir, i, &result.ocid));
    RETURN_IF_ERROR(FloorIteration(env, runtime, &result.floor));
  }
  return result;
}

struct ManyPods {
  std::vector<std::string> pods;
  int containers = 0;
};

// `pods` pods of `per_pod` sleep containers each (started or only created).
absl::Status StartManyPods(OcidSession& ocid, const Options& options, const std::string& dir,
                           const std::string& prefix, int pods, int per_pod, bool start,
                           ManyPods* made) {
  cri::ContainerConfig container = SleepConfig("c", options.registry + "/busybox:latest");
  for (int p = 0; p < pods; ++p) {
    cri::PodSandboxConfig pod = PodConfig(absl::StrCat(prefix, "-", p), dir + "/podlogs");
    ASSIGN_OR_RETURN(std::string pod_id, ocid.RunPod(pod, ""));
    made->pods.push_back(pod_id);
    for (int c = 0; c < per_pod; ++c) {
      RETURN_IF_ERROR(CheckInterrupted());
      container.mutable_metadata()->set_name(absl::StrCat("c", c));
      container.set_log_path(absl::StrCat("c", c, ".log"));
      ASSIGN_OR_RETURN(std::string id, ocid.CreateContainer(pod_id, pod, container));
      if (start) RETURN_IF_ERROR(ocid.StartContainer(id));
      ++made->containers;
    }
  }
  return absl::OkStatus();
}

absl::Status RemoveManyPods(OcidSession& ocid, const ManyPods& made) {
  for (const std::string& pod : made.pods) RETURN_IF_ERROR(ocid.RemovePod(pod, kBulkRemoveTimeout));
  return absl::OkStatus();
}

struct RssResult {
  int pods = 0;
  long rss_kb = -1, vm_rss_kb = -1, peak_kb = -1;
  double setup_seconds = 0;  // for the pods added since the previous count
};

struct RssResults {
  long idle_kb = -1;
  std::vector<RssResult> counts;
  double teardown_seconds = 0;
};

// Pods are added up to each count of --rss-pods in turn, RSS read at each.
absl::StatusOr<RssResults> MeasureRss(OcidSession& ocid, const Options& options,
                                      const std::string& dir, long idle_kb) {
  RssResults results;
  results.idle_kb = idle_kb;
  ManyPods made;
  for (int pods : options.rss_pods) {
    RssResult result;
    result.pods = pods;
    absl::Time start = absl::Now();
    RETURN_IF_ERROR(StartManyPods(ocid, options, dir, absl::StrCat("rss", pods),
                                  pods - static_cast<int>(made.pods.size()), 1, true, &made));
    result.setup_seconds = absl::ToDoubleSeconds(absl::Now() - start);
    ::sleep(1);  // settle
    result.rss_kb = SmapsRollupKb(ocid.pid(), "Rss");
    result.vm_rss_kb = ProcStatusKb(ocid.pid(), "VmRSS");
    result.peak_kb = ProcStatusKb(ocid.pid(), "VmHWM");
    results.counts.push_back(result);
  }
  absl::Time start = absl::Now();
  RETURN_IF_ERROR(RemoveManyPods(ocid, made));
  results.teardown_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return results;
}

struct ListResult {
  int containers = 0;
  std::vector<double> millis;
  long rss_kb = -1;
  double setup_seconds = 0, teardown_seconds = 0;
};

absl::StatusOr<ListResult> MeasureList(OcidSession& ocid, const Options& options,
                                       const std::string& dir) {
  ListResult result;
  ManyPods made;
  absl::Time start = absl::Now();
  RETURN_IF_ERROR(StartManyPods(ocid, options, dir, "list", options.list_pods,
                                options.list_containers, options.list_started, &made));
  result.setup_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.rss_kb = ProcStatusKb(ocid.pid(), "VmRSS");
  for (int i = 0; i < options.list_calls; ++i) {
    RETURN_IF_ERROR(CheckInterrupted());
    start = absl::Now();
    ASSIGN_OR_RETURN(int listed, ocid.ListContainers());
    result.millis.push_back(MillisSince(start));
    if (listed != made.containers) {
      return absl::InternalError(
          absl::StrCat("ListContainers returned ", listed, " of ", made.containers));
    }
  }
  result.containers = made.containers;
  start = absl::Now();
  RETURN_IF_ERROR(RemoveManyPods(ocid, made));
  result.teardown_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

// ---- report ----

class Report {
 public:
  void Lifecycle(const RuntimeResult& r) {
    std::printf("\n%s: %zu iterations (+1 warm-up), ms\n", r.handler.c_str(), r.ocid.a.size());
    PrintResult("lifecycle.iterations", static_cast<double>(r.ocid.a.size()));
    std::printf("  %-44s %8s %8s   %8s %8s   %9s\n", "phase", "ocid p50", "p99", "floor p50",
                "p99", "overhead");
    Phase(r.handler, "a", "(a) RunPodSandbox", "pinns", r.ocid.a, r.floor.a);
    External(r.handler, "a", "pinns+CNI loopback ADD", r.ocid.a, Sum(r.floor.a, r.floor.cni_add));
    Phase(r.handler, "b", "(b) CreateContainer + StartContainer", "conmon+create+start", r.ocid.b,
          r.floor.b);
    External(r.handler, "b", "the same: ocid runs nothing else", r.ocid.b, r.floor.b);
    Phase(r.handler, "c", "(c) Stop/RemoveContainer + Stop/RemovePod", "kill+exit+delete+unpin",
          r.ocid.c, r.floor.c);
    External(r.handler, "c", "+CNI loopback DEL", r.ocid.c, Sum(r.floor.c, r.floor.cni_del));
  }
  void Rss(const RssResults& all) {
    std::printf("\nocid VmRSS idle after pull %ld kB; pods torn down in %.1f s\n", all.idle_kb,
                all.teardown_seconds);
    for (const RssResult& r : all.counts) {
      std::printf(
          "ocid with %d pods x 1 running container: smaps_rollup Rss %ld kB, VmRSS %ld kB "
          "(VmHWM %ld kB; pods added in %.1f s)\n",
          r.pods, r.rss_kb, r.vm_rss_kb, r.peak_kb, r.setup_seconds);
      PrintResult(absl::StrCat("lifecycle.rss_kb.pods_", r.pods), static_cast<double>(r.rss_kb));
      if (r.pods == 10) {
        Target("ocid Rss with 10 pods <= 15 MB (issue 15)",
               r.rss_kb >= 0 && r.rss_kb <= kRss10PodsTargetKb, absl::StrCat(r.rss_kb, " kB"));
      } else if (r.pods == 50) {
        Target("ocid VmRSS with 50 pods < 30 MB", r.vm_rss_kb >= 0 && r.vm_rss_kb < kRssTargetKb,
               absl::StrCat(r.vm_rss_kb, " kB"));
      }
    }
  }
  void List(const ListResult& r, const Options& options) {
    double p50 = Percentile(r.millis, 50);
    std::printf("\nListContainers, no filter, %d containers (%s) in %d pods, %d calls: "
                "p50 %.3f ms, p99 %.3f ms (ocid VmRSS %ld kB; set up in %.1f s, torn down in "
                "%.1f s)\n",
                r.containers, options.list_started ? "running" : "created", options.list_pods,
                options.list_calls, p50, Percentile(r.millis, 99), r.rss_kb, r.setup_seconds,
                r.teardown_seconds);
    Target(absl::StrCat("ListContainers p50 with ", r.containers, " containers < 2 ms"),
           p50 < kListTargetMs, absl::StrFormat("%.3f ms", p50));
  }
  void Summary() const {
    std::printf("\ntargets:\n");
    for (const std::string& line : targets_) std::printf("  %s\n", line.c_str());
    std::printf("targets: %d met, %d MISSED\n", met_, missed_);
  }

 private:
  void Phase(const std::string& handler, const char* key, const char* name, const char* floor,
             const std::vector<double>& ocid, const std::vector<double>& base) {
    const std::string prefix = absl::StrCat("lifecycle.", handler, ".", key, ".");
    PrintResult(prefix + "ocid_p50_ms", Percentile(ocid, 50));
    PrintResult(prefix + "ocid_p99_ms", Percentile(ocid, 99));
    PrintResult(prefix + "floor_p50_ms", Percentile(base, 50));
    PrintResult(prefix + "floor_p99_ms", Percentile(base, 99));
    double overhead = Percentile(ocid, 50) - Percentile(base, 50);
    std::printf("  %-44s %8.2f %8.2f   %8.2f %8.2f   %9.2f   (floor: %s)\n", name,
                Percentile(ocid, 50), Percentile(ocid, 99), Percentile(base, 50),
                Percentile(base, 99), overhead, floor);
    Target(absl::StrCat(handler, " ", name, ": ocid p50 - floor p50 < 10 ms"),
           overhead < kOverheadTargetMs, absl::StrFormat("%.2f ms", overhead));
  }
  // The floor with every other process ocid runs in the phase: reported
  // beside the floor, not a target of its own.
  void External(const std::string& handler, const char* key, const char* floor,
                const std::vector<double>& ocid, const std::vector<double>& external) {
    const std::string prefix = absl::StrCat("lifecycle.", handler, ".", key, ".");
    PrintResult(prefix + "external_floor_p50_ms", Percentile(external, 50));
    PrintResult(prefix + "external_floor_p99_ms", Percentile(external, 99));
    std::printf("  %-44s %8s %8s   %8.2f %8.2f   %9.2f   (external floor: %s)\n", "", "", "",
                Percentile(external, 50), Percentile(external, 99),
                Percentile(ocid, 50) - Percentile(external, 50), floor);
  }
  static std::vector<double> Sum(const std::vector<double>& x, const std::vector<double>& y) {
    std::vector<double> sum;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) sum.push_back(x[i] + y[i]);
    return sum;
  }
  void Target(const std::string& name, bool ok, const std::string& value) {
    (ok ? met_ : missed_)++;
    targets_.push_back(absl::StrFormat("%-76s %10s  %s", name, value, ok ? "met" : "MISSED"));
  }

  std::vector<std::string> targets_;
  int met_ = 0, missed_ = 0;
};

// ---- main ----

void OnSignal(int) { interrupted = 1; }

bool ParseFlags(int argc, char** argv, Options* options) {
  std::string runtimes = absl::StrJoin(options->runtimes, ",");
  std::string list_started = options->list_started ? "true" : "false";
  std::string rss_pods = absl::StrJoin(options->rss_pods, ",");
  if (!ParseBenchFlags(argc, argv,
                       {{"--registry", TextFlag(&options->registry)},
                        {"--ocid", TextFlag(&options->ocid)},
                        {"--pinns", TextFlag(&options->pinns)},
                        {"--runtimes", TextFlag(&runtimes)},
                        {"--iterations", CountFlag(&options->iterations)},
                        {"--rss-pods", TextFlag(&rss_pods)},
                        {"--list-pods", CountFlag(&options->list_pods, /*zero_ok=*/true)},
                        {"--list-containers", CountFlag(&options->list_containers)},
                        {"--list-calls", CountFlag(&options->list_calls)},
                        {"--list-started", TextFlag(&list_started)},
                        {"--runroot-tmpfs", CountFlag(&options->runroot_tmpfs, /*zero_ok=*/true)}})) {
    return false;
  }
  options->runtimes = absl::StrSplit(runtimes, ',');
  options->list_started = list_started == "true";
  options->rss_pods.clear();
  for (absl::string_view count : absl::StrSplit(rss_pods, ',')) {
    int pods = 0;
    if (!absl::SimpleAtoi(count, &pods) || pods < 1 ||
        (!options->rss_pods.empty() && pods <= options->rss_pods.back())) {
      return false;
    }
    options->rss_pods.push_back(pods);
  }
  for (const std::string& runtime : options->runtimes) {
    if (runtime != "runc" && runtime != "crun") return false;
  }
  return true;
}

absl::Status RunBench(const Options& options, Report& report) {
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("lifecycle"));
  HugetlbForCrun hugetlb;
  if (std::count(options.runtimes.begin(), options.runtimes.end(), "crun")) {
    RETURN_IF_ERROR(hugetlb.Ensure());
  }
  CgroupParents cgroup_parents({kFloorCgroupParent, kOcidCgroupParent});
  // Destroyed before the dir: kills what the floor left, then unmounts.
  absl::Cleanup kill_floor = [&] { KillConmonsUnder(dir->path() + "/floor"); };
  ASSIGN_OR_RETURN(FloorEnv floor, MakeFloorEnv(options, dir->path()));
  if (options.runroot_tmpfs != 0) RETURN_IF_ERROR(MountTmpfs(dir->path() + "/run"));
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid, OcidSession::Start(options, dir->path()));
  RETURN_IF_ERROR(ocid->Pull(options.registry + "/busybox:latest"));
  ::sleep(1);
  long idle_kb = ProcStatusKb(ocid->pid(), "VmRSS");

  for (const std::string& handler : options.runtimes) {
    std::fprintf(stderr, "lifecycle_bench: %d pod lifecycles with %s, ocid and floor\n",
                 options.iterations, handler.c_str());
    ASSIGN_OR_RETURN(RuntimeResult result,
                     MeasureLifecycle(*ocid, floor, options, handler, dir->path()));
    report.Lifecycle(result);
  }
  std::fprintf(stderr, "lifecycle_bench: RSS with %s pods\n",
               absl::StrJoin(options.rss_pods, ", ").c_str());
  ASSIGN_OR_RETURN(RssResults rss, MeasureRss(*ocid, options, dir->path(), idle_kb));
  report.Rss(rss);
  if (options.list_pods == 0) return absl::OkStatus();
  std::fprintf(stderr, "lifecycle_bench: ListContainers over %d containers\n",
               options.list_pods * options.list_containers);
  ASSIGN_OR_RETURN(ListResult list, MeasureList(*ocid, options, dir->path()));
  report.List(list, options);
  return absl::OkStatus();
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: lifecycle_bench --registry 127.0.0.1:PORT [--iterations 50] "
                 "[--runtimes runc,crun] [--rss-pods 50 | 10,50,200] [--list-pods 10 (0: none)] "
                 "[--list-containers 50] [--list-calls 200] [--list-started false] "
                 "[--runroot-tmpfs 1|0]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the report as it comes, also into a file
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf("lifecycle bench: %s/busybox:latest, runtimes %s under conmon, a private ocid; "
              "p99 is nearest-rank (of 50 samples: the slowest)\n",
              options.registry.c_str(), absl::StrJoin(options.runtimes, ", ").c_str());
  Report report;
  absl::Status status = RunBench(options, report);
  if (!status.ok()) {
    std::fprintf(stderr, "lifecycle_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  report.Summary();
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
