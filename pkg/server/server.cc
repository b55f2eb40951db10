#include "pkg/server/server.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"
#include "pkg/cgroups/paths.h"
#include "pkg/oci/runtime.h"
#include "pkg/oci/spec.h"
#include "pkg/server/event_streams.h"
#include "pkg/server/rpc.h"
#include "pkg/server/socket_publish.h"
#include "pkg/storage/image_gc.h"
#include "pkg/trust/image_trust.h"

namespace ocid {
namespace {

// True when something accepts connections on the unix socket at `path`.
absl::StatusOr<bool> SocketIsLive(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "create probe socket");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    return true;
  }
  if (errno == ECONNREFUSED || errno == ENOENT) return false;
  return absl::ErrnoToStatus(errno, absl::StrCat("probe socket ", path));
}

}  // namespace

absl::Status PrepareSocketPath(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path ", path, " is longer than ",
                                                   sizeof(sockaddr_un::sun_path) - 1, " bytes"));
  }
  std::string dir = path.substr(0, path.rfind('/'));
  RETURN_IF_ERROR(MakeDirs(dir, 0755));
  if (::access(dir.empty() ? "/" : dir.c_str(), W_OK | X_OK) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("socket dir ", dir, " is not writable"));
  }

  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; refusing to replace it"));
  }
  ASSIGN_OR_RETURN(bool live, SocketIsLive(path));
  if (live) {
    return absl::FailedPreconditionError(
        absl::StrCat("another server is already listening on ", path));
  }
  OCID_LOG(kInfo) << "removing stale socket " << path;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("remove stale socket ", path));
  }
  return absl::OkStatus();
}

CriServer::CriServer(const Config& config) : config_(config), seccomp_(config.seccomp_profile) {}

namespace {

// The helpers ocid runs for pods sit beside the ocid binary.
std::string BesideOcid(const std::string& name) {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "/usr/local/bin/" + name;
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + name;
}

}  // namespace

CriServer::~CriServer() {
  Shutdown(absl::ZeroDuration());
  StopMetrics();  // also when serving never began
}

absl::Status CriServer::Reload(const Config& fresh) {
  ASSIGN_OR_RETURN(PullConfig pull_config, LoadPullConfig());
  ASSIGN_OR_RETURN(PinnedImages pinned, PinnedImages::Parse(fresh.pinned_images));
  ASSIGN_OR_RETURN(LogLevel level, ParseLogLevel(fresh.log_level));
  if (puller_ == nullptr || image_service_ == nullptr || runtimes_ == nullptr) {
    return absl::FailedPreconditionError("not serving");
  }
  // The runtimes themselves are the start's: a new default must be one.
  if (config_.runtimes.count(fresh.default_runtime) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ocid.runtime.default_runtime: \"", fresh.default_runtime,
        "\" is not one of the runtimes ocid started with (a new runtime needs a restart)"));
  }
  // All read: now applied together.
  puller_->Reconfigure(std::move(pull_config));
  image_service_->SetPinned(std::move(pinned));
  SetLogLevel(level);
  RETURN_IF_ERROR(runtimes_->SetDefault(fresh.default_runtime));
  for (const std::string& key : ChangedKeys(config_, fresh)) {
    if (key == "ocid.log_level" || key == "ocid.image.pinned_images" ||
        key == "ocid.runtime.default_runtime") {
      continue;
    }
    OCID_LOG(kWarn) << "reload: " << key << " changed; it takes effect when ocid restarts";
  }
  return absl::OkStatus();
}

void CriServer::StopMetrics() {
  if (metrics_ == nullptr) return;
  SetOperationMetrics(nullptr);  // no call records past here
  metrics_.reset();
}

absl::StatusOr<PullConfig> CriServer::LoadPullConfig() const {
  return PullConfig::Load({config_.registries_conf, config_.signature_policy,
                           config_.registries_d, config_.signature_policy_dir});
}

// Under the root, as the images it names: root's own (containers/image
// keeps /var/cache/containers/short-name-aliases.conf).
std::string CriServer::ShortNameAliasCachePath() const {
  return config_.root + "/short-name-aliases.conf";
}

