// Faults outside ocid (issue 15, "other faults"), against a real ocid: a
// container's conmon killed with SIGKILL, a runtime handler whose binary
// fails or is missing, a registry connection cut in the middle of a blob,
// and the disk full during a pull (a small tmpfs the test mounts). Each case shows what kubelet
// sees (a status, a clean error), that the next call on the healthy path works, and that the case
// left nothing of its own on the host. Not in specs.txt.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "e2e/cri/contract_support.h"
#include "nlohmann/json.hpp"

namespace ocid::e2e {
namespace {

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

// Processes whose command line contains `needle`.
std::vector<pid_t> ProcessesNaming(const std::string& needle) {
  std::vector<pid_t> found;
  for (const std::string& name : Entries("/proc")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(name, &pid) || pid == ::getpid()) continue;
    std::string cmdline = ReadAll("/proc/" + name + "/cmdline");
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    if (absl::StrContains(cmdline, needle)) found.push_back(pid);
  }
  return found;
}

class CriFaults : public ContractTest {
 protected:
  // The run's state dir (root, runroot, configs under it).
  static std::string StateDir() {
    const std::string& scratch = Info().scratch_dir;
    return scratch.substr(0, scratch.rfind('/'));
  }

  // What is left on the host of container `id`: mounts naming it, its
  // bundle, overlay dirs and conmon socket dir, the runtimes' state of it,
  // cgroup dirs naming it, processes naming it.
  static std::vector<std::string> ContainerLeftovers(const std::string& id) {
    const std::string state = StateDir();
    std::vector<std::string> left;
    std::istringstream mounts(ReadAll("/proc/self/mountinfo"));
    std::string line;
    while (std::getline(mounts, line)) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ');
      if (fields.size() > 4 && absl::StrContains(fields[4], id))
        left.push_back("mount " + fields[4]);
    }
    for (const std::string& dir :
         {state + "/run/containers/" + id, state + "/root/containers/" + id,
          state + "/run/conmon-sockets/" + id, state + "/runtime/runc/" + id,
          state + "/runtime/crun/" + id}) {
      if (::access(dir.c_str(), F_OK) == 0) left.push_back("dir " + dir);
    }
    // Cgroups: cgroupfs (<parent>/<id>, <pod>/ocid-conmon-<id>) or systemd
    // (<slice>/crio-<id>.scope and the like) in every hierarchy.
    std::vector<std::string> pending = {"/sys/fs/cgroup"};
    while (!pending.empty()) {
      std::string dir = pending.back();
      pending.pop_back();
      for (const std::string& name : Entries(dir)) {
        std::string path = dir + "/" + name;
        struct stat st;
        if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (absl::StrContains(name, id)) {
          left.push_back("cgroup " + path);
        } else {
          pending.push_back(path);
        }
      }
    }
    for (pid_t pid : ProcessesNaming(id)) left.push_back(absl::StrCat("process ", pid));
    return left;
  }

  // conmon's pid for container `id`: the process that names it after -c.
  static pid_t ConmonOf(const std::string& id) {
    for (pid_t pid : ProcessesNaming(id)) {
      std::string cmdline = ReadAll(absl::StrCat("/proc/", pid, "/cmdline"));
      std::vector<std::string> argv = absl::StrSplit(cmdline, '\0');
      if (!argv.empty() && absl::EndsWith(argv[0], "conmon")) return pid;
    }
    return 0;
  }

  static bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

  // Blob files whose content does not hash to their name, and files left
  // in the ingest dir (partial downloads).
  static std::vector<std::string> BadBlobs(const std::string& storage = Info().root_dir +
                                                                        "/storage") {
    std::vector<std::string> bad;
    const std::string content = storage + "/content";
    for (const std::string& name : Entries(content + "/ingest")) bad.push_back("ingest " + name);
    const std::string blobs = content + "/blobs/sha256";
    if (::access(blobs.c_str(), F_OK) != 0) return {"no blob dir " + blobs};
    std::string listing = absl::StrCat(StateDir(), "/faults-sha256.txt");
    std::string command = absl::StrCat("cd ", blobs, " && sha256sum -- * > ", listing, " 2>&1");
    if (std::system(command.c_str()) != 0 && !Entries(blobs).empty()) {
      bad.push_back("sha256sum failed: " + ReadAll(listing));
      return bad;
    }
    std::istringstream lines(ReadAll(listing));
    std::string line;
    while (std::getline(lines, line)) {
      std::vector<std::string> fields =
          absl::StrSplit(line, absl::ByAnyChar(" *"), absl::SkipEmpty());
      if (fields.size() == 2 && fields[0] != fields[1]) bad.push_back("blob " + fields[1]);
    }
    ::unlink(listing.c_str());
    return bad;
  }
};

