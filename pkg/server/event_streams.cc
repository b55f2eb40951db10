#include "pkg/server/event_streams.h"

#include <pthread.h>

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pkg/base/log.h"

namespace ocid {
namespace {

// How long the sender waits on the bus before it looks again whether it
// still has streams or must stop.
constexpr absl::Duration kIdleRecheck = absl::Milliseconds(500);

}  // namespace

// One subscriber. At most one write is in flight; the next event is taken
// from the subscription only when it is done. gRPC may run a reaction
// inline in StartWrite or Finish, so they are called with mu_ released.
class EventStreams::Stream : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  Stream(EventStreams& owner, std::unique_ptr<EventBus::Subscription> subscription)
      : owner_(owner), subscription_(std::move(subscription)) {}

  // Starts the next write, or the finish, when the stream is idle.
  void Pump() {
    std::optional<LifecycleEvent> event;
    std::optional<grpc::Status> finish;
    bool more = false;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      if (cancelled_) {
        finish = grpc::Status::CANCELLED;
      } else if ((event = subscription_->Next(absl::ZeroDuration())).has_value()) {
        writing_ = true;
        more = subscription_->queued() > 0;
      } else {
        switch (subscription_->ended()) {
          case EventBus::Subscription::Ending::kNone:
            return;
          case EventBus::Subscription::Ending::kClosed:
            finish = grpc::Status(grpc::StatusCode::UNAVAILABLE, "ocid is shutting down");
            break;
          case EventBus::Subscription::Ending::kOverflowed:
            finish = grpc::Status(
                grpc::StatusCode::RESOURCE_EXHAUSTED,
                absl::StrCat("the event stream fell ", EventBus::kDefaultCapacity,
                             " events behind and was dropped; subscribe again and relist"));
            break;
        }
      }
      if (finish.has_value()) finished_ = true;
    }
    if (finish.has_value()) {
      if (finish->error_code() == grpc::StatusCode::CANCELLED) {
        OCID_LOG(kDebug) << "rpc GetContainerEvents: the client left";
      }
      Finish(*finish);
      return;
    }
    // Only the thread that set writing_ touches current_ until the write
    // is done.
    current_ = owner_.Serialized(*event);
    // With more queued, the transport may keep this one until the next is
    // written (its write completes at once), so a burst goes out in one
    // send rather than one per event. The queue only shrinks by this
    // stream's own Next, or ends with a Finish, so a held event is always
    // followed by a write or the finish that flush it.
    grpc::WriteOptions options;
    if (more) options.set_buffer_hint();
    StartWrite(current_.get(), options);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) cancelled_ = true;  // the client went away mid-write
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    Pump();
  }

  void OnDone() override { owner_.Close(this); }

 private:
  EventStreams& owner_;
  const std::unique_ptr<EventBus::Subscription> subscription_;
  std::shared_ptr<const grpc::ByteBuffer> current_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

EventStreams::EventStreams(EventBus& bus, Serializer serialize)
    : bus_(bus), serialize_(std::move(serialize)) {
  sender_ = std::thread([this] { SendLoop(); });
}

EventStreams::~EventStreams() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  sender_.join();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventStreams::Open() {
  OCID_LOG(kDebug) << "rpc GetContainerEvents: subscribed";
  auto stream = std::make_shared<Stream>(*this, bus_.Subscribe());
  {
    absl::MutexLock lock(&mu_);
    streams_.emplace(stream.get(), stream);
  }
  // Tells the client it is subscribed (its WaitForInitialMetadata returns).
  stream->StartSendInitialMetadata();
  // What was published before the sender saw this stream, or a bus
  // already closed.
  stream->Pump();
  return stream.get();
}

void EventStreams::Close(Stream* stream) {
  std::shared_ptr<Stream> last;  // may be the last reference: dropped unlocked
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  last = std::move(it->second);
  streams_.erase(it);
}

size_t EventStreams::open_streams() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

uint64_t EventStreams::serialized_total() const {
  absl::MutexLock lock(&built_mu_);
  return serialized_total_;
}

std::shared_ptr<const grpc::ByteBuffer> EventStreams::Serialized(const LifecycleEvent& event) {
  // Built under the lock: the streams that want it meanwhile wait for it
  // rather than build it again.
  absl::MutexLock lock(&built_mu_);
  for (const auto& [sequence, buffer] : built_) {
    if (sequence == event.sequence) return buffer;
  }
  auto buffer = std::make_shared<const grpc::ByteBuffer>(serialize_(event));
  ++serialized_total_;
  built_.emplace_back(event.sequence, buffer);
  if (built_.size() > kBuiltEvents) built_.pop_front();
  return buffer;
}

void EventStreams::PumpAll() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    absl::MutexLock lock(&mu_);
    streams.reserve(streams_.size());
    for (const auto& [raw, stream] : streams_) streams.push_back(stream);
  }
  for (const std::shared_ptr<Stream>& stream : streams) stream->Pump();
}

void EventStreams::SendLoop() {
  ::pthread_setname_np(::pthread_self(), "ocid-events");
  auto has_work = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !streams_.empty(); };
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  uint64_t seen = 0;
  for (;;) {
    {
      // With no stream the sender sleeps here: a publish wakes nobody.
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&has_work));
      if (stopping_) return;
    }
    seen = bus_.AwaitPublished(seen, kIdleRecheck);
    PumpAll();
    if (bus_.closed()) {
      // Once more, in case the close came after that pump: now each idle
      // stream has seen it, a busy one sees it when its write is done, and
      // later ones in Open. None needs the sender again.
      PumpAll();
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&stopping));
      return;
    }
  }
}

}  // namespace ocid