// <root>/storage holds everything images need: blobs, layers, image records.
absl::Status CriServer::OpenStores() {
  std::string storage = config_.root + "/storage";
  ASSIGN_OR_RETURN(blobs_, BlobStore::Open(storage + "/content"));
  ASSIGN_OR_RETURN(layers_, LayerStore::Open(storage + "/layers"));
  ASSIGN_OR_RETURN(images_, ImageStore::Open(storage + "/images"));
  ASSIGN_OR_RETURN(PullConfig pull_config, LoadPullConfig());
  HelperPullerOptions options;
  options.helper = BesideOcid("ocid-pull");
  options.storage_root = storage;
  options.auth_file = config_.global_auth_file;
  options.on_pulled = [metrics = pull_metrics_](const PullStats& pulled) {
    metrics->Record(pulled.duration, pulled.bytes_fetched, pulled.layers_reused);
  };
  ASSIGN_OR_RETURN(short_name_aliases_, ShortNameAliasCache::Open(ShortNameAliasCachePath()));
  puller_ = std::make_unique<HelperPuller>(*blobs_, *layers_, *images_, std::move(pull_config),
                                           options, short_name_aliases_.get());
  ASSIGN_OR_RETURN(PinnedImages pinned, PinnedImages::Parse(config_.pinned_images));
  image_service_ = std::make_unique<ImageService>(
      ImageStores{storage, *blobs_, *layers_, *images_, *puller_, config_.root + "/containers"},
      std::move(pinned));

  return StartManagers();
}

namespace {

constexpr int kCapSysResource = 24;

// The lowest oom_score_adj containers may get. Without CAP_SYS_RESOURCE the
// runtimes cannot set a value below ocid's own (kubelet asks for -997 for
// Guaranteed pods): clamp instead of failing the pod, as containerd's
// restrict_oom_score_adj does.
int MinOomScoreAdj() {
  std::ifstream status("/proc/self/status");
  std::string line;
  uint64_t effective = ~uint64_t{0};
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line.substr(7)), &effective);
    }
  }
  if (effective & (uint64_t{1} << kCapSysResource)) return -1000;
  int own = 0;
  std::ifstream("/proc/self/oom_score_adj") >> own;
  OCID_LOG(kWarn) << "no CAP_SYS_RESOURCE: containers' oom_score_adj below " << own
                  << " is raised to " << own;
  return own;
}

}  // namespace