// ---- conmon killed ---------------------------------------------------------

// kubelet learns of an exit only from ContainerStatus/ListContainers; with
// its monitor gone a container must still become EXITED with an exit code
// and a reason (cri-o: the runtime's state "stopped" and no exit file), and
// its removal must clean up what the monitor would have.
TEST_F(CriFaults, ContainerWhoseConmonWasKilledBecomesExitedAndIsRemovedCleanly) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("conmon-kill-"));
  v1::ContainerConfig config = DefaultContainerConfig("conmon-kill-");
  config.clear_command();
  config.add_command("sleep");
  config.add_command("3600");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse running, ContainerStatus(id));
  ASSERT_EQ(running.status().state(), v1::CONTAINER_RUNNING);
  const pid_t conmon = ConmonOf(id);
  ASSERT_GT(conmon, 0) << "no conmon names " << id;

  ASSERT_EQ(::kill(conmon, SIGKILL), 0);

  absl::Status exited = WaitForContainerState(id, v1::CONTAINER_EXITED, absl::Seconds(30));
  EXPECT_TRUE(exited.ok()) << exited;
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_EQ(status.status().state(), v1::CONTAINER_EXITED);
  EXPECT_NE(status.status().exit_code(), 0) << "a killed monitor is not a success";
  EXPECT_FALSE(status.status().reason().empty());
  EXPECT_TRUE(absl::StrContains(status.status().message(), "conmon"))
      << "the message does not say why: " << status.status().message();
  EXPECT_GT(status.status().finished_at(), 0);
  // ListContainers agrees with ContainerStatus.
  v1::ContainerFilter filter;
  filter.set_id(id);
  OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> listed, ListContainers(filter));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::CONTAINER_EXITED);

  // The pod still takes new containers, which run.
  OCID_ASSERT_OK_AND_ASSIGN(std::string next, CreateDefaultContainer(pod, "after-conmon-kill-"));
  OCID_EXPECT_OK(StartContainer(next));
  OCID_EXPECT_OK(WaitForContainerState(next, v1::CONTAINER_RUNNING, absl::Seconds(10)));

  OCID_EXPECT_OK(StopContainer(id, 0));
  OCID_ASSERT_OK(RemoveContainer(id));
  EXPECT_TRUE(absl::IsNotFound(ContainerStatus(id).status()));
  std::vector<std::string> left = ContainerLeftovers(id);
  EXPECT_TRUE(left.empty()) << "left behind: " << testing::PrintToString(left);
  EXPECT_FALSE(Alive(conmon));
}

// The same with ocid restarted after the kill: Recover finds the container
// whose monitor is gone.
TEST_F(CriFaults, ContainerWhoseConmonWasKilledWhileOcidWasDownIsExitedAfterARestart) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("conmon-kill-down-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(pod, "conmon-kill-down-"));
  OCID_ASSERT_OK(StartContainer(id));
  const pid_t conmon = ConmonOf(id);
  ASSERT_GT(conmon, 0) << "no conmon names " << id;
  const pid_t ocid = OcidPid();
  ASSERT_GT(ocid, 0);
  ASSERT_EQ(::kill(ocid, SIGKILL), 0);
  ASSERT_EQ(::kill(conmon, SIGKILL), 0);
  OCID_ASSERT_OK(RestartOcid(/*kill=*/true));

  absl::Status exited = WaitForContainerState(id, v1::CONTAINER_EXITED, absl::Seconds(30));
  EXPECT_TRUE(exited.ok()) << exited;
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_NE(status.status().exit_code(), 0);
  EXPECT_FALSE(status.status().reason().empty());

  OCID_ASSERT_OK(RemoveContainer(id));
  std::vector<std::string> left = ContainerLeftovers(id);
  EXPECT_TRUE(left.empty()) << "left behind: " << testing::PrintToString(left);
}

// ---- the runtime binary failing -------------------------------------------

