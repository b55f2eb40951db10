// The GetContainerEvents streams, served with gRPC's callback API: no thread
// per subscriber. One sender thread (named "ocid-events", at the server's
// priority: a nicer one is preempted by every reader and gRPC thread its
// own writes wake, so an event to 10 streams cost up to 10 more switches)
// waits on the EventBus for all streams and starts the write of each idle
// stream; a stream whose write completes starts its next one from gRPC's
// completion, so a burst drains without the sender. Each event is built and
// serialized once, and every stream writes the same bytes.
//
// What waits to be written stays in the stream's bus subscription (bounded:
// one that falls behind is dropped there and counted), since a stream takes
// its next event only once its write is done. A stream ends when its client
// goes (CANCELLED), when the bus closes (UNAVAILABLE, for shutdown), or when
// it was dropped (RESOURCE_EXHAUSTED, once its last write completes).
#ifndef OCID_PKG_SERVER_EVENT_STREAMS_H_
#define OCID_PKG_SERVER_EVENT_STREAMS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "pkg/events/event_bus.h"

namespace ocid {

class EventStreams {
 public:
  // Builds the wire form of an event, once per event whatever the number of
  // streams, when the first stream sends it (so that it carries the state of
  // then). Called on the sender thread or on a gRPC thread, never
  // concurrently.
  using Serializer = std::function<grpc::ByteBuffer(const LifecycleEvent&)>;

  // The bus must outlive this.
  EventStreams(EventBus& bus, Serializer serialize);
  // Stops the sender. The server must have shut down: no stream is open.
  ~EventStreams();
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // A new subscriber's stream: subscribed before its initial metadata goes
  // out, so what the client reads after that has every later event.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Open();

  size_t open_streams() const;
  // Events built so far: one per event sent, not one per stream.
  uint64_t serialized_total() const;

 private:
  class Stream;

  void SendLoop();
  void PumpAll();
  void Close(Stream* stream);
  std::shared_ptr<const grpc::ByteBuffer> Serialized(const LifecycleEvent& event);

  EventBus& bus_;
  const Serializer serialize_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Stream*, std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // The last events built, by sequence; streams read them in order, so a
  // short window holds the ones any stream still needs but a laggard's.
  static constexpr size_t kBuiltEvents = 64;
  mutable absl::Mutex built_mu_;
  std::deque<std::pair<uint64_t, std::shared_ptr<const grpc::ByteBuffer>>> built_
      ABSL_GUARDED_BY(built_mu_);
  uint64_t serialized_total_ ABSL_GUARDED_BY(built_mu_) = 0;

  std::thread sender_;  // last: it uses all of the above
};

}  // namespace ocid

#endif  // OCID_PKG_SERVER_EVENT_STREAMS_H_