absl::Status CriServer::StartManagers() {
  RETURN_IF_ERROR(CheckCgroupDriver(config_.cgroup_manager));
  ASSIGN_OR_RETURN(Cgroups cgroups, Cgroups::Open());
  OCID_LOG(kInfo) << "cgroups: " << LayoutName(cgroups.layout()) << ", driver "
                  << config_.cgroup_manager;
  cgroups_ = std::make_unique<Cgroups>(std::move(cgroups));
  // Reports only for cgroups the container manager asks it to watch, so
  // only once containers_ exists.
  ASSIGN_OR_RETURN(oom_watcher_, OomWatcher::Start(*cgroups_, [this](const std::string& id) {
                     containers_->OnOom(id);
                   }));
  // An unknown name would fail every container: say so at start.
  RETURN_IF_ERROR(
      NormalizeCapabilities(config_.default_capabilities, "ocid.runtime.default_capabilities")
          .status());
  if (!config_.seccomp_profile.empty() && SeccompBuiltIn()) {
    // A profile that does not convert would fail every RuntimeDefault
    // container: say so at start.
    absl::Status usable =
        seccomp_.ForContainer({SeccompRequest::Kind::kRuntimeDefault, ""}, {}).status();
    if (!usable.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ocid.runtime.seccomp_profile: ", usable.message()));
    }
  }
  CniOptions cni;
  cni.config_dir = config_.network_dir;
  cni.plugin_dirs = config_.plugin_dirs;
  // Results must outlive an ocid restart: DEL needs them.
  cni.cache_dir = config_.root + "/cni/results";
  cni.default_network = config_.default_network;
  ASSIGN_OR_RETURN(cni_, CniManager::Start(cni));

  sandbox_host_ = std::make_unique<LinuxSandboxHost>(BesideOcid("ocid-infra"), cgroups_.get());
  pod_network_ = std::make_unique<CniPodNetwork>(*cni_);
  runtimes_ = std::make_unique<OciContainerRuntimes>(config_);
  container_images_ = std::make_unique<StoreImages>(
      *images_, *blobs_, *layers_,
      [this] { return puller_->short_names(); }, [this] { return puller_->trust(); },
      [this](const ImageTrust& trust, const ImageReference& image, const std::string& digest) {
        return puller_->CheckTrustAgain(trust, image, digest);
      });

  SandboxManagerOptions pods;
  pods.records_dir = config_.root + "/records/sandboxes";
  pods.pods_dir = config_.runroot + "/pods";
  pods.pins_dir = config_.runroot + "/ns";
  pods.pinns_binary = BesideOcid("ocid-pinns");
  pods.resolve_handler = [this](const std::string& handler) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(ContainerRuntime * runtime, runtimes_->For(handler));
    return runtime->handler_name();
  };
  pods.events = &events_;
  ASSIGN_OR_RETURN(pods.default_sysctls, ParseDefaultSysctls(config_.default_sysctls));
  selinux_ = std::make_unique<Selinux>(NewHostSelinux(), Selinux::kMcsCategories, config_.selinux);
  pods.selinux = selinux_.get();
  pods_ = std::make_unique<SandboxManager>(std::move(pods), *sandbox_host_, *pod_network_);

  ContainerManagerOptions containers;
  containers.records_dir = config_.root + "/records/containers";
  containers.overlay_dir = config_.root + "/containers";
  containers.trash_dir = config_.root + "/trash";
  containers.bundles_dir = config_.runroot + "/containers";
  containers.exits_dir = config_.runroot + "/exits";
  containers.default_log_dir = config_.log_dir;
  containers.min_oom_score_adj = MinOomScoreAdj();
  containers.cgroup_manager = config_.cgroup_manager;
  containers.swap_accounting = cgroups_->SwapAccounting();
  containers.default_capabilities = config_.default_capabilities;
  containers.apparmor.runtime_default = config_.apparmor_profile;
  containers.join_cgroup = [this](const std::string& cgroup, pid_t pid) {
    return cgroups_->Join(cgroup, pid);
  };
  containers.remove_cgroup = [this](const std::string& cgroup) {
    return cgroups_->Remove(cgroup, absl::Seconds(2));
  };
  containers.kill_cgroup = [this](const std::string& cgroup) {
    return cgroups_->Kill(cgroup, absl::Seconds(2));
  };
  containers.oom_killed = [this](const std::string& cgroup) { return cgroups_->OomKilled(cgroup); };
  containers.watch_oom = [this](const std::string& id, const std::string& cgroup) {
    return oom_watcher_->Watch(id, cgroup);
  };
  containers.unwatch_oom = [this](const std::string& id) { oom_watcher_->Unwatch(id); };
  containers.memory_working_set = [this](const std::string& cgroup) -> absl::StatusOr<uint64_t> {
    ASSIGN_OR_RETURN(CgroupStats stats, cgroups_->Read(cgroup));
    return stats.memory_working_set_bytes;
  };
  containers.events = &events_;
  containers.seccomp = &seccomp_;
  containers.selinux = selinux_.get();
  // kubelet's checkpoint dir, and one of ocid's own.
  containers.checkpoint_dirs = {"/var/lib/kubelet/checkpoints", config_.root + "/checkpoints"};
  containers.check_criu = [] { return CheckCriu(); };
  containers.pinns_binary = BesideOcid("ocid-pinns");
  containers.pins_dir = config_.runroot + "/ns";
  containers_ = std::make_unique<ContainerManager>(std::move(containers), *pods_,
                                                   *container_images_, *runtimes_);
  pods_->SetContainers(containers_.get());

  RETURN_IF_ERROR(pods_->Recover());
  RETURN_IF_ERROR(containers_->Recover());
  pods_->FinishRemovals();
  // What a pull cut short by a crash committed without its record: no image
  // refers to it, and the containers hold their images' leases again.
  absl::Status collected = CollectGarbage(*images_, *layers_, *blobs_);
  if (!collected.ok()) OCID_LOG(kWarn) << "collect unused layers and blobs at start: " << collected;
  size_t pod_count = 0, container_count = 0;
  pods_->ForEach([&](const SandboxRecord&) { ++pod_count; });
  containers_->ForEach([&](const ContainerRecord&) { ++container_count; });
  OCID_LOG(kInfo) << "recovered " << pod_count << " pod(s) and " << container_count
                  << " container(s)";
  stats_ = std::make_unique<StatsCollector>(*pods_, *containers_, *cgroups_);
  RETURN_IF_ERROR(StartStreaming());
  runtime_service_ = std::make_unique<RuntimeService>(config_, *cni_, *pods_, *containers_,
                                                      *stats_, events_, *streaming_);
  return StartMetrics();
}