class CriBrokenRuntime : public CriFaults {
 protected:
  // Handlers "failing" (a script that prints a message and exits 1) and
  // "missing" (a path with no file), in a drop-in, ocid restarted to read it.
  static void SetUpTestSuite() {
    const std::string state = StateDir();
    script_ = state + "/failing-runtime.sh";
    WriteText(script_, "#!/bin/sh\necho \"failing-runtime: refusing $*\" >&2\nexit 1\n");
    ::chmod(script_.c_str(), 0755);
    dropin_ = state + "/ocid.conf.d/50-broken-runtimes.conf";
    WriteText(dropin_, absl::StrCat("[ocid.runtime.runtimes.failing]\nruntime_path = \"", script_,
                                    "\"\nruntime_root = \"", state,
                                    "/runtime/failing\"\n\n[ocid.runtime.runtimes.missing]\n"
                                    "runtime_path = \"",
                                    state, "/no-such-runtime\"\nruntime_root = \"", state,
                                    "/runtime/missing\"\n"));
  }
  static void TearDownTestSuite() {
    ::unlink(dropin_.c_str());
    ::unlink(script_.c_str());
  }
  void SetUp() override {
    CriFaults::SetUp();
    if (HasFatalFailure()) return;
    if (!restarted_) {
      absl::Status restarted = RestartOcid(/*kill=*/false);
      ASSERT_TRUE(restarted.ok()) << "ocid with the broken handlers: " << restarted;
      restarted_ = true;
    }
  }

  void CreateFailsCleanly(const std::string& handler) {
    v1::PodSandboxConfig pod_config = DefaultPodConfig("broken-" + handler + "-");
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = pod_config;
    request.set_runtime_handler(handler);
    v1::RunPodSandboxResponse response;
    absl::Status ran = Call(&v1::RuntimeService::Stub::RunPodSandbox, request, &response);
    const std::set<std::string> containers_before = ContainerIds();
    std::string pod_id = response.pod_sandbox_id();
    if (ran.ok()) {
      // The pod needs no runtime (ocid-infra); its containers do.
      Pod pod{pod_id, pod_config};
      absl::StatusOr<std::string> created =
          CreateContainer(pod, DefaultContainerConfig("broken-" + handler + "-"));
      ASSERT_FALSE(created.ok()) << "created " << *created << " with the " << handler << " runtime";
      EXPECT_TRUE(absl::StrContains(created.status().message(), handler))
          << "the error does not name the handler: " << created.status();
      EXPECT_EQ(ContainerIds(), containers_before) << "a failed create is listed";
      v1::ContainerFilter in_pod;
      in_pod.set_pod_sandbox_id(pod_id);
      OCID_ASSERT_OK_AND_ASSIGN(std::vector<v1::Container> in, ListContainers(in_pod));
      EXPECT_TRUE(in.empty());
      // Nothing of the failed container on the host: no bundle, rootfs
      // mount, socket dir or runtime state left under the run's dirs.
      const std::string state = StateDir();
      for (const std::string& dir :
           {state + "/run/containers", state + "/root/containers", state + "/run/conmon-sockets"}) {
        for (const std::string& entry : Entries(dir)) {
          bool known = false;
          for (const std::string& c : ContainerIds()) known |= absl::StartsWith(c, entry);
          EXPECT_TRUE(known) << "left in " << dir << ": " << entry;
        }
      }
      for (const std::string& entry : Entries(state + "/runtime/" + handler)) {
        ADD_FAILURE() << handler << " state of " << entry;
      }
      OCID_EXPECT_OK(StopPod(pod_id));
      OCID_EXPECT_OK(RemovePod(pod_id));
    } else {
      EXPECT_TRUE(absl::StrContains(ran.message(), handler))
          << "the error does not name the handler: " << ran;
    }
    // The good runtime still works, in a new pod.
    OCID_ASSERT_OK_AND_ASSIGN(Pod good, RunDefaultPod("good-after-" + handler + "-"));
    OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateDefaultContainer(good, "good-"));
    OCID_ASSERT_OK(StartContainer(id));
    OCID_EXPECT_OK(WaitForContainerState(id, v1::CONTAINER_RUNNING, absl::Seconds(10)));
  }

  static inline std::string script_;
  static inline std::string dropin_;
  static inline bool restarted_ = false;
};

