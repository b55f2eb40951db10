#include "bench/bench_support.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"

namespace ocid {

double MillisSince(absl::Time start) { return absl::ToDoubleMilliseconds(absl::Now() - start); }

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100 * values.size()));
  return values[std::min(values.size(), std::max<size_t>(rank, 1)) - 1];
}

long ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

long SmapsRollupKb(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/smaps_rollup"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

namespace {
constexpr char kResultPrefix[] = "result: ";
}  // namespace

void PrintResult(const std::string& key, double value) {
  // %.17g: the value read back is the value printed.
  std::printf("%s%s %.17g\n", kResultPrefix, key.c_str(), value);
  std::fflush(stdout);
}

std::map<std::string, double> ParseResults(const std::string& text) {
  std::map<std::string, double> results;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, kResultPrefix)) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    double value = 0;
    if (fields.size() != 2 || !absl::SimpleAtod(fields[1], &value)) continue;
    results[std::string(fields[0])] = value;
  }
  return results;
}

double ProcCpuMillis(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name, field 2, may hold spaces: count fields after its ')'.
  size_t end = stat.rfind(')');
  if (end == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(end + 2), ' ');
  long user = 0, system = 0;
  // utime and stime are fields 14 and 15, so 11 and 12 after the name.
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &user) ||
      !absl::SimpleAtoi(fields[12], &system)) {
    return -1;
  }
  return 1000.0 * static_cast<double>(user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

absl::StatusOr<Subprocess> StartPrivateOcid(const std::string& binary, const std::string& dir,
                                              const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {std::filesystem::absolute(binary).string(),
                                   "--config", dir + "/none.conf",
                                   "--config-dir", dir + "/none.d",
                                   "--listen", dir + "/ocid.sock",
                                   "--root", dir + "/root",
                                   "--runroot", dir + "/run",
                                   "--log-dir", dir + "/logs",
                                   "--cni-config-dir", dir + "/net.d"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  absl::StatusOr<Subprocess> ocid = Subprocess::SpawnLogged(argv, dir + "/ocid.log");
  if (!ocid.ok()) return ocid.status();
  const std::string socket = dir + "/ocid.sock";
  struct stat st;
  for (int i = 0; ::stat(socket.c_str(), &st) != 0; ++i) {
    if (i >= 2000) return absl::DeadlineExceededError("ocid made no socket within 10 s");
    if (!ocid->Running()) return absl::InternalError("ocid exited; see " + dir + "/ocid.log");
    ::usleep(5000);
  }
  return ocid;
}

absl::StatusOr<std::unique_ptr<BenchDir>> BenchDir::Make(const std::string& what) {
  std::string pattern = absl::StrCat("/tmp/ocid-bench-", what, ".XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  return std::unique_ptr<BenchDir>(new BenchDir(pattern));
}

BenchDir::~BenchDir() {
  UnmountAllUnder(path_);
  RemoveAll(path_).IgnoreError();
}

void BenchDir::UnmountAllUnder(const std::string& dir) {
  std::vector<std::string> targets;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && fields[4].rfind(dir + "/", 0) == 0) targets.push_back(fields[4]);
  }
  std::sort(targets.rbegin(), targets.rend());  // children before parents
  for (const std::string& target : targets) ::umount2(target.c_str(), MNT_DETACH);
}

absl::StatusOr<Subprocess> StartOcidWithNetwork(const std::string& binary, const std::string& dir,
                                                const std::string& registry,
                                                const std::string& conflist,
                                                const std::vector<std::string>& extra) {
  RETURN_IF_ERROR(WriteFileAtomically(
      dir + "/registries.conf",
      absl::StrCat("[[registry]]\nlocation = \"", registry, "\"\ninsecure = true\n")));
  RETURN_IF_ERROR(MakeDirs(dir + "/net.d", 0755));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/net.d/10-bench.conflist", conflist));
  std::vector<std::string> flags = {"--registries-conf", dir + "/registries.conf"};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return StartPrivateOcid(binary, dir, flags);
}

absl::StatusOr<Subprocess> StartLoopbackOcid(const std::string& binary, const std::string& dir,
                                             const std::string& registry,
                                             const std::vector<std::string>& extra) {
  return StartOcidWithNetwork(
      binary, dir, registry,
      R"({"cniVersion": "1.0.0", "name": "lo-only", "plugins": [{"type": "loopback"}]})", extra);
}

namespace {
constexpr char kIpForward[] = "/proc/sys/net/ipv4/ip_forward";
}  // namespace

absl::StatusOr<std::unique_ptr<HostBridge>> HostBridge::Claim(const std::string& bridge) {
  if (std::filesystem::exists("/sys/class/net/" + bridge)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "bridge ", bridge, " exists: another run is going, or one left it (ip link del ", bridge,
        ")"));
  }
  ASSIGN_OR_RETURN(std::string forward, ReadFileToString(kIpForward, 64));
  return std::unique_ptr<HostBridge>(
      new HostBridge(bridge, std::string(absl::StripAsciiWhitespace(forward))));
}

