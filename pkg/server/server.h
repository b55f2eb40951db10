// ocid's gRPC server: the CRI services on a unix socket.
#ifndef OCID_PKG_SERVER_SERVER_H_
#define OCID_PKG_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pkg/cgroups/cgroups.h"
#include "pkg/cgroups/oom_watcher.h"
#include "pkg/config/config.h"
#include "pkg/container/container_manager.h"
#include "pkg/container/real_deps.h"
#include "pkg/events/event_bus.h"
#include "pkg/image/helper_puller.h"
#include "pkg/image/short_name_aliases.h"
#include "pkg/metrics/pull_metrics.h"
#include "pkg/sandbox/linux_sandbox_host.h"
#include "pkg/sandbox/sandbox_manager.h"
#include "pkg/security/seccomp.h"
#include "pkg/security/selinux.h"
#include "pkg/server/image_service.h"
#include "pkg/server/metrics_endpoint.h"
#include "pkg/server/runtime_service.h"
#include "pkg/server/streaming_backend.h"
#include "pkg/stats/stats_collector.h"
#include "pkg/storage/blob_store.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/layer_store.h"
#include "pkg/trust/trust_policies.h"

namespace ocid {

class CriServer {
 public:
  // Opens the stores under config.root, then serves on config.listen:
  // creates its parent dirs, replaces a stale socket
  // file, refuses (FailedPrecondition) when a live server answers on it, and
  // makes the socket appear, mode 0660, only once it accepts
  // (ListenThenPublish). `config` must outlive the server.
  static absl::StatusOr<std::unique_ptr<CriServer>> Start(const Config& config);

  // Stops taking calls, lets in-flight calls finish for up to `grace`, then
  // cancels the rest and removes the socket. Idempotent.
  void Shutdown(absl::Duration grace);

  // ocid's SIGHUP, with ocid.conf read again into `fresh`: reads
  // registries.conf, the trust policy and registries.d again (pulls that
  // start afterwards use them) and applies fresh's reloadable keys,
  // log_level and pinned_images; other keys that changed are logged as
  // taking effect at the next start. On any error nothing changes and the
  // error names the file or key.
  absl::Status Reload(const Config& fresh);

  ~CriServer();

 private:
  CriServer(const Config& config);
  // Builds and starts the gRPC server listening on `bind_path`.
  absl::Status Serve(const std::string& bind_path);

  absl::Status OpenStores();
  std::string ShortNameAliasCachePath() const;
  // registries.conf, the global policy, registries.d and
  // signature_policy_dir, as loaded for ocid and its pull helper.
  absl::StatusOr<PullConfig> LoadPullConfig() const;
  // Makes the pod and container managers and recovers their records.
  absl::Status StartManagers();
  // The exec/attach/port-forward server on stream_address:stream_port.
  absl::Status StartStreaming();
  // The Prometheus endpoint, when enable_metrics; a port it cannot take is
  // an error only when metrics_required.
  absl::Status StartMetrics();
  void StopMetrics();

  const Config& config_;
  EventBus events_;  // outlives the managers that publish and the streams
  SeccompProfiles seccomp_;
  // Pods' MCS levels: outlives both managers, which share it.
  std::unique_ptr<Selinux> selinux_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<LayerStore> layers_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<ShortNameAliasCache> short_name_aliases_;  // outlives puller_
  std::unique_ptr<HelperPuller> puller_;
  std::unique_ptr<CniManager> cni_;
  // The managers and what they are given; destroyed before the stores (in
  // reverse order), after the services that call them.
  std::unique_ptr<LinuxSandboxHost> sandbox_host_;
  std::unique_ptr<CniPodNetwork> pod_network_;
  std::unique_ptr<OciContainerRuntimes> runtimes_;
  std::unique_ptr<StoreImages> container_images_;
  std::unique_ptr<SandboxManager> pods_;
  std::unique_ptr<ContainerManager> containers_;
  std::unique_ptr<Cgroups> cgroups_;
  // Calls into containers_: destroyed (its thread stopped) before it.
  std::unique_ptr<OomWatcher> oom_watcher_;
  std::unique_ptr<StatsCollector> stats_;
  // Sessions run on the managers: the server ends them before those go.
  std::unique_ptr<StreamingBackend> streaming_backend_;
  std::unique_ptr<streaming::Server> streaming_;
  std::unique_ptr<RuntimeService> runtime_service_;
  std::unique_ptr<ImageService> image_service_;
  // Counted whether or not metrics are served (a few atomics), so that the
  // endpoint shows every pull since start.
  std::shared_ptr<PullMetrics> pull_metrics_ = std::make_shared<PullMetrics>();
  std::unique_ptr<MetricsEndpoint> metrics_;  // after the managers it reads
  std::unique_ptr<grpc::Server> server_;
  bool shut_down_ = false;
  bool published_ = false;  // config.listen is our socket
};

// Makes `path` ready for a new listener (the steps Start takes first).
absl::Status PrepareSocketPath(const std::string& path);

}  // namespace ocid

#endif  // OCID_PKG_SERVER_SERVER_H_
