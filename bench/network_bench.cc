// Pod network benchmark (run it with bench/network_bench.sh): RunPodSandbox
// with a bridge network against the floor of invoking the same plugin chain
// directly, p50/p99 over --pods pods.
//
// Both sides use one CNI network, written identically into two config dirs:
// bridge "ocidbench0" (isGateway, no ipMasq), host-local 10.213.0.0/24 with
// its dataDir in the temp dir (so both sides draw from one address pool),
// then portmap (portMappings capability; the pods ask for no host ports, as
// a host port would add MASQUERADE rules to the host).
//   ocid:  a private ocid; RunPodSandbox with network and IPC of the pod and
//          a PID namespace per container (kubelet's defaults). Timed per call.
//   floor: what ocid must do at least for such a pod: ocid-pinns --net --ipc
//          --uts (the same binary and arguments ocid runs), then the chain's
//          ADD (bridge, portmap with prevResult) through a CniManager of our
//          own (own config dir and result cache) on the pinned netns. Timed
//          together and apart; no gRPC, records, pod files or /dev/shm.
// The sides alternate which goes first, iteration by iteration, so both see
// the same bridge (and host-local store) filling up. Pods stay until the end,
// then go (ocid: StopPodSandbox + RemovePodSandbox; floor: DEL + unpin).
// Everything made here is removed on the way out, on failure and on SIGINT
// too: pods, pins, the bridge (when this run made it), the temp dir.
//
//   bench/network_bench.sh [--pods 50] [--warmup 2] [--runroot-tmpfs 1]
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
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "bench/bench_support.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/fs.h"
#include "pkg/base/random_id.h"
#include "pkg/base/status_macros.h"
#include "pkg/config/config.h"
#include "pkg/network/cni.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr char kBridge[] = "ocidbench0";
constexpr char kSubnet[] = "10.213.0.0/24";
constexpr char kNetworkName[] = "ocid-bench-net";
constexpr char kPodNamespace[] = "ocid-bench";
constexpr absl::Duration kRpcTimeout = absl::Seconds(60);
constexpr double kOverheadTargetMs = 5;
// Both sides' pods are up at once and share a /24 (253 addresses).
constexpr int kMaxPods = 120;

struct Options {
  std::string ocid = "cmd/ocid/ocid";  // runfiles paths
  std::string pinns = "cmd/ocid/ocid-pinns";
  int pods = 50;
  int warmup = 2;  // per side, untimed (the first ADD also makes the bridge)
  // ocid's --runroot on a tmpfs, as /run is on most nodes (not on this one:
  // there it is ext4, where the pod files' fsyncs cost real time).
  bool runroot_tmpfs = false;
};

// Set by SIGINT/SIGTERM so that the loop stops and the teardown still runs
// (a signal handler can only reach a global).
volatile std::sig_atomic_t interrupted = 0;

// ---- host resources ----

std::string Conflist(const std::string& ipam_dir) {
  return absl::StrCat(R"({
  "cniVersion": "1.0.0",
  "name": ")",
                      kNetworkName, R"(",
  "plugins": [
    {"type": "bridge", "bridge": ")",
                      kBridge, R"(", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": ")",
                      ipam_dir, R"(",
              "ranges": [[{"subnet": ")",
                      kSubnet, R"("}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
)");
}

// ---- ocid over CRI ----

// A private ocid and its CRI client. On destruction every pod still known is
// removed over CRI and ocid gets SIGTERM (SIGKILL after 15 s).
class OcidSession {
 public:
  static absl::StatusOr<std::unique_ptr<OcidSession>> Start(const Options& options,
                                                            const std::string& dir);
  ~OcidSession();

  absl::StatusOr<std::string> RunPod(const cri::PodSandboxConfig& config);
  absl::Status StopAndRemovePod(const std::string& id);
  const std::set<std::string>& pods() const { return pods_; }

 private:
  OcidSession(Subprocess process, std::string dir)
      : process_(std::move(process)), dir_(std::move(dir)) {}
  absl::Status WaitUntilServing();
  absl::Status ExpectNetworkReady();

  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (cri::RuntimeService::Stub::*method)(grpc::ClientContext*,
                                                                      const Request&, Response*),
                    const char* name, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kRpcTimeout));
    grpc::Status status = (runtime_.get()->*method)(&context, request, response);
    if (status.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(name, ": ", status.error_message()));
  }

  Subprocess process_;
  std::string dir_;
  std::unique_ptr<cri::RuntimeService::Stub> runtime_;
  std::set<std::string> pods_;  // not yet removed
};