HostBridge::~HostBridge() {
  if (std::filesystem::exists("/sys/class/net/" + bridge_)) {
    absl::StatusOr<Subprocess> child =
        Subprocess::SpawnLogged({"/usr/sbin/ip", "link", "del", bridge_});
    absl::StatusOr<int> status = child.ok() ? child->Wait() : child.status();
    if (!status.ok() || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      std::fprintf(stderr, "teardown: ip link del %s failed\n", bridge_.c_str());
    }
  }
  absl::StatusOr<std::string> now = ReadFileToString(kIpForward, 64);
  if (now.ok() && absl::StripAsciiWhitespace(*now) != ip_forward_) {
    std::ofstream(kIpForward) << ip_forward_ << "\n";
  }
}

void KillConmonsUnder(const std::string& dir) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid) || pid <= 1) continue;
    absl::StatusOr<std::string> cmdline =
        ReadFileToString(entry.path().string() + "/cmdline", 1 << 16);
    if (!cmdline.ok()) continue;
    std::vector<std::string> args = absl::StrSplit(*cmdline, '\0');
    if (args.empty() || args[0].find("conmon") == std::string::npos) continue;
    if (cmdline->find(dir + "/") != std::string::npos) ::kill(pid, SIGKILL);
  }
}

bool ParseBenchFlags(int argc, char** argv, const std::map<std::string, BenchFlag>& flags) {
  if (argc % 2 == 0) return false;
  for (int i = 1; i + 1 < argc; i += 2) {
    auto it = flags.find(argv[i]);
    if (it == flags.end()) return false;
    const std::string value = argv[i + 1];
    const BenchFlag& flag = it->second;
    if (flag.text != nullptr) {
      *flag.text = value;
    } else if (!absl::SimpleAtoi(value, flag.count) || *flag.count < (flag.zero_ok ? 0 : 1)) {
      return false;
    }
  }
  auto registry = flags.find("--registry");
  return registry == flags.end() || registry->second.text->rfind("127.0.0.1:", 0) == 0;
}

absl::StatusOr<double> PushThrough(int fd, size_t bytes) {
  constexpr size_t kChunk = 256 << 10;
  static const std::string zeros(kChunk, '\0');
  absl::Time start = absl::Now();
  for (size_t left = bytes; left > 0;) {
    ssize_t n = ::send(fd, zeros.data(), std::min(left, kChunk), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "send");
    left -= static_cast<size_t>(n);
  }
  if (::shutdown(fd, SHUT_WR) != 0) return absl::ErrnoToStatus(errno, "shutdown");
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read");
    return absl::DataLossError("the sink sent data back");
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return bytes / double(1 << 20) / seconds;
}

}  // namespace ocid
