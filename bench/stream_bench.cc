// Streaming benchmark (issue 12; run it with bench/stream_bench.sh, which
// starts a local registry holding busybox). One private ocid on a bridge
// network of its own (ocidstream0, 10.214.0.0/24, no masquerade, no route
// out) runs one pod whose busybox container is the sink on port 5000:
//   --sink cat (default): `nc -ll -p 5000 -e /bin/sh -c 'cat >/dev/null'`,
//     one nc that hands each connection to a cat, which reads it to its end;
//   --sink nc: `nc -l -p 5000 >/dev/null` in a loop, nc itself reading (with
//     its small buffer, a slower sink that hides more of the path's cost).
//
// Exec round trip, --runs times (+ --warmup untimed), the sides alternating:
//   ocid:  Exec RPC (`true`, stdout and stderr, no stdin, no tty), then the
//          SPDY session on the URL (pkg/streaming/client.h) until the exit
//          status arrives on the error stream;
//   floor: `runc --root /run/runc exec ID true` of the same container,
//          spawned and waited for by this process.
// Target: p50(ocid) - p50(floor) under 10 ms.
//
// Port-forward throughput, --copies times per side, interleaved: --megabytes
// MiB of zeros written into a TCP connection, half-closed, then read until
// the sink has closed (so every byte reached it):
//   ocid:   a loopback TCP connection whose far end one PortForwarder (one
//           PortForward RPC and SPDY session for the run, as kubectl
//           port-forward keeps) forwards to port 5000 of the pod;
//   floor:  a connection to 127.0.0.1:5000 made inside the pod's netns, the
//           hop ocid's own dial takes;
//   bridge: a connection from the host to the pod's IP on the bridge;
//   relay:  the hops of the ocid side without SPDY (RelayedCopy), to tell
//           the cost of the path from the cost of the framing.
// Target: ocid's median throughput at least 80% of the floor's. Each side
// also reports the CPU time a copy cost this process and ocid (from
// /proc/PID/stat) and the sink (its container's cgroup), which tells where
// the path's cost lies on a machine too busy for the rates to be steady.
//
// Everything made here goes on every way out (also on SIGINT): the pod, ocid,
// the bridge, the temp dir.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "bench/cri_session.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/netns.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/client.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr char kBridge[] = "ocidstream0";
constexpr char kSubnet[] = "10.214.0.0/24";
constexpr int kSinkPort = 5000;
constexpr double kExecOverheadTargetMs = 10;
constexpr double kThroughputTargetPercent = 80;

struct Options {
  std::string registry;                // 127.0.0.1:PORT
  std::string ocid = "cmd/ocid/ocid";  // runfiles path
  std::string runc = "/usr/sbin/runc";
  std::string runc_root = "/run/runc";  // ocid's default for the runc handler
  int runs = 100;
  int warmup = 5;
  int megabytes = 100;
  int copies = 5;
  std::string sink = "cat";  // "nc": nc itself reads (SinkConfig)
};

volatile std::sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

std::string Conflist(const std::string& ipam_dir) {
  return absl::StrCat(R"({"cniVersion": "1.0.0", "name": "ocid-stream-bench", "plugins": [
  {"type": "bridge", "bridge": ")",
                      kBridge, R"(", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": ")",
                      ipam_dir, R"(",
            "ranges": [[{"subnet": ")",
                      kSubnet, R"("}]]}},
  {"type": "loopback"}]}
)");
}