absl::StatusOr<std::unique_ptr<OcidSession>> OcidSession::Start(const Options& options,
                                                                const std::string& dir) {
  ASSIGN_OR_RETURN(Subprocess process, StartPrivateOcid(options.ocid, dir, {}));
  std::unique_ptr<OcidSession> session(new OcidSession(std::move(process), dir));
  RETURN_IF_ERROR(session->WaitUntilServing());
  RETURN_IF_ERROR(session->ExpectNetworkReady());
  return session;
}

absl::Status OcidSession::WaitUntilServing() {
  const std::string socket = dir_ + "/ocid.sock";
  runtime_ = cri::RuntimeService::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  cri::VersionResponse version;
  grpc::Status status = runtime_->Version(&context, cri::VersionRequest(), &version);
  if (!status.ok()) return absl::InternalError("Version: " + status.error_message());
  return absl::OkStatus();
}

absl::Status OcidSession::ExpectNetworkReady() {
  cri::StatusResponse response;
  RETURN_IF_ERROR(
      Call(&cri::RuntimeService::Stub::Status, "Status", cri::StatusRequest(), &response));
  for (const cri::RuntimeCondition& condition : response.status().conditions()) {
    if (condition.type() != "NetworkReady") continue;
    if (condition.status()) return absl::OkStatus();
    return absl::FailedPreconditionError("ocid's network is not ready: " + condition.message());
  }
  return absl::FailedPreconditionError("ocid reports no NetworkReady condition");
}

OcidSession::~OcidSession() {
  for (const std::string& pod : std::set<std::string>(pods_)) {
    absl::Status removed = StopAndRemovePod(pod);
    if (!removed.ok()) std::fprintf(stderr, "teardown: %s\n", removed.ToString().c_str());
  }
  if (process_.Running()) {
    (void)process_.Signal(SIGTERM);
    for (int i = 0; i < 1500 && process_.Running(); ++i) ::usleep(10000);
  }
  // Subprocess's destructor sends SIGKILL if it is still running.
}

absl::StatusOr<std::string> OcidSession::RunPod(const cri::PodSandboxConfig& config) {
  cri::RunPodSandboxRequest request;
  *request.mutable_config() = config;
  cri::RunPodSandboxResponse response;
  RETURN_IF_ERROR(
      Call(&cri::RuntimeService::Stub::RunPodSandbox, "RunPodSandbox", request, &response));
  pods_.insert(response.pod_sandbox_id());
  return response.pod_sandbox_id();
}

absl::Status OcidSession::StopAndRemovePod(const std::string& id) {
  cri::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(id);
  cri::StopPodSandboxResponse stopped;
  RETURN_IF_ERROR(
      Call(&cri::RuntimeService::Stub::StopPodSandbox, "StopPodSandbox", stop, &stopped));
  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(id);
  cri::RemovePodSandboxResponse removed;
  RETURN_IF_ERROR(
      Call(&cri::RuntimeService::Stub::RemovePodSandbox, "RemovePodSandbox", remove, &removed));
  pods_.erase(id);
  return absl::OkStatus();
}

cri::PodSandboxConfig PodConfig(const std::string& name, const std::string& log_root) {
  cri::PodSandboxConfig config;
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_(kPodNamespace);
  config.mutable_metadata()->set_uid("uid-" + name);
  config.set_hostname(name);
  config.set_log_directory(log_root + "/" + name);
  auto* namespaces =
      config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  namespaces->set_network(cri::POD);
  namespaces->set_ipc(cri::POD);
  namespaces->set_pid(cri::CONTAINER);
  return config;
}

// ---- the floor ----

struct FloorSample {
  double pinns_ms = 0, chain_ms = 0;
};

// Pods made by pinning namespaces and running the chain directly. On
// destruction every pod still up gets DEL and is unpinned.
class FloorPods {
 public:
  static absl::StatusOr<std::unique_ptr<FloorPods>> Start(const Options& options,
                                                          const std::string& dir);
  ~FloorPods();

  absl::StatusOr<FloorSample> Add(const std::string& name);
  absl::Status Remove(const std::string& id);
  std::vector<std::string> ids() const { return {pods_.begin(), pods_.end()}; }

 private:
  FloorPods(std::string pinns, std::string pins, std::string log)
      : pinns_(std::move(pinns)), pins_(std::move(pins)), log_(std::move(log)) {}
  PodNetworkRequest Request(const std::string& id) const;
  absl::Status Unpin(const std::string& id) const;

  std::string pinns_, pins_, log_;
  std::unique_ptr<CniManager> cni_;
  std::set<std::string> pods_;  // pinned, maybe with a network
};

