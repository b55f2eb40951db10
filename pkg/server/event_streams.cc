#include "pkg/server/event_streams.h"

#include <pthread.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"

namespace ocid {

// One subscriber, from the request for its call to the end of the call. At
// most one operation that sends is in flight (the initial metadata, a write,
// or the finish); the next event is taken from the subscription only when
// it is done. The stream is freed once its finish has completed and gRPC
// has said the call is done (two completions, in either order).
class EventStreams::Stream {
  EventStreams& owner_;

 public:
  explicit Stream(EventStreams& owner) : owner_(owner), writer_(&context_) {
    context_.AsyncNotifyWhenDone(&done_op_);
  }

  // The client's call arrived: subscribe before telling it so, so that what
  // it reads after its initial metadata has every later event.
  void Accept() {
    OCID_LOG(kDebug) << "rpc GetContainerEvents: subscribed";
    subscription_ = owner_.bus_.Subscribe();
    sending_ = true;
    writer_.SendInitialMetadata(&written_op_);
  }

  // Starts the next write, or the finish, when nothing is in flight.
  void Pump() {
    if (sending_ || finishing_) return;
    if (cancelled_) {
      OCID_LOG(kDebug) << "rpc GetContainerEvents: the client left";
      Finish(grpc::Status::CANCELLED);
      return;
    }
    size_t left = 0;
    if (std::optional<LifecycleEvent> event = subscription_->TryNext(&left)) {
      current_ = owner_.Serialized(*event);
      // With more queued, the transport may keep this one until the next is
      // written (its write completes at once), so a burst goes out in one
      // send rather than one per event. The queue only shrinks by this
      // stream's own TryNext, or ends with a Finish, so a held event is
      // always followed by a write or the finish that flush it.
      grpc::WriteOptions options;
      if (left > 0) options.set_buffer_hint();
      sending_ = true;
      writer_.Write(*current_, options, &written_op_);
      return;
    }
    switch (subscription_->ended()) {
      case EventBus::Subscription::Ending::kNone:
        return;
      case EventBus::Subscription::Ending::kClosed:
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ocid is shutting down"));
        return;
      case EventBus::Subscription::Ending::kOverflowed:
        Finish(grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            absl::StrCat("the event stream fell ", EventBus::kDefaultCapacity,
                         " events behind and was dropped; subscribe again and relist")));
        return;
    }
  }

  void OnWritten(bool ok) {
    sending_ = false;
    if (!ok) cancelled_ = true;  // the client went away mid-write
    Pump();
  }
  void OnFinished() { finished_ = true; }
  void OnDone() {
    done_ = true;
    if (context_.IsCancelled()) cancelled_ = true;
    Pump();
  }
  bool over() const { return finished_ && done_; }

  Op accepted_op_{this, Op::kAccepted};
  grpc::ServerContext context_;
  grpc::ByteBuffer request_;  // GetEventsRequest has no fields: never parsed
  grpc::ServerAsyncWriter<grpc::ByteBuffer> writer_;

 private:
  void Finish(const grpc::Status& status) {
    finishing_ = true;
    writer_.Finish(status, &finished_op_);
  }

  Op written_op_{this, Op::kWritten};
  Op finished_op_{this, Op::kFinished};
  Op done_op_{this, Op::kDone};
  std::unique_ptr<EventBus::Subscription> subscription_;
  std::shared_ptr<const grpc::ByteBuffer> current_;  // in flight until written
  bool sending_ = false;
  bool cancelled_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  bool done_ = false;
};

EventStreams::EventStreams(EventBus& bus, Serializer serialize)
    : bus_(bus), serialize_(std::move(serialize)) {}

EventStreams::~EventStreams() { Stop(); }

void EventStreams::Start(std::unique_ptr<grpc::ServerCompletionQueue> cq, Requester request) {
  cq_ = std::move(cq);
  request_ = std::move(request);
  AwaitNextSubscriber();
  thread_ = std::thread([this] { Run(); });
  bus_.SetOnPublish([this] { WakeFromBus(); });
}

void EventStreams::Stop() {
  if (cq_ == nullptr) return;
  bus_.SetOnPublish(nullptr);  // from here on nothing sets the alarm
  cq_->Shutdown();
  thread_.join();
  // The server has shut down, so every call is over and its completions
  // drained with the queue; what is left has no operation in flight.
  streams_.clear();
  open_streams_ = 0;
  delete waiting_;
  waiting_ = nullptr;
  cq_.reset();
}

void EventStreams::Discard(std::unique_ptr<grpc::ServerCompletionQueue> cq) {
  if (cq == nullptr) return;
  cq->Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
  }
}

void EventStreams::Run() {
  ::pthread_setname_np(::pthread_self(), "ocid-events");
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) Handle(*static_cast<const Op*>(tag), ok);
}

void EventStreams::Handle(const Op& op, bool ok) {
  Stream* stream = op.stream;
  switch (op.kind) {
    case Op::kWake:
      // Cleared before the pump: a publish from now on sets the alarm again.
      wake_pending_ = false;
      PumpAll();
      return;
    case Op::kAccepted:
      waiting_ = nullptr;
      if (!ok) {
        // The server is shutting down: no call came, and none will.
        delete stream;
        return;
      }
      streams_.emplace_back(stream);
      ++open_streams_;
      AwaitNextSubscriber();
      stream->Accept();
      return;
    case Op::kWritten:
      stream->OnWritten(ok);
      break;
    case Op::kFinished:
      stream->OnFinished();
      break;
    case Op::kDone:
      stream->OnDone();
      break;
  }
  if (!stream->over()) return;
  auto it = std::find_if(streams_.begin(), streams_.end(),
                         [stream](const std::unique_ptr<Stream>& s) { return s.get() == stream; });
  if (it != streams_.end()) {
    streams_.erase(it);
    --open_streams_;
  }
}

void EventStreams::AwaitNextSubscriber() {
  waiting_ = new Stream(*this);
  request_(&waiting_->context_, &waiting_->request_, &waiting_->writer_, cq_.get(),
           &waiting_->accepted_op_);
}

void EventStreams::PumpAll() {
  for (const std::unique_ptr<Stream>& stream : streams_) stream->Pump();
}

// On a publishing thread (under the bus's hook mutex, so never after Stop
// has removed the hook): one alarm per burst, however many publishes. Its
// deadline is in the past, so it completes at once on this thread; "now"
// would be rounded up to the next millisecond and left to gRPC's timer
// threads, a wake-up and a millisecond more per event.
void EventStreams::WakeFromBus() {
  if (wake_pending_.exchange(true)) return;
  wake_.Set(cq_.get(), gpr_inf_past(GPR_CLOCK_MONOTONIC), &wake_op_);
}

std::shared_ptr<const grpc::ByteBuffer> EventStreams::Serialized(const LifecycleEvent& event) {
  for (const auto& [sequence, buffer] : built_) {
    if (sequence == event.sequence) return buffer;
  }
  auto buffer = std::make_shared<const grpc::ByteBuffer>(serialize_(event));
  ++serialized_total_;
  built_.emplace_back(event.sequence, buffer);
  if (built_.size() > kBuiltEvents) built_.pop_front();
  return buffer;
}

}  // namespace ocid