TEST_F(CriBrokenRuntime, RuntimeThatExitsOneFailsCreateContainerNamingItAndLeavesNothing) {
  CreateFailsCleanly("failing");
}

TEST_F(CriBrokenRuntime, MissingRuntimeBinaryFailsCleanlyAndIsReported) {
  CreateFailsCleanly("missing");
  // The node stays ready: RuntimeReady is the default handler's, which works.
  v1::StatusRequest request;
  v1::StatusResponse response;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::Status, request, &response));
  bool ready = false;
  for (const v1::RuntimeCondition& condition : response.status().conditions()) {
    if (condition.type() == "RuntimeReady") ready = condition.status();
  }
  EXPECT_TRUE(ready) << response.DebugString();
}

// ---- a registry that closes mid-blob --------------------------------------

// A loopback TCP proxy in front of the suite's registry, one request per
// connection (it asks for "Connection: close" upstream). It cuts blob GETs
// short, as a registry (or a load balancer) dying mid-blob would: the
// response is forwarded up to half of its body, then both connections are
// closed. Mode kOnce cuts each blob's first full (200) response only, so
// that a client resuming with a Range request gets the rest; kAlways cuts
// the 200s and sends no body byte of a resumed (206) one.
class CuttingProxy {
 public:
  explicit CuttingProxy(const std::string& upstream) {
    upstream_port_ = std::stoi(upstream.substr(upstream.rfind(':') + 1));
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~CuttingProxy() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    for (std::thread& t : connections_) t.join();
    if (listener_ >= 0) ::close(listener_);
  }

  enum Mode { kOff, kOnce, kAlways };
  int port() const { return port_; }
  void set_mode(Mode mode) {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = mode;
    cut_blobs_.clear();
  }
  int cuts() const { return cuts_; }
  int blob_requests() const { return blob_requests_; }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      connections_.emplace_back([this, client] {
        Serve(client);
        ::close(client);
      });
    }
  }

  static bool SendAll(int fd, const char* data, size_t size) {
    while (size > 0) {
      ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  void Serve(int client) {
    timeval timeout{10, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string request;
    char buffer[16384];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      request.append(buffer, static_cast<size_t>(n));
    }
    size_t end = request.find("\r\n\r\n");
    if (end == std::string::npos) return;
    // One request per connection: the next one comes on a new connection,
    // where the proxy sees it.
    std::vector<std::string> lines = absl::StrSplit(request.substr(0, end), "\r\n");
    std::string rewritten;
    for (const std::string& line : lines) {
      if (absl::StartsWithIgnoreCase(line, "connection:")) continue;
      absl::StrAppend(&rewritten, line, "\r\n");
    }
    absl::StrAppend(&rewritten, "Connection: close\r\n\r\n", request.substr(end + 4));
    const bool blob_get =
        absl::StartsWith(lines[0], "GET ") && absl::StrContains(lines[0], "/blobs/sha256:");
    if (blob_get) ++blob_requests_;
    bool cut = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cut =
          blob_get && (mode_ == kAlways || (mode_ == kOnce && cut_blobs_.insert(lines[0]).second));
    }

    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (upstream < 0) return;
    ::setsockopt(upstream, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        !SendAll(upstream, rewritten.data(), rewritten.size())) {
      ::close(upstream);
      return;
    }
    std::string head;    // the response's headers, until known
    int64_t limit = -1;  // bytes to forward in all before the cut; -1: no cut
    int64_t forwarded = 0;
    while (true) {
      ssize_t n = ::recv(upstream, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      size_t size = static_cast<size_t>(n);
      if (cut && limit < 0 && head.find("\r\n\r\n") == std::string::npos) {
        head.append(buffer, size);
        size_t head_end = head.find("\r\n\r\n");
        const bool full = absl::StrContains(head.substr(0, 16), " 200");
        const bool resumed = absl::StrContains(head.substr(0, 16), " 206");
        if (head_end != std::string::npos && (full || resumed)) {
          for (absl::string_view line : absl::StrSplit(head.substr(0, head_end), "\r\n")) {
            int64_t length = 0;
            if (absl::ConsumePrefix(&line, "Content-Length:") ||
                absl::ConsumePrefix(&line, "content-length:")) {
              if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &length) && length > 1) {
                limit = static_cast<int64_t>(head_end + 4) + (full ? length / 2 : 0);
              }
            }
          }
        }
      }
      if (limit >= 0 && forwarded + static_cast<int64_t>(size) >= limit) {
        SendAll(client, buffer, static_cast<size_t>(limit - forwarded));
        ++cuts_;
        break;  // both closed: the body stops half-way
      }
      if (!SendAll(client, buffer, size)) break;
      forwarded += static_cast<int64_t>(size);
    }
    ::close(upstream);
  }

  int listener_ = -1;
  int port_ = 0;
  int upstream_port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Mode mode_ = kOff;                 // guarded by mu_
  std::set<std::string> cut_blobs_;  // request lines cut in kOnce, guarded by mu_
  std::atomic<int> cuts_{0};
  std::atomic<int> blob_requests_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // only the acceptor adds, joined at the end
};

