#include "pkg/server/event_streams.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

// GetContainerEvents on the asynchronous API beside a synchronous Version,
// as RuntimeService mixes them.
class TestService final : public cri::RuntimeService::WithRawMethod_GetContainerEvents<
                              cri::RuntimeService::Service> {
 public:
  grpc::Status Version(grpc::ServerContext*, const cri::VersionRequest*,
                       cri::VersionResponse* response) override {
    response->set_runtime_name("test");
    return grpc::Status::OK;
  }
};

// `padding` bytes in each event make a stalled client's flow-control window
// fill after a few.
grpc::ByteBuffer Serialize(const LifecycleEvent& event, size_t padding) {
  cri::ContainerEventResponse response;
  response.set_container_id(event.container_id + std::string(padding, '.'));
  response.set_created_at(static_cast<int64_t>(event.sequence));
  grpc::ByteBuffer bytes;
  bool own = false;
  EXPECT_TRUE(
      grpc::SerializationTraits<cri::ContainerEventResponse>::Serialize(response, &bytes, &own)
          .ok());
  return bytes;
}

class EventStreamsTest : public ::testing::Test {
 protected:
  explicit EventStreamsTest(size_t capacity = EventBus::kDefaultCapacity, size_t padding = 0)
      : bus_(capacity),
        streams_(std::make_unique<EventStreams>(
            bus_, [padding](const LifecycleEvent& event) { return Serialize(event, padding); })) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    std::unique_ptr<grpc::ServerCompletionQueue> cq = builder.AddCompletionQueue(false);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) {
      EventStreams::Discard(std::move(cq));
    } else {
      streams_->Start(std::move(cq), [this](grpc::ServerContext* context,
                                            grpc::ByteBuffer* request,
                                            grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                                            grpc::ServerCompletionQueue* cq, void* tag) {
        service_.RequestGetContainerEvents(context, request, writer, cq, cq, tag);
      });
    }
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    stub_ = cri::RuntimeService::NewStub(channel_);
  }
  // As CriServer::Shutdown: the bus, the server, then the streams' queue.
  ~EventStreamsTest() override {
    bus_.Close();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    streams_->Stop();
  }

  LifecycleEvent Event(const std::string& id) { return LifecycleEvent{id, "pod"}; }

  // Waits up to 10 s for `done`.
  template <typename Done>
  static bool Eventually(Done done) {
    for (int i = 0; i < 1000 && !done(); ++i) absl::SleepFor(absl::Milliseconds(10));
    return done();
  }

  EventBus bus_;
  std::unique_ptr<EventStreams> streams_;
  TestService service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<cri::RuntimeService::Stub> stub_;
};

struct Subscriber {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<cri::ContainerEventResponse>> reader;
};

std::unique_ptr<Subscriber> Subscribe(cri::RuntimeService::Stub& stub) {
  auto subscriber = std::make_unique<Subscriber>();
  subscriber->reader = stub.GetContainerEvents(&subscriber->context, cri::GetEventsRequest());
  subscriber->reader->WaitForInitialMetadata();
  return subscriber;
}

TEST_F(EventStreamsTest, EverySubscriberGetsEveryEventInOrderSerializedOnce) {
  ASSERT_NE(server_, nullptr) << "an asynchronous method beside sync ones registers";
  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (int i = 0; i < 3; ++i) subscribers.push_back(Subscribe(*stub_));
  EXPECT_EQ(streams_->open_streams(), 3u);
  for (int i = 0; i < 20; ++i) bus_.Publish(Event(absl::StrCat("c", i)));
  for (auto& subscriber : subscribers) {
    for (int i = 0; i < 20; ++i) {
      cri::ContainerEventResponse event;
      ASSERT_TRUE(subscriber->reader->Read(&event)) << i;
      EXPECT_EQ(event.container_id(), absl::StrCat("c", i));
      EXPECT_EQ(event.created_at(), i + 1) << "in publishing order";
    }
  }
  EXPECT_EQ(streams_->serialized_total(), 20u) << "once per event, not per subscriber";

  grpc::ClientContext context;
  cri::VersionResponse version;
  ASSERT_TRUE(stub_->Version(&context, cri::VersionRequest(), &version).ok())
      << "the synchronous calls still serve";
  EXPECT_EQ(version.runtime_name(), "test");
  for (auto& subscriber : subscribers) subscriber->context.TryCancel();
}

