// GetContainerEvents against a real ocid (not a critest spec): what kubelet's
// evented PLEG reads. Each lifecycle step of a container and of a pod is one
// event, in order, carrying the pod's status and its containers' statuses;
// a subscriber that never reads slows no lifecycle call.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "e2e/cri/contract_support.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

// One GetContainerEvents stream read by a thread of its own.
class EventStream {
 public:
  explicit EventStream(v1::RuntimeService::Stub& runtime) {
    reader_ = runtime.GetContainerEvents(&context_, v1::GetEventsRequest());
    // ocid sends its metadata once it has subscribed: from here on nothing
    // is missed.
    reader_->WaitForInitialMetadata();
    thread_ = std::thread([this] {
      v1::ContainerEventResponse event;
      while (reader_->Read(&event)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(event);
      }
    });
  }
  ~EventStream() {
    context_.TryCancel();
    thread_.join();
    reader_->Finish().ok();  // cancelled: the status says so
  }

  // The events about `id`, once `count` have come (or after a minute).
  std::vector<v1::ContainerEventResponse> For(const std::string& id, size_t count) {
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Matching(id).size() >= count; };
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Minutes(1));
    return Matching(id);
  }

 private:
  std::vector<v1::ContainerEventResponse> Matching(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<v1::ContainerEventResponse> found;
    for (const auto& event : events_) {
      if (event.container_id() == id) found.push_back(event);
    }
    return found;
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::ContainerEventResponse>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::ContainerEventResponse> events_ ABSL_GUARDED_BY(mu_);
};

std::vector<v1::ContainerEventType> Types(const std::vector<v1::ContainerEventResponse>& events) {
  std::vector<v1::ContainerEventType> types;
  for (const auto& event : events) types.push_back(event.container_event_type());
  return types;
}

const std::vector<v1::ContainerEventType> kLifecycle = {
    v1::CONTAINER_CREATED_EVENT, v1::CONTAINER_STARTED_EVENT, v1::CONTAINER_STOPPED_EVENT,
    v1::CONTAINER_DELETED_EVENT};

// The status of container `id` in an event, or null.
const v1::ContainerStatus* StatusIn(const v1::ContainerEventResponse& event,
                                    const std::string& id) {
  for (const auto& status : event.containers_statuses()) {
    if (status.id() == id) return &status;
  }
  return nullptr;
}

class CriEvents : public ContractTest {};

TEST_F(CriEvents, EachLifecycleStepIsOneEventWithThePodsStatuses) {
  EventStream stream(Runtime());
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("events-pod"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "events-ctr"));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK(StopContainer(id, 0));
  OCID_ASSERT_OK(RemoveContainer(id));
  OCID_ASSERT_OK(StopPod(pod.id));
  OCID_ASSERT_OK(RemovePod(pod.id));

  std::vector<v1::ContainerEventResponse> events = stream.For(id, 4);
  ASSERT_EQ(Types(events), kLifecycle);
  int64_t last = 0;
  for (const auto& event : events) {
    EXPECT_GE(event.created_at(), last) << "events come in the order they happened";
    last = event.created_at();
    ASSERT_TRUE(event.has_pod_sandbox_status()) << "the pod outlives its container";
    EXPECT_EQ(event.pod_sandbox_status().id(), pod.id);
    EXPECT_EQ(event.pod_sandbox_status().metadata().uid(), pod.config.metadata().uid())
        << "kubelet finds the pod by its uid";
  }
  const v1::ContainerStatus* started = StatusIn(events[1], id);
  ASSERT_NE(started, nullptr) << "the started event lists the container";
  EXPECT_NE(started->state(), v1::CONTAINER_CREATED);
  const v1::ContainerStatus* stopped = StatusIn(events[2], id);
  ASSERT_NE(stopped, nullptr);
  EXPECT_EQ(stopped->state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(StatusIn(events[3], id), nullptr) << "a deleted container is in no status list";

  // The pod is its own container in the stream, as containerd sends it.
  std::vector<v1::ContainerEventResponse> pod_events = stream.For(pod.id, 4);
  ASSERT_EQ(Types(pod_events), kLifecycle);
  EXPECT_EQ(pod_events[1].pod_sandbox_status().state(), v1::SANDBOX_READY);
  EXPECT_EQ(pod_events[2].pod_sandbox_status().state(), v1::SANDBOX_NOTREADY);
  EXPECT_FALSE(pod_events[3].has_pod_sandbox_status()) << "a removed pod has no status";
}

TEST_F(CriEvents, SeveralSubscribersEachGetEveryEvent) {
  EventStream first(Runtime());
  EventStream second(Runtime());
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("events-two"));
  OCID_ASSERT_OK(StopPod(pod.id));
  EXPECT_EQ(Types(first.For(pod.id, 3)), Types(second.For(pod.id, 3)));
  EXPECT_EQ(first.For(pod.id, 3).size(), 3u);
}