// The sink: with `nc_reads`, nc itself reads each connection (to
// /dev/null), one nc after the other in a loop (busybox's nc has no -k), its
// stdin a FIFO that never ends so that nc does not half-close early;
// otherwise one persistent nc (-ll) hands each connection to a cat.
cri::ContainerConfig SinkConfig(const std::string& image, bool nc_reads) {
  cri::ContainerConfig config = SleepConfig(image);
  config.mutable_metadata()->set_name("sink");
  config.clear_command();
  if (nc_reads) {
    for (const char* arg : {"/bin/sh", "-c",
                            "mkfifo /tmp/in && exec 3<>/tmp/in && "
                            "while :; do nc -l -p 5000 <&3 >/dev/null; done"}) {
      config.add_command(arg);
    }
  } else {
    for (const char* arg :
         {"/bin/nc", "-ll", "-p", "5000", "-e", "/bin/sh", "-c", "cat >/dev/null"}) {
      config.add_command(arg);
    }
  }
  config.set_log_path("sink.log");
  return config;
}

// Waits until a socket in the netns of `pid` listens on `port` (as
// /proc/PID/net/tcp shows it; connecting to find out would use up a
// one-shot nc).
absl::Status WaitListening(const std::string& pid, int port) {
  const std::string wanted = absl::StrCat(":", absl::Hex(port, absl::kZeroPad4));
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (;;) {
    // nc listens on :: (tcp6) where the netns has IPv6, else on 0.0.0.0.
    for (const char* table_name : {"/net/tcp6", "/net/tcp"}) {
      absl::StatusOr<std::string> table = ReadFileToString("/proc/" + pid + table_name, 1 << 20);
      if (!table.ok()) continue;  // no IPv6
      for (absl::string_view line : absl::StrSplit(*table, '\n')) {
        std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
        // sl local_address rem_address st ...; st 0A is LISTEN.
        if (fields.size() > 3 && absl::EndsWithIgnoreCase(fields[1], wanted) && fields[3] == "0A") {
          return absl::OkStatus();
        }
      }
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("nothing listens on port ", port));
    }
    absl::SleepFor(absl::Microseconds(500));
  }
}

// ---- exec ----

absl::StatusOr<double> OcidExecOnce(cri::RuntimeService::Stub& stub, const std::string& id) {
  absl::Time start = absl::Now();
  cri::ExecRequest request;
  request.set_container_id(id);
  request.add_cmd("true");
  request.set_stdout(true);
  request.set_stderr(true);
  cri::ExecResponse response;
  RETURN_IF_ERROR(Call(stub, &cri::RuntimeService::Stub::Exec, "Exec", request, &response));
  streaming::RemoteCommandIo io;
  io.on_stdout = [](absl::string_view) {};
  io.on_stderr = [](absl::string_view) {};
  ASSIGN_OR_RETURN(streaming::RemoteCommandResult result,
                   streaming::RunRemoteCommand(response.url(), io));
  double ms = MillisSince(start);
  if (result.exit_code != 0 || !result.failure.empty()) {
    return absl::InternalError(
        absl::StrCat("exec true via ocid: exit ", result.exit_code, " ", result.failure));
  }
  return ms;
}

absl::StatusOr<double> RuncExecOnce(const Options& options, const std::string& id) {
  absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(
      Subprocess child,
      Subprocess::SpawnLogged({options.runc, "--root", options.runc_root, "exec", id, "true"}));
  ASSIGN_OR_RETURN(int status, child.Wait());
  double ms = MillisSince(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError("runc exec true: " + DescribeWaitStatus(status));
  }
  return ms;
}

struct ExecSamples {
  std::vector<double> ocid, runc;
};

absl::Status BenchExec(const Options& options, cri::RuntimeService::Stub& stub,
                       const std::string& id, ExecSamples* samples) {
  for (int i = 0; i < options.warmup + options.runs && !interrupted; ++i) {
    bool timed = i >= options.warmup;
    for (int side = 0; side < 2; ++side) {
      bool ocid_side = (side == 0) == (i % 2 == 0);  // alternate which goes first
      absl::StatusOr<double> ms = ocid_side ? OcidExecOnce(stub, id) : RuncExecOnce(options, id);
      if (!ms.ok()) return ms.status();
      if (timed) (ocid_side ? samples->ocid : samples->runc).push_back(*ms);
    }
  }
  return interrupted ? absl::CancelledError("interrupted") : absl::OkStatus();
}