absl::Status CriServer::StartStreaming() {
  streaming::ServerOptions options;
  options.address = config_.stream_address;
  options.port = static_cast<int>(config_.stream_port);
  options.tls_cert = config_.stream_tls_cert;
  options.tls_key = config_.stream_tls_key;
  // Validate() checked it parses.
  absl::ParseDuration(config_.stream_idle_timeout, &options.idle_timeout);
  // A wildcard address is not one to connect to: the URLs name loopback.
  if (options.address == "0.0.0.0") options.advertise_address = "127.0.0.1";
  if (options.address == "::") options.advertise_address = "::1";
  streaming_backend_ = std::make_unique<StreamingBackend>(*pods_, *containers_);
  ASSIGN_OR_RETURN(streaming_, streaming::Server::Start(options, streaming_backend_.get()));
  OCID_LOG(kInfo) << "streaming server on " << options.address << ":" << streaming_->port()
                  << (options.tls_cert.empty() ? "" : " (TLS)");
  return absl::OkStatus();
}

absl::Status CriServer::StartMetrics() {
  if (!config_.enable_metrics) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> metrics =
      MetricsEndpoint::Start(config_.metrics_address, static_cast<int>(config_.metrics_port),
                             *pods_, *containers_, events_, pull_metrics_);
  if (!metrics.ok()) {
    if (config_.metrics_required) return metrics.status();
    OCID_LOG(kWarn) << metrics.status() << "; serving CRI without metrics (metrics_required"
                    << " = true makes this an error)";
    return absl::OkStatus();
  }
  metrics_ = *std::move(metrics);
  SetOperationMetrics(&metrics_->operations());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CriServer>> CriServer::Start(const Config& config) {
  RETURN_IF_ERROR(PrepareSocketPath(config.listen));

  std::unique_ptr<CriServer> cri(new CriServer(config));
  RETURN_IF_ERROR(cri->OpenStores());
  // gRPC binds a private path and listens; only then does config.listen
  // appear, so a client that connects as soon as it sees it is not refused.
  absl::Status served = ListenThenPublish(
      config.listen, 0660, [&](const std::string& bind_path) { return cri->Serve(bind_path); });
  if (!served.ok()) {
    cri->Shutdown(absl::ZeroDuration());
    return served;
  }
  cri->published_ = true;
  return cri;
}

absl::Status CriServer::Serve(const std::string& bind_path) {
  grpc::ServerBuilder builder;
  int bound_port = -1;
  builder.AddListeningPort("unix:" + bind_path, grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.grpc_max_recv_msg_size));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.grpc_max_send_msg_size));
  // A CRI runtime serves one kubelet: a small poller pool keeps ocid lean.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.RegisterService(runtime_service_.get());
  builder.RegisterService(image_service_.get());
  // The event streams' queue: polled by their own thread alone, never for
  // new connections.
  std::unique_ptr<grpc::ServerCompletionQueue> events_cq =
      builder.AddCompletionQueue(/*is_frequently_polled=*/false);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    EventStreams::Discard(std::move(events_cq));
    return absl::UnavailableError(absl::StrCat("cannot listen on ", bind_path));
  }
  runtime_service_->StartEvents(std::move(events_cq));
  if (bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", bind_path));
  }
  return absl::OkStatus();
}

void CriServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  // At once, as gRPC did when it had bound the path itself: new clients find
  // no socket while in-flight calls drain. Unpublished, the path may be
  // another server's (ListenThenPublish).
  if (published_) ::unlink(config_.listen.c_str());
  events_.Close();  // event streams end at once: they never finish on their own
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  runtime_service_->StopEvents();  // every stream is over now
  StopMetrics();
}

}  // namespace ocid