absl::StatusOr<std::unique_ptr<FloorPods>> FloorPods::Start(const Options& options,
                                                            const std::string& dir) {
  std::unique_ptr<FloorPods> floor(new FloorPods(std::filesystem::absolute(options.pinns).string(),
                                                 dir + "/ns", dir + "/pinns.log"));
  CniOptions cni;
  cni.config_dir = dir + "/net.d";
  cni.plugin_dirs = Config().plugin_dirs;  // ocid's default, as the private ocid uses
  cni.cache_dir = dir + "/cni-cache";
  ASSIGN_OR_RETURN(floor->cni_, CniManager::Start(cni));
  RETURN_IF_ERROR(floor->cni_->Ready());
  return floor;
}

FloorPods::~FloorPods() {
  for (const std::string& id : ids()) {
    absl::Status removed = Remove(id);
    if (!removed.ok()) std::fprintf(stderr, "teardown: %s\n", removed.ToString().c_str());
  }
}

PodNetworkRequest FloorPods::Request(const std::string& id) const {
  PodNetworkRequest request;
  request.pod_id = id;
  request.netns_path = absl::StrCat(pins_, "/net/", id);
  return request;
}

// Pins as ocid does (pkg/sandbox PinNamespaces: the same binary, arguments
// and hostname), then runs ADD over the chain.
absl::StatusOr<FloorSample> FloorPods::Add(const std::string& name) {
  std::string id = NewRandomId();
  FloorSample sample;
  absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(Subprocess pinns,
                   Subprocess::SpawnLogged({pinns_, "--dir", pins_, "--name", id, "--net", "--ipc",
                                        "--uts", "--hostname", name},
                                       log_));
  ASSIGN_OR_RETURN(int status, pinns.Wait());
  sample.pinns_ms = MillisSince(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("ocid-pinns failed for ", name, "; see ", log_));
  }
  pods_.insert(id);

  PodNetworkRequest request = Request(id);
  request.pod_name = name;
  request.pod_namespace = kPodNamespace;
  request.pod_uid = "uid-" + name;
  start = absl::Now();
  RETURN_IF_ERROR(cni_->SetUp(request).status());
  sample.chain_ms = MillisSince(start);
  return sample;
}

absl::Status FloorPods::Remove(const std::string& id) {
  absl::Status status = cni_->TearDown(Request(id));
  absl::Status unpinned = Unpin(id);
  if (status.ok()) status = unpinned;
  if (status.ok()) pods_.erase(id);
  return status;
}

absl::Status FloorPods::Unpin(const std::string& id) const {
  for (const char* kind : {"net", "ipc", "uts"}) {
    std::string pin = absl::StrCat(pins_, "/", kind, "/", id);
    while (::umount2(pin.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
    }
    if (::unlink(pin.c_str()) != 0 && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, "remove pin " + pin);
    }
  }
  return absl::OkStatus();
}

// ---- the run ----

struct Samples {
  std::vector<double> ocid, floor, pinns, chain;
  std::vector<double> ocid_teardown, floor_teardown;
};

absl::Status OcidPod(OcidSession& ocid, const std::string& dir, int i, std::vector<double>* times) {
  cri::PodSandboxConfig config = PodConfig(absl::StrCat("nb-ocid-", i), dir + "/podlogs");
  absl::Time start = absl::Now();
  RETURN_IF_ERROR(ocid.RunPod(config).status());
  if (times) times->push_back(MillisSince(start));
  return absl::OkStatus();
}

absl::Status FloorPod(FloorPods& floor, int i, Samples* samples) {
  ASSIGN_OR_RETURN(FloorSample sample, floor.Add(absl::StrCat("nb-floor-", i)));
  if (samples) {
    samples->floor.push_back(sample.pinns_ms + sample.chain_ms);
    samples->pinns.push_back(sample.pinns_ms);
    samples->chain.push_back(sample.chain_ms);
  }
  return absl::OkStatus();
}

absl::Status TearDownAll(OcidSession& ocid, FloorPods& floor, Samples* samples) {
  for (const std::string& id : std::set<std::string>(ocid.pods())) {
    absl::Time start = absl::Now();
    RETURN_IF_ERROR(ocid.StopAndRemovePod(id));
    samples->ocid_teardown.push_back(MillisSince(start));
  }
  for (const std::string& id : floor.ids()) {
    absl::Time start = absl::Now();
    RETURN_IF_ERROR(floor.Remove(id));
    samples->floor_teardown.push_back(MillisSince(start));
  }
  return absl::OkStatus();
}