// ---- port-forward ----

sockaddr_in Ipv4(const std::string& ip, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  return address;
}

absl::StatusOr<UniqueFd> Connect(const std::string& ip, int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in address = Ipv4(ip, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("connect to ", ip, ":", port));
  }
  return fd;
}

// A connection to 127.0.0.1:port inside the netns at `netns`.
absl::StatusOr<UniqueFd> ConnectInNetns(const std::string& netns, int port) {
  absl::StatusOr<UniqueFd> fd = absl::InternalError("not dialled");
  RETURN_IF_ERROR(RunInNetworkNamespace(netns, [&] { fd = Connect("127.0.0.1", port); }));
  return fd;
}

// Both ends of a fresh TCP connection on loopback: {connecting, accepted}.
absl::StatusOr<std::pair<UniqueFd, UniqueFd>> LoopbackPair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = Ipv4("127.0.0.1", 0);
  socklen_t length = sizeof(address);
  if (!listener.valid() ||
      ::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::ErrnoToStatus(errno, "listen on 127.0.0.1");
  }
  ASSIGN_OR_RETURN(UniqueFd client, Connect("127.0.0.1", ntohs(address.sin_port)));
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!accepted.valid()) return absl::ErrnoToStatus(errno, "accept");
  return std::make_pair(std::move(client), std::move(accepted));
}

// One copy through `forwarder`: a loopback TCP connection (the client's, as
// with kubectl port-forward's local port) whose accepted end is forwarded.
absl::StatusOr<double> ForwardedCopy(streaming::PortForwarder& forwarder, size_t bytes) {
  ASSIGN_OR_RETURN(auto local, LoopbackPair());
  absl::Status forwarded;
  std::thread forward([&] { forwarded = forwarder.Forward(local.second.get(), kSinkPort); });
  absl::StatusOr<double> rate = PushThrough(local.first.get(), bytes);
  if (!rate.ok()) ::shutdown(local.second.get(), SHUT_RDWR);  // ends Forward
  forward.join();
  RETURN_IF_ERROR(rate.status());
  RETURN_IF_ERROR(forwarded);
  return rate;
}

// Copies `from` to `to` until `from` ends, then half-closes `to`.
void Pump(int from, int to) {
  char buffer[64 << 10];
  for (;;) {
    ssize_t n = ::read(from, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::send(to, buffer + done, n - done, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        ::shutdown(from, SHUT_RDWR);
        return;
      }
      done += w;
    }
  }
  ::shutdown(to, SHUT_WR);
}

// The path of a port-forward without SPDY, for comparison: client, a
// loopback hop, a relay thread, a second loopback hop, a relay thread, then
// 127.0.0.1:5000 in the pod's netns; each relay copies both ways through a
// 64 KiB buffer, as ocid's and the client's copy loops do.
absl::StatusOr<double> RelayedCopy(const std::string& netns, size_t bytes) {
  ASSIGN_OR_RETURN(auto first, LoopbackPair());
  ASSIGN_OR_RETURN(auto second, LoopbackPair());
  ASSIGN_OR_RETURN(UniqueFd pod, ConnectInNetns(netns, kSinkPort));
  std::vector<std::thread> pumps;
  pumps.emplace_back(Pump, first.second.get(), second.first.get());
  pumps.emplace_back(Pump, second.first.get(), first.second.get());
  pumps.emplace_back(Pump, second.second.get(), pod.get());
  pumps.emplace_back(Pump, pod.get(), second.second.get());
  absl::StatusOr<double> rate = PushThrough(first.first.get(), bytes);
  for (int fd : {first.second.get(), second.first.get(), second.second.get(), pod.get()}) {
    ::shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& pump : pumps) pump.join();
  return rate;
}

