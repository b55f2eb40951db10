// ocid under client and process abuse (issue 15), against a real ocid: many
// idle connections, clients that vanish mid-call and mid-stream, and a storm
// of stop/continue signals (which make blocking calls fail with EINTR even
// where no handler is installed, signal(7)). After each, ocid is the same
// process and still serves. Not in specs.txt.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e/cri/contract_support.h"
#include "pkg/base/unique_fd.h"

namespace ocid::e2e {
namespace {

class CriRobustness : public ContractTest {
 protected:
  absl::Status Version() {
    v1::VersionRequest request;
    v1::VersionResponse response;
    return Call(&v1::RuntimeService::Stub::Version, request, &response, absl::Seconds(20));
  }

  // A connection to ocid's socket that says what an HTTP/2 client says
  // first (the preface and an empty SETTINGS frame), then nothing.
  static UniqueFd IdleConnection() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, Info().socket.c_str(), sizeof(address.sun_path) - 1);
    if (!fd.valid() ||
        ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return UniqueFd();
    }
    static const char kHello[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
    if (::send(fd.get(), kHello, sizeof(kHello) - 1, MSG_NOSIGNAL) !=
        static_cast<ssize_t>(sizeof(kHello) - 1)) {
      return UniqueFd();
    }
    return fd;
  }
};

TEST_F(CriRobustness, TenThousandIdleConnectionsLeaveOcidServing) {
  constexpr int kConnections = 10000;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < kConnections + 200) {
    GTEST_SKIP() << "this process may open only " << limit.rlim_max << " files";
  }
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  const pid_t ocid = OcidPid();
  ASSERT_GT(ocid, 0);

  std::vector<UniqueFd> idle;
  idle.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    UniqueFd fd = IdleConnection();
    ASSERT_TRUE(fd.valid()) << "connection " << i << ": " << std::strerror(errno);
    idle.push_back(std::move(fd));
  }
  // With all of them open: calls are answered, a pod runs.
  OCID_EXPECT_OK(Version());
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(DefaultPodConfig("idle-conns-")));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "idle-conns-"));
  OCID_EXPECT_OK(StartContainer(id));
  RecordProperty("ocid_fds_with_idle_connections",
                 static_cast<int>(std::distance(
                     std::filesystem::directory_iterator(absl::StrCat("/proc/", ocid, "/fd")),
                     std::filesystem::directory_iterator())));
  idle.clear();
  OCID_EXPECT_OK(Version());
  OCID_EXPECT_OK(RemovePod(pod.id));
  EXPECT_EQ(OcidPid(), ocid) << "ocid restarted or died";
}

TEST_F(CriRobustness, ClientsVanishingMidCallAndMidStreamLeaveOcidServing) {
  const pid_t ocid = OcidPid();
  ASSERT_GT(ocid, 0);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(DefaultPodConfig("vanishing-")));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "vanishing-"));
  OCID_ASSERT_OK(StartContainer(id));

  // Calls whose client gives up at once (deadline in the past or cancelled).
  for (int i = 0; i < 200; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Microseconds(i % 7)));
    v1::ListContainersRequest request;
    v1::ListContainersResponse response;
    Runtime().ListContainers(&context, request, &response);
  }
  // Event subscribers that go away, some without reading anything, while
  // events are made.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::ContainerEventResponse>>> readers;
  for (int i = 0; i < 20; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(
        Runtime().GetContainerEvents(contexts.back().get(), v1::GetEventsRequest()));
  }
  OCID_ASSERT_OK_AND_ASSIGN(std::string second, CreateDefaultContainer(pod, "vanishing-"));
  for (auto& context : contexts) context->TryCancel();
  readers.clear();
  contexts.clear();
  OCID_EXPECT_OK(StartContainer(second));
  // An exec whose client leaves before the command ends.
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
    v1::ExecSyncRequest request;
    request.set_container_id(id);
    request.add_cmd("sleep");
    request.add_cmd("5");
    request.set_timeout(10);
    v1::ExecSyncResponse response;
    EXPECT_FALSE(Runtime().ExecSync(&context, request, &response).ok());
  }
  OCID_EXPECT_OK(Version());
  OCID_ASSERT_OK_AND_ASSIGN(ExecResult echoed, ExecSync(id, {"echo", "still here"}));
  EXPECT_EQ(echoed.stdout_text, "still here\n");
  OCID_EXPECT_OK(RemovePod(pod.id));
  EXPECT_EQ(OcidPid(), ocid) << "ocid restarted or died";
}

TEST_F(CriRobustness, StopContinueStormFailsNoCall) {
  const pid_t ocid = OcidPid();
  ASSERT_GT(ocid, 0);
  OCID_ASSERT_OK(PullImage(kDefaultImage).status());
  std::atomic<bool> done{false};
  std::atomic<int> signals{0};
  std::thread storm([&] {
    while (!done) {
      ::kill(ocid, SIGSTOP);
      absl::SleepFor(absl::Milliseconds(1));
      ::kill(ocid, SIGCONT);
      ++signals;
      absl::SleepFor(absl::Milliseconds(4));
    }
  });
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(absl::StrCat("lifecycle ", i));
    absl::StatusOr<Pod> pod = RunPod(DefaultPodConfig("storm-"));
    OCID_EXPECT_OK(pod.status());
    if (!pod.ok()) continue;
    absl::StatusOr<std::string> id = CreateDefaultContainer(*pod, "storm-");
    OCID_EXPECT_OK(id.status());
    if (id.ok()) {
      OCID_EXPECT_OK(StartContainer(*id));
      OCID_EXPECT_OK(ExecSync(*id, {"true"}).status());
      OCID_EXPECT_OK(StopContainer(*id, 0));
      OCID_EXPECT_OK(RemoveContainer(*id));
    }
    OCID_EXPECT_OK(StopPod(pod->id));
    OCID_EXPECT_OK(RemovePod(pod->id));
  }
  done = true;
  storm.join();
  ::kill(ocid, SIGCONT);
  RecordProperty("stop_continue_pairs", signals.load());
  EXPECT_GT(signals.load(), 50);
  OCID_EXPECT_OK(Version());
  EXPECT_EQ(OcidPid(), ocid) << "ocid restarted or died";
}

}  // namespace
}  // namespace ocid::e2e
