// CRI RuntimeService: runtime status, pod sandboxes and containers. Calls not
// handled here answer UNIMPLEMENTED (the generated base class).
#ifndef OCID_PKG_SERVER_RUNTIME_SERVICE_H_
#define OCID_PKG_SERVER_RUNTIME_SERVICE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "pkg/base/record_store.h"
#include "pkg/config/config.h"
#include "pkg/container/container_record.h"
#include "pkg/network/cni.h"
#include "pkg/oci/runtime.h"
#include "pkg/sandbox/sandbox_record.h"
#include "pkg/storage/blob_store.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/layer_store.h"

namespace ocid {

// Where ocid keeps pods' and containers' things (see docs/ARCHITECTURE.md).
struct RuntimePaths {
  std::string sandbox_records;    // <root>/records/sandboxes
  std::string container_records;  // <root>/records/containers
  std::string overlay;            // <root>/containers: upper/work per container
  std::string bundles;            // <runroot>/containers: bundle + rootfs
  std::string pods;               // <runroot>/pods: resolv.conf, hosts, shm
  std::string pins;               // <runroot>/ns
  std::string exits;              // <runroot>/exits
  std::string default_log_dir;    // logs of pods that name no log_directory
  std::string pinns;              // ocid-pinns
  std::string infra;              // ocid-infra
};

class RuntimeService final : public runtime::v1::RuntimeService::Service {
 public:
  RuntimeService(const Config& config, RuntimePaths paths, BlobStore& blobs, LayerStore& layers,
                 ImageStore& images, CniManager& cni,
                 std::vector<std::string> search_registries);
  ~RuntimeService() override;

  // Loads the records, reconciles them with what really runs (exits while
  // ocid was down), and starts watching exits.
  absl::Status Recover();

  // runtime_status.cc
  grpc::Status Version(grpc::ServerContext*, const runtime::v1::VersionRequest*,
                       runtime::v1::VersionResponse*) override;
  grpc::Status Status(grpc::ServerContext*, const runtime::v1::StatusRequest*,
                      runtime::v1::StatusResponse*) override;
  grpc::Status RuntimeConfig(grpc::ServerContext*, const runtime::v1::RuntimeConfigRequest*,
                             runtime::v1::RuntimeConfigResponse*) override;
  grpc::Status UpdateRuntimeConfig(grpc::ServerContext*,
                                   const runtime::v1::UpdateRuntimeConfigRequest*,
                                   runtime::v1::UpdateRuntimeConfigResponse*) override;

  // sandbox_service.cc
  grpc::Status RunPodSandbox(grpc::ServerContext*, const runtime::v1::RunPodSandboxRequest*,
                             runtime::v1::RunPodSandboxResponse*) override;
  grpc::Status StopPodSandbox(grpc::ServerContext*, const runtime::v1::StopPodSandboxRequest*,
                              runtime::v1::StopPodSandboxResponse*) override;
  grpc::Status RemovePodSandbox(grpc::ServerContext*,
                                const runtime::v1::RemovePodSandboxRequest*,
                                runtime::v1::RemovePodSandboxResponse*) override;
  grpc::Status PodSandboxStatus(grpc::ServerContext*,
                                const runtime::v1::PodSandboxStatusRequest*,
                                runtime::v1::PodSandboxStatusResponse*) override;
  grpc::Status ListPodSandbox(grpc::ServerContext*, const runtime::v1::ListPodSandboxRequest*,
                              runtime::v1::ListPodSandboxResponse*) override;

  // container_service.cc
  grpc::Status CreateContainer(grpc::ServerContext*, const runtime::v1::CreateContainerRequest*,
                               runtime::v1::CreateContainerResponse*) override;
  grpc::Status StartContainer(grpc::ServerContext*, const runtime::v1::StartContainerRequest*,
                              runtime::v1::StartContainerResponse*) override;
  grpc::Status StopContainer(grpc::ServerContext*, const runtime::v1::StopContainerRequest*,
                             runtime::v1::StopContainerResponse*) override;
  grpc::Status RemoveContainer(grpc::ServerContext*, const runtime::v1::RemoveContainerRequest*,
                               runtime::v1::RemoveContainerResponse*) override;
  grpc::Status ContainerStatus(grpc::ServerContext*, const runtime::v1::ContainerStatusRequest*,
                               runtime::v1::ContainerStatusResponse*) override;
  grpc::Status ListContainers(grpc::ServerContext*, const runtime::v1::ListContainersRequest*,
                              runtime::v1::ListContainersResponse*) override;
  grpc::Status ExecSync(grpc::ServerContext*, const runtime::v1::ExecSyncRequest*,
                        runtime::v1::ExecSyncResponse*) override;
  grpc::Status ReopenContainerLog(grpc::ServerContext*,
                                  const runtime::v1::ReopenContainerLogRequest*,
                                  runtime::v1::ReopenContainerLogResponse*) override;

 private:
  // Pods (sandbox_service.cc).
  absl::StatusOr<std::string> RunPod(const runtime::v1::RunPodSandboxRequest& request);
  absl::Status StopPod(const std::string& id);
  absl::Status RemovePod(const std::string& id);
  absl::StatusOr<SandboxRecord> FindPod(const std::string& id) const;
  PodNetworkRequest NetworkRequest(const SandboxRecord& pod,
                                   const runtime::v1::PodSandboxConfig& config) const;

  // Containers (container_service.cc).
  absl::StatusOr<std::string> Create(const runtime::v1::CreateContainerRequest& request);
  absl::Status Start(const std::string& id);
  absl::Status Stop(const std::string& id, int64_t timeout_seconds);
  absl::Status Remove(const std::string& id);
  absl::StatusOr<ContainerRecord> FindContainer(const std::string& id) const;
  // Records the exit conmon reported for `id` (the exit watcher calls it).
  void OnExit(const std::string& id);
  absl::StatusOr<OciRuntime*> RuntimeFor(const std::string& handler);

  // kubelet's names for pods and containers, each held by one ID.
  absl::Status ReserveName(const std::string& name, const std::string& id);
  void ReleaseName(const std::string& name);
  std::string NameHolder(const std::string& name);

  const Config& config_;
  const RuntimePaths paths_;
  BlobStore& blobs_;
  LayerStore& layers_;
  ImageStore& images_;
  CniManager& cni_;
  // registries.conf's unqualified-search registries: where CreateContainer
  // looks for an image given by a short name.
  const std::vector<std::string> search_registries_;
  RecordStore<SandboxRecord> sandboxes_;
  RecordStore<ContainerRecord> containers_;
  std::map<std::string, std::unique_ptr<OciRuntime>> runtimes_;  // by handler name
  std::unique_ptr<ExitWatcher> exit_watcher_;
  int min_oom_score_adj_ = -1000;

  absl::Mutex names_mu_;
  std::map<std::string, std::string> names_ ABSL_GUARDED_BY(names_mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_SERVER_RUNTIME_SERVICE_H_