struct CopySamples {
  std::vector<double> ocid, floor, bridge, relay;  // MiB/s
  // CPU ms per copy, by side: of this process (the writer, and the client
  // relay or the plain relay's threads), of ocid, and of the sink (the
  // container's cgroup: nc and its cat).
  std::vector<double> self_cpu[4], ocid_cpu[4], sink_cpu[4];
};

// The file that counts the CPU time of process `pid`'s cgroup: cpuacct.usage
// (ns) under cgroup v1's cpuacct hierarchy, else cpu.stat (usage_usec) under
// v2. "" when neither is found.
std::string CgroupCpuFile(const std::string& pid) {
  absl::StatusOr<std::string> text = ReadFileToString("/proc/" + pid + "/cgroup", 1 << 16);
  if (!text.ok()) return "";
  std::string unified;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    std::vector<absl::string_view> controllers = absl::StrSplit(fields[1], ',');
    if (std::find(controllers.begin(), controllers.end(), "cpuacct") != controllers.end()) {
      return absl::StrCat("/sys/fs/cgroup/", fields[1], fields[2], "/cpuacct.usage");
    }
    if (fields[0] == "0" && fields[1].empty()) {
      unified = absl::StrCat("/sys/fs/cgroup", fields[2], "/cpu.stat");
    }
  }
  return unified;
}

// The CPU time so far of the cgroup whose counter is `file`, in ms; -1 if
// unknown.
double CgroupCpuMillis(const std::string& file) {
  absl::StatusOr<std::string> text = ReadFileToString(file, 1 << 16);
  if (!text.ok()) return -1;
  double value = 0;
  if (absl::EndsWith(file, "/cpuacct.usage")) {
    return absl::SimpleAtod(absl::StripAsciiWhitespace(*text), &value) ? value / 1e6 : -1;
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, "usage_usec ") && absl::SimpleAtod(line, &value)) {
      return value / 1000;
    }
  }
  return -1;
}

absl::Status BenchPortForward(const Options& options, cri::RuntimeService::Stub& stub,
                              pid_t ocid_pid, const std::string& pod_id, const std::string& pid,
                              const std::string& pod_ip, CopySamples* samples) {
  const std::string netns = "/proc/" + pid + "/ns/net";
  cri::PortForwardRequest request;
  request.set_pod_sandbox_id(pod_id);
  request.add_port(kSinkPort);
  cri::PortForwardResponse response;
  RETURN_IF_ERROR(
      Call(stub, &cri::RuntimeService::Stub::PortForward, "PortForward", request, &response));
  ASSIGN_OR_RETURN(std::unique_ptr<streaming::PortForwarder> forwarder,
                   streaming::PortForwarder::Dial(response.url()));
  const size_t bytes = static_cast<size_t>(options.megabytes) << 20;
  const std::string sink_cgroup = CgroupCpuFile(pid);
  // One untimed copy per side first (the first connection through each path).
  for (int i = -1; i < options.copies && !interrupted; ++i) {
    for (int k = 0; k < 4; ++k) {
      int side = (k + std::max(i, 0)) % 4;             // rotate which goes first
      RETURN_IF_ERROR(WaitListening(pid, kSinkPort));  // a looping nc is back
      absl::StatusOr<double> rate;
      double self_cpu = ProcCpuMillis(::getpid()), ocid_cpu = ProcCpuMillis(ocid_pid);
      double sink_cpu = CgroupCpuMillis(sink_cgroup);
      if (side == 0) {
        rate = ForwardedCopy(*forwarder, bytes);
      } else if (side == 3) {
        rate = RelayedCopy(netns, bytes);
      } else {
        absl::StatusOr<UniqueFd> fd =
            side == 1 ? ConnectInNetns(netns, kSinkPort) : Connect(pod_ip, kSinkPort);
        if (!fd.ok()) return fd.status();
        rate = PushThrough(fd->get(), bytes);
      }
      if (!rate.ok()) return rate.status();
      std::vector<double>* into[] = {&samples->ocid, &samples->floor, &samples->bridge,
                                     &samples->relay};
      if (i < 0) continue;
      into[side]->push_back(*rate);
      samples->self_cpu[side].push_back(ProcCpuMillis(::getpid()) - self_cpu);
      samples->ocid_cpu[side].push_back(ProcCpuMillis(ocid_pid) - ocid_cpu);
      samples->sink_cpu[side].push_back(CgroupCpuMillis(sink_cgroup) - sink_cpu);
    }
  }
  return interrupted ? absl::CancelledError("interrupted") : absl::OkStatus();
}

