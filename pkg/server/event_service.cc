// GetContainerEvents: one stream per subscriber, fed by the EventBus the
// managers publish to. Each event carries the statuses as they are when it
// is sent (containerd builds them when it sends too): the pod's, and those
// of every container of the pod; a pod already removed has none.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"
#include "pkg/server/rpc.h"
#include "pkg/server/runtime_service.h"
#include "pkg/server/statuses.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

// How often a waiting stream checks whether its client went away.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(500);

// Sending events yields the CPU to the lifecycle calls that make them: the
// thread serving a stream runs at a lower priority (a higher nice value)
// while it does, and gets its own back when the stream ends, since gRPC
// reuses it for other calls.
class LowerThreadPriority {
 public:
  explicit LowerThreadPriority(int nice_increment)
      : tid_(static_cast<id_t>(::syscall(SYS_gettid))) {
    errno = 0;
    int before = ::getpriority(PRIO_PROCESS, tid_);
    if (before == -1 && errno != 0) return;
    if (::setpriority(PRIO_PROCESS, tid_, before + nice_increment) == 0) {
      before_ = before;
      lowered_ = true;
    }
  }
  ~LowerThreadPriority() {
    // Raising it back needs CAP_SYS_NICE when it goes below the limit; ocid
    // runs as root. If it cannot, the thread stays nicer, and says so.
    if (lowered_ && ::setpriority(PRIO_PROCESS, tid_, before_) != 0) {
      OCID_LOG(kWarn) << "events: could not restore a server thread's priority";
    }
  }
  LowerThreadPriority(const LowerThreadPriority&) = delete;
  LowerThreadPriority& operator=(const LowerThreadPriority&) = delete;

 private:
  const id_t tid_;
  int before_ = 0;
  bool lowered_ = false;
};

constexpr int kEventStreamNice = 10;

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

// Every subscriber sends the same event: the first to send it builds it
// (statuses read once, not once per subscriber) while the others wait for
// it under the same lock rather than build it again, then all write it.
std::shared_ptr<const cri::ContainerEventResponse> RuntimeService::EventResponse(
    const LifecycleEvent& event) {
  absl::MutexLock lock(&built_mu_);
  for (const auto& [sequence, response] : built_) {
    if (sequence == event.sequence) return response;
  }
  auto response = std::make_shared<cri::ContainerEventResponse>();
  response->set_container_id(event.container_id);
  response->set_container_event_type(ToCri(event.type));
  response->set_created_at(event.created_at);
  absl::StatusOr<PodView> pod = pods_.Status(event.pod_id);
  if (pod.ok()) *response->mutable_pod_sandbox_status() = PodStatusOf(*pod);
  std::vector<std::string> ids;
  containers_.ForEach([&](const ContainerRecord& c) {
    if (c.sandbox_id == event.pod_id) ids.push_back(c.id);
  });
  for (const std::string& id : ids) {
    absl::StatusOr<ContainerView> container = containers_.Status(id);
    if (container.ok()) *response->add_containers_statuses() = ContainerStatusOf(*container);
  }
  built_.emplace_back(event.sequence, response);
  if (built_.size() > kBuiltEvents) built_.pop_front();
  return response;
}

grpc::Status RuntimeService::GetContainerEvents(
    grpc::ServerContext* context, const cri::GetEventsRequest*,
    grpc::ServerWriter<cri::ContainerEventResponse>* writer) {
  OCID_LOG(kDebug) << "rpc GetContainerEvents: subscribed";
  LowerThreadPriority lower(kEventStreamNice);
  std::unique_ptr<EventBus::Subscription> subscription = events_.Subscribe();
  // Tells the client it is subscribed: what comes after this is in its
  // stream (the client's WaitForInitialMetadata returns).
  writer->SendInitialMetadata();
  while (!context->IsCancelled()) {
    std::optional<LifecycleEvent> event = subscription->Next(kCancelPoll);
    if (!event.has_value()) {
      switch (subscription->ended()) {
        case EventBus::Subscription::Ending::kNone:
          continue;
        case EventBus::Subscription::Ending::kClosed:
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "ocid is shutting down");
        case EventBus::Subscription::Ending::kOverflowed:
          return ToGrpcStatus(absl::ResourceExhaustedError(
              absl::StrCat("the event stream fell ", EventBus::kDefaultCapacity,
                           " events behind and was dropped; subscribe again and relist")));
      }
    }
    std::shared_ptr<const cri::ContainerEventResponse> response = EventResponse(*event);
    if (!writer->Write(*response)) break;  // the client went away
  }
  OCID_LOG(kDebug) << "rpc GetContainerEvents: the client left";
  return grpc::Status::OK;
}

}  // namespace ocid