// The nice value (field 19 of stat) of thread `task` of ocid; -100 if gone.
int NiceOf(pid_t ocid, const std::string& task) {
  std::string stat = ReadAll(absl::StrCat("/proc/", ocid, "/task/", task, "/stat"));
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -100;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  int value = 0;
  // After the name: state is field 3, nice field 19.
  if (fields.size() <= 16 || !absl::SimpleAtoi(fields[16], &value)) return -100;
  return value;
}

// The nice value of ocid's main thread (which the test's own environment,
// e.g. a niced build server, may have niced too).
int BaseNice(pid_t ocid) { return NiceOf(ocid, absl::StrCat(ocid)); }

// The names of ocid's threads that run nicer than its main thread.
std::vector<std::string> NicerThreads(pid_t ocid) {
  const int base = BaseNice(ocid);
  std::vector<std::string> names;
  for (const std::string& task : Entries(absl::StrCat("/proc/", ocid, "/task"))) {
    if (NiceOf(ocid, task) > base) {
      std::string comm = ReadAll(absl::StrCat("/proc/", ocid, "/task/", task, "/comm"));
      names.push_back(std::string(absl::StripTrailingAsciiWhitespace(comm)));
    }
  }
  return names;
}

size_t ThreadsNamed(pid_t ocid, const std::string& name) {
  size_t count = 0;
  for (const std::string& task : Entries(absl::StrCat("/proc/", ocid, "/task"))) {
    std::string comm = ReadAll(absl::StrCat("/proc/", ocid, "/task/", task, "/comm"));
    if (absl::StripTrailingAsciiWhitespace(comm) == name) ++count;
  }
  return count;
}

size_t ThreadCount(pid_t ocid) { return Entries(absl::StrCat("/proc/", ocid, "/task")).size(); }

// No thread per subscriber: one sender thread serves every stream (gRPC's
// callback API). It runs at ocid's priority, as every other thread does: a
// nicer sender was preempted by each thread its own writes woke.
TEST_F(CriEvents, OneSenderThreadSendsToEveryStream) {
  const pid_t ocid = OcidPid();
  ASSERT_GT(ocid, 0);
  EXPECT_EQ(ThreadsNamed(ocid, "ocid-events"), 1u);
  EXPECT_EQ(NicerThreads(ocid), std::vector<std::string>{});
  // Streams of earlier tests end once ocid sees their client gone.
  absl::SleepFor(absl::Milliseconds(500));
  const size_t before = ThreadCount(ocid);
  {
    std::vector<std::unique_ptr<EventStream>> streams;
    for (int i = 0; i < 10; ++i) streams.push_back(std::make_unique<EventStream>(Runtime()));
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("events-threads"));
    for (auto& stream : streams) EXPECT_EQ(stream->For(pod.id, 2).size(), 2u);
    EXPECT_LT(ThreadCount(ocid), before + 5) << "10 open streams hold no thread each";
    EXPECT_EQ(ThreadsNamed(ocid, "ocid-events"), 1u) << "the streams are sent by the one sender";
    EXPECT_EQ(NicerThreads(ocid), std::vector<std::string>{});
    OCID_ASSERT_OK(StopPod(pod.id));
    OCID_ASSERT_OK(RemovePod(pod.id));
  }
}

TEST_F(CriEvents, ASubscriberThatNeverReadsSlowsNoCall) {
  // Opened and never read: ocid's writes to it stall once gRPC's window
  // fills, and it is dropped once 1000 events are waiting.
  grpc::ClientContext stalled_context;
  std::unique_ptr<grpc::ClientReader<v1::ContainerEventResponse>> stalled =
      Runtime().GetContainerEvents(&stalled_context, v1::GetEventsRequest());
  stalled->WaitForInitialMetadata();
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("events-stalled"));
  for (int i = 0; i < 5; ++i) {
    // Each call would hit its deadline if publishing waited on the reader.
    OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                              CreateDefaultContainer(pod, absl::StrCat("stalled-", i)));
    OCID_ASSERT_OK(StartContainer(id));
    OCID_ASSERT_OK(StopContainer(id, 0));
    OCID_ASSERT_OK(RemoveContainer(id));
  }
  EventStream fresh(Runtime());
  OCID_ASSERT_OK(StopPod(pod.id));
  EXPECT_EQ(Types(fresh.For(pod.id, 1)),
            std::vector<v1::ContainerEventType>{v1::CONTAINER_STOPPED_EVENT});
  stalled_context.TryCancel();
  stalled->Finish().ok();
}

}  // namespace
}  // namespace ocid::e2e