// ---- the run ----

absl::StatusOr<std::string> ContainerPid(cri::RuntimeService::Stub& stub, const std::string& id) {
  cri::ContainerStatusRequest request;
  request.set_container_id(id);
  request.set_verbose(true);
  cri::ContainerStatusResponse response;
  RETURN_IF_ERROR(Call(stub, &cri::RuntimeService::Stub::ContainerStatus, "ContainerStatus",
                       request, &response));
  auto info = response.info().find("info");
  if (info == response.info().end()) return absl::InternalError("ContainerStatus: no info");
  nlohmann::json parsed = nlohmann::json::parse(info->second, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("pid") || !parsed["pid"].is_number_integer() ||
      parsed["pid"].get<int>() <= 0) {
    return absl::InternalError("ContainerStatus: no pid in info");
  }
  return std::to_string(parsed["pid"].get<int>());
}

absl::StatusOr<std::string> PodIp(cri::RuntimeService::Stub& stub, const std::string& pod_id) {
  cri::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(pod_id);
  cri::PodSandboxStatusResponse response;
  RETURN_IF_ERROR(Call(stub, &cri::RuntimeService::Stub::PodSandboxStatus, "PodSandboxStatus",
                       request, &response));
  if (response.status().network().ip().empty()) return absl::InternalError("the pod has no IP");
  return response.status().network().ip();
}

absl::Status RunBench(const Options& options, ExecSamples* exec, CopySamples* copies) {
  ASSIGN_OR_RETURN(std::unique_ptr<HostBridge> bridge, HostBridge::Claim(kBridge));
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("stream"));
  OcidCgroupParent cgroup_parent;  // destroyed after ocid, before the dir
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid,
                   OcidSession::StartWithNetwork(options.ocid, dir->path(), options.registry,
                                                 Conflist(dir->path() + "/ipam")));
  const std::string image = options.registry + "/busybox:latest";
  RETURN_IF_ERROR(ocid->Pull(image));
  auto stub = ocid->NewRuntimeStub();
  ASSIGN_OR_RETURN(OcidSession::RunningPod pod,
                   ocid->RunPod(*stub, "stream", SinkConfig(image, options.sink == "nc")));
  ASSIGN_OR_RETURN(std::string pid, ContainerPid(*stub, pod.container_id));
  ASSIGN_OR_RETURN(std::string ip, PodIp(*stub, pod.pod_id));

  std::fprintf(stderr, "stream_bench: exec, %d runs per side (+%d warm-up)\n", options.runs,
               options.warmup);
  RETURN_IF_ERROR(BenchExec(options, *stub, pod.container_id, exec));
  std::fprintf(stderr, "stream_bench: port-forward, %d copies of %d MiB per side (+1)\n",
               options.copies, options.megabytes);
  RETURN_IF_ERROR(BenchPortForward(options, *stub, ocid->pid(), pod.pod_id, pid, ip, copies));
  // ~OcidSession removes the pod and stops ocid; then the bridge goes.
  return absl::OkStatus();
}