// Events of a burst but its last are sent with the buffer hint; the last one
// must flush them all, with no later event to push them out.
TEST_F(EventStreamsTest, ABurstArrivesWholeWithNothingAfterIt) {
  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (int i = 0; i < 3; ++i) {
    auto subscriber = std::make_unique<Subscriber>();
    subscriber->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    subscriber->reader = stub_->GetContainerEvents(&subscriber->context, cri::GetEventsRequest());
    subscriber->reader->WaitForInitialMetadata();
    subscribers.push_back(std::move(subscriber));
  }
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 8; ++i) bus_.Publish(Event(absl::StrCat("r", round, "c", i)));
    for (auto& subscriber : subscribers) {
      for (int i = 0; i < 8; ++i) {
        cri::ContainerEventResponse event;
        ASSERT_TRUE(subscriber->reader->Read(&event)) << "round " << round << " event " << i;
        EXPECT_EQ(event.container_id(), absl::StrCat("r", round, "c", i));
      }
    }
  }
  for (auto& subscriber : subscribers) subscriber->context.TryCancel();
}

TEST_F(EventStreamsTest, AClientThatLeavesEndsItsStream) {
  auto leaving = Subscribe(*stub_);
  auto staying = Subscribe(*stub_);
  leaving->context.TryCancel();
  EXPECT_EQ(leaving->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually([&] { return streams_->open_streams() == 1; }));
  EXPECT_TRUE(Eventually([&] { return bus_.subscribers() == 1; })) << "its subscription goes too";
  bus_.Publish(Event("after"));
  cri::ContainerEventResponse event;
  ASSERT_TRUE(staying->reader->Read(&event));
  EXPECT_EQ(event.container_id(), "after");
  staying->context.TryCancel();
}

TEST_F(EventStreamsTest, ClosingTheBusEndsStreamsPromptly) {
  auto subscriber = Subscribe(*stub_);
  bus_.Publish(Event("last"));
  cri::ContainerEventResponse event;
  ASSERT_TRUE(subscriber->reader->Read(&event));
  absl::Time start = absl::Now();
  bus_.Close();
  EXPECT_FALSE(subscriber->reader->Read(&event));
  EXPECT_EQ(subscriber->reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(Subscribe(*stub_)->reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a stream opened after the close ends at once";
  EXPECT_TRUE(Eventually([&] { return streams_->open_streams() == 0; }));
}

// Small buffers and big events: a client that does not read stalls its
// stream's write, and its backlog overflows.
class StalledEventStreamsTest : public EventStreamsTest {
 protected:
  StalledEventStreamsTest() : EventStreamsTest(/*capacity=*/5, /*padding=*/1 << 20) {}
};

TEST_F(StalledEventStreamsTest, AStalledSubscriberIsDroppedAndOthersAreNot) {
  auto stalled = Subscribe(*stub_);
  auto reading = Subscribe(*stub_);
  std::atomic<int> read{0};
  std::thread reader([&] {
    cri::ContainerEventResponse event;
    while (reading->reader->Read(&event)) ++read;
  });
  absl::Time start = absl::Now();
  for (int i = 0; i < 40; ++i) {
    bus_.Publish(Event(absl::StrCat("c", i)));
    // Paced so that the reading one keeps up.
    if (!Eventually([&] { return read.load() == i + 1; })) {
      ADD_FAILURE() << "the reading subscriber got " << read.load() << " of " << i + 1;
      break;
    }
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_EQ(bus_.dropped_total(), 1u) << "the stalled one alone";
  // Once it reads, it gets what was written before the drop, then the reason.
  cri::ContainerEventResponse event;
  int got = 0;
  while (stalled->reader->Read(&event)) ++got;
  EXPECT_LT(got, 40);
  EXPECT_EQ(stalled->reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  reading->context.TryCancel();
  reader.join();
}

}  // namespace
}  // namespace ocid
