// CRI RuntimeService: the gRPC edge for runtime status, pod sandboxes and
// containers. It validates request fields, converts between the protos and
// the managers' types, and runs each call through ServeRpc; the lifecycles
// themselves live in SandboxManager and ContainerManager. Calls not handled
// here answer UNIMPLEMENTED (the generated base class).
#ifndef OCID_PKG_SERVER_RUNTIME_SERVICE_H_
#define OCID_PKG_SERVER_RUNTIME_SERVICE_H_

#include <memory>

#include "api/runtime/v1/api.grpc.pb.h"
#include "pkg/config/config.h"
#include "pkg/container/container_manager.h"
#include "pkg/events/event_bus.h"
#include "pkg/network/cni.h"
#include "pkg/sandbox/sandbox_manager.h"
#include "pkg/server/event_streams.h"
#include "pkg/stats/stats_collector.h"
#include "pkg/streaming/server.h"

namespace ocid {

// GetContainerEvents alone uses gRPC's asynchronous API (event_streams.h),
// on raw bytes since every stream sends the same serialized event; the
// other calls are synchronous.
class RuntimeService final : public runtime::v1::RuntimeService::WithRawMethod_GetContainerEvents<
                                 runtime::v1::RuntimeService::Service> {
 public:
  // All must outlive the service.
  RuntimeService(const Config& config, CniManager& cni, SandboxManager& pods,
                 ContainerManager& containers, StatsCollector& stats, EventBus& events,
                 streaming::Server& streaming)
      : config_(config),
        cni_(cni),
        pods_(pods),
        containers_(containers),
        stats_(stats),
        events_(events),
        streaming_(streaming),
        event_streams_(events, [this](const LifecycleEvent& event) { return EventBytes(event); }) {}

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
  grpc::Status RemovePodSandbox(grpc::ServerContext*, const runtime::v1::RemovePodSandboxRequest*,
                                runtime::v1::RemovePodSandboxResponse*) override;
  grpc::Status PodSandboxStatus(grpc::ServerContext*, const runtime::v1::PodSandboxStatusRequest*,
                                runtime::v1::PodSandboxStatusResponse*) override;
  grpc::Status ListPodSandbox(grpc::ServerContext*, const runtime::v1::ListPodSandboxRequest*,
                              runtime::v1::ListPodSandboxResponse*) override;
  grpc::Status StreamPodSandboxes(
      grpc::ServerContext*, const runtime::v1::StreamPodSandboxesRequest*,
      grpc::ServerWriter<runtime::v1::StreamPodSandboxesResponse>* writer) override;
  grpc::Status UpdatePodSandboxResources(grpc::ServerContext*,
                                         const runtime::v1::UpdatePodSandboxResourcesRequest*,
                                         runtime::v1::UpdatePodSandboxResourcesResponse*) override;

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
  grpc::Status StreamContainers(
      grpc::ServerContext*, const runtime::v1::StreamContainersRequest*,
      grpc::ServerWriter<runtime::v1::StreamContainersResponse>* writer) override;
  grpc::Status ExecSync(grpc::ServerContext*, const runtime::v1::ExecSyncRequest*,
                        runtime::v1::ExecSyncResponse*) override;

  // streaming_service.cc
  grpc::Status Exec(grpc::ServerContext*, const runtime::v1::ExecRequest*,
                    runtime::v1::ExecResponse*) override;
  grpc::Status Attach(grpc::ServerContext*, const runtime::v1::AttachRequest*,
                      runtime::v1::AttachResponse*) override;
  grpc::Status PortForward(grpc::ServerContext*, const runtime::v1::PortForwardRequest*,
                           runtime::v1::PortForwardResponse*) override;
  grpc::Status UpdateContainerResources(grpc::ServerContext*,
                                        const runtime::v1::UpdateContainerResourcesRequest*,
                                        runtime::v1::UpdateContainerResourcesResponse*) override;
  grpc::Status ReopenContainerLog(grpc::ServerContext*,
                                  const runtime::v1::ReopenContainerLogRequest*,
                                  runtime::v1::ReopenContainerLogResponse*) override;
  grpc::Status CheckpointContainer(grpc::ServerContext*,
                                   const runtime::v1::CheckpointContainerRequest*,
                                   runtime::v1::CheckpointContainerResponse*) override;

  // stats_service.cc
  grpc::Status ContainerStats(grpc::ServerContext*, const runtime::v1::ContainerStatsRequest*,
                              runtime::v1::ContainerStatsResponse*) override;
  grpc::Status ListContainerStats(grpc::ServerContext*,
                                  const runtime::v1::ListContainerStatsRequest*,
                                  runtime::v1::ListContainerStatsResponse*) override;
  grpc::Status PodSandboxStats(grpc::ServerContext*, const runtime::v1::PodSandboxStatsRequest*,
                               runtime::v1::PodSandboxStatsResponse*) override;
  grpc::Status ListPodSandboxStats(grpc::ServerContext*,
                                   const runtime::v1::ListPodSandboxStatsRequest*,
                                   runtime::v1::ListPodSandboxStatsResponse*) override;
  grpc::Status ListMetricDescriptors(grpc::ServerContext*,
                                     const runtime::v1::ListMetricDescriptorsRequest*,
                                     runtime::v1::ListMetricDescriptorsResponse*) override;
  grpc::Status ListPodSandboxMetrics(grpc::ServerContext*,
                                     const runtime::v1::ListPodSandboxMetricsRequest*,
                                     runtime::v1::ListPodSandboxMetricsResponse*) override;
  grpc::Status StreamContainerStats(
      grpc::ServerContext*, const runtime::v1::StreamContainerStatsRequest*,
      grpc::ServerWriter<runtime::v1::StreamContainerStatsResponse>* writer) override;
  grpc::Status StreamPodSandboxStats(
      grpc::ServerContext*, const runtime::v1::StreamPodSandboxStatsRequest*,
      grpc::ServerWriter<runtime::v1::StreamPodSandboxStatsResponse>* writer) override;
  grpc::Status StreamPodSandboxMetrics(
      grpc::ServerContext*, const runtime::v1::StreamPodSandboxMetricsRequest*,
      grpc::ServerWriter<runtime::v1::StreamPodSandboxMetricsResponse>* writer) override;

  // event_service.cc. GetContainerEvents streams live on `cq`, a queue of
  // the server this service is registered with, from when it is built
  // until StopEvents, which runs once its Shutdown has returned.
  void StartEvents(std::unique_ptr<grpc::ServerCompletionQueue> cq);
  void StopEvents();

 private:
  const Config& config_;
  CniManager& cni_;
  SandboxManager& pods_;
  ContainerManager& containers_;
  StatsCollector& stats_;
  EventBus& events_;
  streaming::Server& streaming_;

  // An event as its streams send it, serialized (event_service.cc).
  grpc::ByteBuffer EventBytes(const LifecycleEvent& event);
  EventStreams event_streams_;  // last: its thread calls EventBytes
};

}  // namespace ocid

#endif  // OCID_PKG_SERVER_RUNTIME_SERVICE_H_