class CriRegistryCut : public CriFaults {
 protected:
  void SetUp() override {
    CriFaults::SetUp();
    if (HasFatalFailure()) return;
    proxy_ = std::make_unique<CuttingProxy>(Info().registry);
    ASSERT_GT(proxy_->port(), 0) << "the proxy did not listen";
    proxy_host_ = absl::StrCat("127.0.0.1:", proxy_->port());
    // The proxy as one more insecure registry; ocid reads it at start.
    conf_ = StateDir() + "/registries.conf";
    saved_conf_ = ReadAll(conf_);
    ASSERT_TRUE(
        WriteText(conf_, absl::StrCat(saved_conf_, "\n[[registry]]\nprefix = \"", proxy_host_,
                                      "\"\nlocation = \"", proxy_host_, "\"\ninsecure = true\n")));
    OCID_ASSERT_OK(RestartOcid(/*kill=*/false));
  }
  void TearDown() override {
    CriFaults::TearDown();
    if (!saved_conf_.empty()) {
      WriteText(conf_, saved_conf_);
      OCID_EXPECT_OK(RestartOcid(/*kill=*/false));
    }
    proxy_.reset();
  }

  std::unique_ptr<CuttingProxy> proxy_;
  std::string proxy_host_;
  std::string conf_;
  std::string saved_conf_;
};

TEST_F(CriRegistryCut, PullCutMidBlobFailsCleanlyAndTheNextPullWorks) {
  const std::string image = proxy_host_ + "/e2e-test-images/httpd:2.4.39-4";
  const std::set<std::string> images_before = ImageIds();
  const size_t layers_before = Entries(Info().root_dir + "/storage/layers").size();

  proxy_->set_mode(CuttingProxy::kAlways);
  absl::Time start = absl::Now();
  absl::StatusOr<std::string> cut = PullImage(image);
  RecordProperty("cut_pull_seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start)));
  RecordProperty("cuts", proxy_->cuts());
  ASSERT_GT(proxy_->cuts(), 0) << "the proxy cut no blob (" << proxy_->blob_requests()
                               << " blob GETs)";
  ASSERT_FALSE(cut.ok()) << "a pull whose every blob was cut short succeeded: " << *cut;
  EXPECT_TRUE(absl::StrContains(cut.status().message(), "sha256:") ||
              absl::StrContains(cut.status().message(), "blob"))
      << "the error does not say which blob: " << cut.status();
  EXPECT_TRUE(absl::IsNotFound(ImageStatus(image).status())) << "a record of the failed pull";
  EXPECT_EQ(ImageIds(), images_before);
  EXPECT_EQ(Entries(Info().root_dir + "/storage/layers").size(), layers_before)
      << "a layer of the failed pull was kept";
  std::vector<std::string> bad = BadBlobs();
  EXPECT_TRUE(bad.empty()) << testing::PrintToString(bad);

  // The healthy path: the same pull through the same proxy now works.
  proxy_->set_mode(CuttingProxy::kOff);
  OCID_ASSERT_OK_AND_ASSIGN(std::string ref, PullImage(image));
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image pulled, ImageStatus(image));
  EXPECT_EQ(pulled.id(), ref);
  bad = BadBlobs();
  EXPECT_TRUE(bad.empty()) << testing::PrintToString(bad);
  // And the image runs.
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("after-cut-"));
  v1::ContainerConfig config = DefaultContainerConfig("after-cut-");
  config.mutable_image()->set_image(image);
  config.clear_command();
  config.add_command("sleep");
  config.add_command("3600");
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_EXPECT_OK(StopPod(pod.id));
  OCID_EXPECT_OK(RemovePod(pod.id));
  OCID_EXPECT_OK(RemoveImage(image));
}

