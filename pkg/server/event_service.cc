// GetContainerEvents: one stream per subscriber (event_streams.h), fed by
// the EventBus the managers publish to. Each event carries the statuses as
// they are when it is first sent (containerd builds them when it sends too):
// the pod's, and those of every container of the pod; a pod already removed
// has none.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pkg/server/runtime_service.h"
#include "pkg/server/statuses.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

cri::ContainerEventType ToCri(LifecycleEventType type) {
  switch (type) {
    case LifecycleEventType::kCreated:
      return cri::CONTAINER_CREATED_EVENT;
    case LifecycleEventType::kStarted:
      return cri::CONTAINER_STARTED_EVENT;
    case LifecycleEventType::kStopped:
      return cri::CONTAINER_STOPPED_EVENT;
    case LifecycleEventType::kDeleted:
      return cri::CONTAINER_DELETED_EVENT;
  }
  return cri::CONTAINER_CREATED_EVENT;
}

}  // namespace

// Once per event, whatever the number of subscribers (EventStreams keeps
// what it built).
grpc::ByteBuffer RuntimeService::EventBytes(const LifecycleEvent& event) {
  cri::ContainerEventResponse response;
  response.set_container_id(event.container_id);
  response.set_container_event_type(ToCri(event.type));
  response.set_created_at(event.created_at);
  absl::StatusOr<PodView> pod = pods_.Status(event.pod_id);
  if (pod.ok()) *response.mutable_pod_sandbox_status() = PodStatusOf(*pod);
  std::vector<std::string> ids;
  containers_.ForEach([&](const ContainerRecord& c) {
    if (c.sandbox_id == event.pod_id) ids.push_back(c.id);
  });
  for (const std::string& id : ids) {
    absl::StatusOr<ContainerView> container = containers_.Status(id);
    if (container.ok()) *response.add_containers_statuses() = ContainerStatusOf(*container);
  }
  grpc::ByteBuffer bytes;
  bool own_buffer = false;
  // Fails only for a message over 2 GB; an event is a few hundred bytes.
  grpc::SerializationTraits<cri::ContainerEventResponse>::Serialize(response, &bytes, &own_buffer)
      .IgnoreError();
  return bytes;
}

void RuntimeService::StartEvents(std::unique_ptr<grpc::ServerCompletionQueue> cq) {
  event_streams_.Start(std::move(cq),
                       [this](grpc::ServerContext* context, grpc::ByteBuffer* request,
                              grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                              grpc::ServerCompletionQueue* cq, void* tag) {
                         RequestGetContainerEvents(context, request, writer, cq, cq, tag);
                       });
}

void RuntimeService::StopEvents() { event_streams_.Stop(); }

}  // namespace ocid
