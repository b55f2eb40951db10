// The GetContainerEvents streams, served with gRPC's asynchronous API on a
// completion queue of their own, which one thread ("ocid-events") drives:
// it accepts subscribers, starts each stream's next write from the EventBus,
// and takes the writes' completions. A write the transport finishes at once
// completes on that same thread, so an event costs each stream a write and
// no thread switch (the callback API hands every completion to one of
// gRPC's own threads). The bus wakes the thread through a gRPC alarm on the
// queue, set once per burst of publishes.
//
// Each event is built and serialized once, and every stream writes the same
// bytes. What waits to be written stays in the stream's bus subscription
// (bounded: one that falls behind is dropped there and counted), since a
// stream takes its next event only once its write is done. A stream ends
// when its client goes (CANCELLED), when the bus closes (UNAVAILABLE, for
// shutdown), or when it was dropped (RESOURCE_EXHAUSTED, once its last
// write completes).
#ifndef OCID_PKG_SERVER_EVENT_STREAMS_H_
#define OCID_PKG_SERVER_EVENT_STREAMS_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "pkg/events/event_bus.h"

namespace ocid {

class EventStreams {
 public:
  // Builds the wire form of an event, once per event whatever the number of
  // streams, when the first stream sends it (so that it carries the state of
  // then). Called on the events thread only.
  using Serializer = std::function<grpc::ByteBuffer(const LifecycleEvent&)>;
  // Asks gRPC for the next GetContainerEvents call (the service's generated
  // RequestGetContainerEvents), delivered to `cq` with `tag`.
  using Requester = std::function<void(grpc::ServerContext*, grpc::ByteBuffer* request,
                                       grpc::ServerAsyncWriter<grpc::ByteBuffer>*,
                                       grpc::ServerCompletionQueue* cq, void* tag)>;

  // The bus must outlive this.
  EventStreams(EventBus& bus, Serializer serialize);
  // Stop() must have run if Start() did.
  ~EventStreams();
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // Once the server is built with `cq` (ServerBuilder::AddCompletionQueue):
  // starts the events thread.
  void Start(std::unique_ptr<grpc::ServerCompletionQueue> cq, Requester request);
  // After the server's Shutdown has returned (every stream has finished):
  // shuts the queue down, drains it and joins the thread. Safe to call
  // twice, or without Start.
  void Stop();
  // Shuts down and drains a queue that never got to Start (the server
  // failed to build).
  static void Discard(std::unique_ptr<grpc::ServerCompletionQueue> cq);

  size_t open_streams() const { return open_streams_.load(); }
  // Events built so far: one per event sent, not one per stream.
  uint64_t serialized_total() const { return serialized_total_.load(); }

 private:
  class Stream;
  // What a completion-queue tag points at: which stream, which operation.
  struct Op {
    enum Kind { kAccepted, kWritten, kFinished, kDone, kWake };
    Stream* stream;
    Kind kind;
  };

  void Run();
  void Handle(const Op& op, bool ok);
  void AwaitNextSubscriber();
  void PumpAll();
  void WakeFromBus();
  std::shared_ptr<const grpc::ByteBuffer> Serialized(const LifecycleEvent& event);

  EventBus& bus_;
  const Serializer serialize_;
  Requester request_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;

  // The bus's wake-up: set by a publisher when none is pending, cleared by
  // the events thread when it fires.
  grpc::Alarm wake_;
  Op wake_op_{nullptr, Op::kWake};
  std::atomic<bool> wake_pending_{false};

  // Owned and touched by the events thread alone (but the counters).
  std::vector<std::unique_ptr<Stream>> streams_;  // accepted and not yet done
  Stream* waiting_ = nullptr;                     // requested, no client yet
  std::atomic<size_t> open_streams_{0};
  // The last events built, by sequence; streams read them in order, so a
  // short window holds the ones any stream still needs but a laggard's.
  static constexpr size_t kBuiltEvents = 64;
  std::deque<std::pair<uint64_t, std::shared_ptr<const grpc::ByteBuffer>>> built_;
  std::atomic<uint64_t> serialized_total_{0};

  std::thread thread_;
};

}  // namespace ocid

#endif  // OCID_PKG_SERVER_EVENT_STREAMS_H_