void Report(const Options& options, const ExecSamples& exec, const CopySamples& copies) {
  std::printf("\nexec round trip (`true`, Exec RPC .. exit status), ms, %zu runs per side\n",
              exec.ocid.size());
  std::printf("  %-46s %8s %8s %8s\n", "side", "p50", "p90", "p99");
  auto row = [](const char* label, const std::vector<double>& v) {
    std::printf("  %-46s %8.2f %8.2f %8.2f\n", label, Percentile(v, 50), Percentile(v, 90),
                Percentile(v, 99));
  };
  row("ocid: Exec + SPDY session", exec.ocid);
  row("floor: runc exec of the same container", exec.runc);
  std::printf("\nport-forward of %d MiB into busybox %s, MiB/s, %zu copies per side\n",
              options.megabytes, options.sink == "nc" ? "nc -l (nc reads)" : "nc -ll (a cat reads)",
              copies.ocid.size());
  std::printf("  %-46s %8s %8s %8s\n", "side", "p50", "min", "max");
  auto rate_row = [](const char* label, const std::vector<double>& v) {
    std::printf("  %-46s %8.1f %8.1f %8.1f\n", label, Percentile(v, 50),
                *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
  };
  rate_row("ocid: PortForward + SPDY, via 127.0.0.1", copies.ocid);
  rate_row("floor: TCP to 127.0.0.1 in the pod netns", copies.floor);
  rate_row("TCP to the pod IP on the bridge", copies.bridge);
  rate_row("plain relay, same 3 hops, no SPDY (info)", copies.relay);
  // /proc counts in clock ticks (10 ms): the mean over the copies is finer
  // than any one of them.
  auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return v.empty() ? 0 : sum / v.size();
  };
  std::printf("  CPU ms per copy, mean: %s\n",
              "this process (writer + client side) / ocid / the sink's cgroup");
  const char* labels[] = {"ocid", "floor", "bridge", "relay"};
  for (int side = 0; side < 4; ++side) {
    if (copies.self_cpu[side].empty()) continue;
    std::printf("    %-8s %8.1f / %8.1f / %8.1f\n", labels[side], mean(copies.self_cpu[side]),
                mean(copies.ocid_cpu[side]), mean(copies.sink_cpu[side]));
  }

  double overhead = Percentile(exec.ocid, 50) - Percentile(exec.runc, 50);
  double percent = 100 * Percentile(copies.ocid, 50) / Percentile(copies.floor, 50);
  bool exec_met = overhead < kExecOverheadTargetMs;
  bool copy_met = percent >= kThroughputTargetPercent;
  std::printf("\ntargets:\n");
  std::printf("  %-60s %8.2f ms  %s\n", "exec p50, ocid - runc exec: < 10 ms", overhead,
              exec_met ? "met" : "MISSED");
  std::printf("  %-60s %8.1f %%   %s\n", "port-forward p50 throughput vs floor: >= 80%", percent,
              copy_met ? "met" : "MISSED");
  int met = exec_met + copy_met;
  std::printf("targets: %d met, %d MISSED\n", met, 2 - met);
}

bool ParseFlags(int argc, char** argv, Options* options) {
  return ParseBenchFlags(argc, argv,
                         {{"--registry", TextFlag(&options->registry)},
                          {"--ocid", TextFlag(&options->ocid)},
                          {"--runs", CountFlag(&options->runs)},
                          {"--warmup", CountFlag(&options->warmup, true)},
                          {"--megabytes", CountFlag(&options->megabytes)},
                          {"--sink", TextFlag(&options->sink)},
                          {"--copies", CountFlag(&options->copies)}}) &&
         (options->sink == "cat" || options->sink == "nc");
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: stream_bench --registry 127.0.0.1:PORT [--runs 100] [--warmup 5] "
                 "[--megabytes 100] [--copies 5] [--sink cat|nc]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  std::printf(
      "stream bench: %s/busybox:latest, runc, a private ocid on bridge %s (%s); "
      "percentiles are nearest-rank\n",
      options.registry.c_str(), kBridge, kSubnet);
  ExecSamples exec;
  CopySamples copies;
  absl::Status status = RunBench(options, &exec, &copies);
  if (!status.ok()) {
    std::fprintf(stderr, "stream_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  Report(options, exec, copies);
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
