// What one event message costs the server, without ocid, pods or the lock
// the e2e benches take (issue 14): a child process serves EventStreams over
// a unix socket to --subscribers clients in this process, each on its own
// channel as events_bench's are, and publishes --events events --gap_ms
// apart (lifecycle events come a few ms apart, not in one burst). Reports
// the server's and the clients' CPU per message, and the server's by
// thread, so that a change to the streams can be profiled in seconds
// (perf record -p the child's pid, printed first).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "bench/bench_support.h"
#include "pkg/events/event_bus.h"
#include "pkg/server/event_streams.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

struct Options {
  int subscribers = 10;
  int events = 2000;
  int gap_ms = 3;
  int padding = 340;  // events_bench reads 357 bytes per event on average
  int deadlock_detection = 1;  // absl's, on in Debian's build of it
};

class Service final : public cri::RuntimeService::WithRawMethod_GetContainerEvents<
                          cri::RuntimeService::Service> {};

double CpuMillis(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// The child: serves, publishes, prints its CPU, exits.
int Serve(const Options& options, const std::string& socket, int ready_fd) {
  if (options.deadlock_detection == 0) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  EventBus bus;
  EventStreams streams(bus, [&options](const LifecycleEvent& event) {
    cri::ContainerEventResponse response;
    response.set_container_id(event.container_id);
    response.mutable_pod_sandbox_status()->set_id(std::string(options.padding, 'p'));
    response.set_created_at(event.created_at);
    grpc::ByteBuffer bytes;
    bool own = false;
    (void)grpc::SerializationTraits<cri::ContainerEventResponse>::Serialize(response, &bytes, &own);
    return bytes;
  });
  Service service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::ServerCompletionQueue> cq = builder.AddCompletionQueue(false);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  streams.Start(std::move(cq), [&service](grpc::ServerContext* context, grpc::ByteBuffer* request,
                                          grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                                          grpc::ServerCompletionQueue* cq, void* tag) {
    service.RequestGetContainerEvents(context, request, writer, cq, cq, tag);
  });
  char byte = 'r';
  if (::write(ready_fd, &byte, 1) != 1) return 1;
  while (bus.subscribers() < static_cast<size_t>(options.subscribers)) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::SleepFor(absl::Milliseconds(200));
  std::printf("server pid %d: publishing\n", ::getpid());
  std::fflush(stdout);
  auto threads = [] {
    std::vector<std::pair<std::string, std::string>> rows;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(entry.path() / "comm"), stat(entry.path() / "stat");
      std::string name, line;
      std::getline(comm, name);
      std::getline(stat, line);
      rows.push_back({name, line.substr(line.rfind(')') + 2)});
    }
    return rows;
  };
  const double cpu_start = CpuMillis(RUSAGE_SELF);
  auto before = threads();
  for (int i = 0; i < options.events; ++i) {
    bus.Publish(LifecycleEvent{absl::StrCat("c", i), "pod"});
    absl::SleepFor(absl::Milliseconds(options.gap_ms));
  }
  absl::SleepFor(absl::Milliseconds(300));  // the last reads' window updates
  const double cpu = CpuMillis(RUSAGE_SELF) - cpu_start;
  auto after = threads();
  const double messages = static_cast<double>(options.events) * options.subscribers;
  std::printf("server: %.1f us CPU per message (%d events x %d subscribers)\n",
              1000 * cpu / messages, options.events, options.subscribers);
  for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
    // stat fields after the name: state(0) ... utime(11) stime(12)
    auto fields = [](const std::string& s) {
      std::vector<std::string> f;
      size_t start = 0;
      for (size_t end; (end = s.find(' ', start)) != std::string::npos; start = end + 1)
        f.push_back(s.substr(start, end - start));
      return f;
    };
    std::vector<std::string> a = fields(after[i].second), b = fields(before[i].second);
    long ticks = std::stol(a[11]) + std::stol(a[12]) - std::stol(b[11]) - std::stol(b[12]);
    if (ticks > 0) std::printf("  %-16s %6ld ticks\n", after[i].first.c_str(), ticks);
  }
  std::fflush(stdout);
  bus.Close();
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  streams.Stop();
  return 0;
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseBenchFlags(argc, argv,
                       {{"--subscribers", CountFlag(&options.subscribers)},
                        {"--events", CountFlag(&options.events)},
                        {"--gap_ms", CountFlag(&options.gap_ms, true)},
                        {"--padding", CountFlag(&options.padding, true)},
                        {"--deadlock_detection", CountFlag(&options.deadlock_detection, true)}})) {
    std::fprintf(stderr,
                 "usage: event_streams_bench [--subscribers 10] [--events 2000] [--gap_ms 3] "
                 "[--padding 340]\n");
    return 2;
  }
  const std::string socket = absl::StrCat("/tmp/event_streams_bench.", ::getpid(), ".sock");
  int ready[2];
  if (::pipe(ready) != 0) return 1;
  std::fflush(stdout);
  // Before any gRPC state exists in this process.
  pid_t child = ::fork();
  if (child == 0) {
    ::close(ready[0]);
    ::_exit(Serve(options, socket, ready[1]));
  }
  ::close(ready[1]);
  char byte;
  if (::read(ready[0], &byte, 1) != 1) return 1;
  ::close(ready[0]);
  const double cpu_start = CpuMillis(RUSAGE_SELF);
  std::atomic<long> read{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < options.subscribers; ++i) {
    clients.emplace_back([&] {
      grpc::ChannelArguments arguments;
      arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection each
      auto stub = cri::RuntimeService::NewStub(grpc::CreateCustomChannel(
          "unix:" + socket, grpc::InsecureChannelCredentials(), arguments));
      grpc::ClientContext context;
      auto reader = stub->GetContainerEvents(&context, cri::GetEventsRequest());
      cri::ContainerEventResponse event;
      for (int n = 0; n < options.events && reader->Read(&event); ++n) ++read;
      context.TryCancel();
      (void)reader->Finish();
    });
  }
  for (std::thread& client : clients) client.join();
  const double cpu = CpuMillis(RUSAGE_SELF) - cpu_start;
  int status = 0;
  ::waitpid(child, &status, 0);
  ::unlink(socket.c_str());
  std::printf("clients: %.1f us CPU per message (%ld read)\n",
              1000 * cpu / (static_cast<double>(options.events) * options.subscribers), read.load());
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