// Each blob cut once, half-way: the pull resumes where it was cut (a Range
// request) and succeeds, with every stored blob whole.
TEST_F(CriRegistryCut, PullCutOnceMidBlobResumesAndStoresWholeBlobs) {
  const std::string image = proxy_host_ + "/e2e-test-images/nginx:1.14-2";
  proxy_->set_mode(CuttingProxy::kOnce);
  OCID_ASSERT_OK_AND_ASSIGN(std::string ref, PullImage(image));
  RecordProperty("cuts", proxy_->cuts());
  RecordProperty("blob_requests", proxy_->blob_requests());
  EXPECT_GT(proxy_->cuts(), 0) << "the proxy cut no blob";
  EXPECT_GT(proxy_->blob_requests(), proxy_->cuts()) << "no blob was asked for again";
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image pulled, ImageStatus(image));
  EXPECT_EQ(pulled.id(), ref);
  std::vector<std::string> bad = BadBlobs();
  EXPECT_TRUE(bad.empty()) << testing::PrintToString(bad);
  OCID_EXPECT_OK(RemoveImage(image));
}

// ---- the disk full during a pull -----------------------------------------

// ocid's image storage on a tmpfs of 256 KiB mounted by the test (over
// <root>/storage, ocid restarted onto it, no container running): a pull
// that runs out of space fails saying so and keeps nothing partial; once
// there is room (the tmpfs grown) the same pull works. The tmpfs is always
// unmounted and ocid restarted onto the real storage at the end.
class CriDiskFull : public CriFaults {
 protected:
  void SetUp() override {
    CriFaults::SetUp();
    if (HasFatalFailure()) return;
    storage_ = Info().root_dir + "/storage";
    ASSERT_EQ(::mount("ocid-faults-enospc", storage_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                      "size=256k,mode=0700"),
              0)
        << "mount tmpfs on " << storage_ << ": " << std::strerror(errno);
    mounted_ = true;
    OCID_ASSERT_OK(RestartOcid(/*kill=*/false));
  }
  void TearDown() override {
    CriFaults::TearDown();
    if (mounted_) {
      EXPECT_EQ(::umount2(storage_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
      OCID_EXPECT_OK(RestartOcid(/*kill=*/false));
    }
  }

  std::string storage_;
  bool mounted_ = false;
};

TEST_F(CriDiskFull, PullOntoAFullDiskFailsKeepsNothingAndWorksOnceThereIsRoom) {
  const std::string image = kNginxImage;
  absl::StatusOr<std::string> full = PullImage(image);
  ASSERT_FALSE(full.ok()) << "the image fit in 256 KiB: " << *full;
  EXPECT_TRUE(absl::StrContains(full.status().message(), "No space left on device"))
      << full.status();
  EXPECT_TRUE(absl::IsNotFound(ImageStatus(image).status())) << "a record of the failed pull";
  EXPECT_TRUE(ImageIds().empty());
  std::vector<std::string> bad = BadBlobs(storage_);
  EXPECT_TRUE(bad.empty()) << testing::PrintToString(bad);
  for (const std::string& layer : Entries(storage_ + "/layers")) {
    ADD_FAILURE() << "layer kept: " << layer;
  }
  // ocid still answers everything else, and another call fails the same way.
  OCID_EXPECT_OK(ListContainers().status());
  EXPECT_FALSE(PullImage(image).ok());

  // Room again: the same pull works, whole.
  ASSERT_EQ(
      ::mount(nullptr, storage_.c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV, "size=256m"),
      0)
      << std::strerror(errno);
  OCID_ASSERT_OK_AND_ASSIGN(std::string ref, PullImage(image));
  OCID_ASSERT_OK_AND_ASSIGN(v1::Image pulled, ImageStatus(image));
  EXPECT_EQ(pulled.id(), ref);
  RecordProperty("image_bytes", static_cast<int>(pulled.size()));
  bad = BadBlobs(storage_);
  EXPECT_TRUE(bad.empty()) << testing::PrintToString(bad);
  OCID_EXPECT_OK(RemoveImage(image));
}

}  // namespace
}  // namespace ocid::e2e