absl::Status RunBench(const Options& options, Samples* samples) {
  ASSIGN_OR_RETURN(std::unique_ptr<HostBridge> host, HostBridge::Claim(kBridge));
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> bench, BenchDir::Make("network"));
  const std::string& dir = bench->path();
  std::string conflist = Conflist(dir + "/ipam");
  for (const char* side : {"/ocid", "/floor"}) {
    RETURN_IF_ERROR(MakeDirs(dir + side + "/net.d", 0755));
    RETURN_IF_ERROR(WriteFileAtomically(dir + side + "/net.d/10-bench.conflist", conflist));
  }
  if (options.runroot_tmpfs) {
    // Unmounted by ~BenchDir, after ocid has stopped.
    RETURN_IF_ERROR(MakeDirs(dir + "/ocid/run", 0755));
    if (::mount("tmpfs", (dir + "/ocid/run").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") !=
        0) {
      return absl::ErrnoToStatus(errno, "mount tmpfs on " + dir + "/ocid/run");
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<FloorPods> floor, FloorPods::Start(options, dir + "/floor"));
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid, OcidSession::Start(options, dir + "/ocid"));

  for (int i = 0; i < options.warmup + options.pods; ++i) {
    if (interrupted) return absl::CancelledError("interrupted");
    bool timed = i >= options.warmup;
    if (i % 2 == 0) {
      RETURN_IF_ERROR(OcidPod(*ocid, dir, i, timed ? &samples->ocid : nullptr));
      RETURN_IF_ERROR(FloorPod(*floor, i, timed ? samples : nullptr));
    } else {
      RETURN_IF_ERROR(FloorPod(*floor, i, timed ? samples : nullptr));
      RETURN_IF_ERROR(OcidPod(*ocid, dir, i, timed ? &samples->ocid : nullptr));
    }
  }
  // On every path out, the objects above go in reverse: ocid's pods and ocid
  // first, then the floor's pods, the temp dir and last the bridge.
  return TearDownAll(*ocid, *floor, samples);
}

void PrintRow(const char* label, const std::vector<double>& values) {
  std::printf("  %-40s p50 %7.2f ms   p99 %7.2f ms\n", label, Percentile(values, 50),
              Percentile(values, 99));
}

void Report(const Options& options, const Samples& samples) {
  std::printf(
      "RunPodSandbox on a bridge network (%s, %s, + portmap), %d pods per side "
      "(+%d warm-up), interleaved; ocid's runroot on %s\n",
      kBridge, kSubnet, options.pods, options.warmup,
      options.runroot_tmpfs ? "tmpfs" : "the temp dir's file system");
  PrintRow("ocid RunPodSandbox", samples.ocid);
  PrintRow("floor: ocid-pinns + chain ADD", samples.floor);
  PrintRow("  ocid-pinns --net --ipc --uts", samples.pinns);
  PrintRow("  chain ADD only (bridge, portmap)", samples.chain);
  PrintRow("teardown: ocid StopPod + RemovePod", samples.ocid_teardown);
  PrintRow("teardown: floor chain DEL + unpin", samples.floor_teardown);
  double overhead = Percentile(samples.ocid, 50) - Percentile(samples.floor, 50);
  // The sides alternate within an iteration, so the per-iteration difference
  // cancels most of the drift a busy machine adds to both.
  std::vector<double> paired;
  for (size_t i = 0; i < samples.ocid.size() && i < samples.floor.size(); ++i) {
    paired.push_back(samples.ocid[i] - samples.floor[i]);
  }
  std::printf("per-iteration ocid - floor (paired): p50 %.2f ms\n", Percentile(paired, 50));
  std::printf("overhead (ocid p50 - floor p50): %.2f ms (ocid/floor %.2fx); target < %.0f ms: %s\n",
              overhead, Percentile(samples.ocid, 50) / Percentile(samples.floor, 50),
              kOverheadTargetMs, overhead < kOverheadTargetMs ? "met" : "MISSED");
}

void OnSignal(int) { interrupted = 1; }

int Run(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--ocid") {
      options.ocid = argv[i + 1];
    } else if (flag == "--pinns") {
      options.pinns = argv[i + 1];
    } else if (flag == "--pods" && absl::SimpleAtoi(argv[i + 1], &options.pods) &&
               options.pods > 0) {
    } else if (flag == "--warmup" && absl::SimpleAtoi(argv[i + 1], &options.warmup) &&
               options.warmup >= 0) {
    } else if (flag == "--runroot-tmpfs" && absl::SimpleAtob(argv[i + 1], &options.runroot_tmpfs)) {
    } else {
      argc = -1;
      break;
    }
  }
  if (argc < 0 || argc % 2 == 0 || options.pods + options.warmup > kMaxPods) {
    std::fprintf(
        stderr,
        "usage: network_bench [--pods N] [--warmup N] [--runroot-tmpfs BOOL] [--ocid PATH]\n"
        "                     [--pinns PATH]\n"
        "  (pods + warmup <= %d)\n",
        kMaxPods);
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  Samples samples;
  absl::Status status = RunBench(options, &samples);
  if (!status.ok()) {
    std::fprintf(stderr, "network_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  Report(options, samples);
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
