// ocid: the CRI runtime daemon. Only wiring lives here: config in, server up,
// wait for a signal (SIGHUP reloads registries.conf and the trust policy), shut down.
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "pkg/base/build_features.h"
#include "pkg/base/child_reaper.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/version.h"
#include "pkg/config/config.h"
#include "pkg/config/flags.h"
#include "pkg/server/server.h"

namespace ocid {
namespace {

// In-flight calls get this long to finish after SIGTERM/SIGINT.
constexpr absl::Duration kShutdownGrace = absl::Seconds(10);

int Fail(const std::string& message) {
  std::cerr << "ocid: " << message << std::endl;
  return 1;
}

// Each container holds a few of ocid's fds (its memory cgroup's OOM
// eventfd, its cgroup dirs kept open for stats, conmon's sockets): the soft
// limit goes up to the hard one, as Go daemons (containerd, cri-o) get by
// default, so a few hundred containers do not run ocid out of fds.
void RaiseOpenFileLimit() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    OCID_LOG(kWarn) << "cannot raise the open file limit to " << limit.rlim_max << ": "
                    << std::strerror(errno);
  }
}

// glibc gives threads malloc arenas of their own, up to 8 per core, and keeps
// what each one freed. gRPC's request threads come and go under load, so
// arenas kept piling up freed pages: over 1000 pod lifecycles (the census
// bench) RSS grew 1.9-2.1 MB from cycle 100 to 1000; with two arenas
// 0.6-0.7 MB, at the same lifecycle rate within noise.
// Set before any thread starts; MALLOC_ARENA_MAX in the environment wins.
constexpr int kMallocArenas = 2;

int Run(int argc, char** argv) {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, kMallocArenas);
#ifdef NDEBUG
  // Debian's abseil tracks lock order on every Mutex acquisition (a debug
  // aid: about 12 % of an opt ocid's user CPU under event load). Release
  // builds skip it; fastbuild ocids, which the e2e tests run, keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  auto command_line = ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  if (!command_line.ok()) {
    return Fail(absl::StrCat(command_line.status().message(), " (see ocid --help)"));
  }
  if (command_line->help) {
    std::cout << FlagUsage();
    return 0;
  }
  if (command_line->version) {
    std::cout << "ocid version " << kOcidVersion << "\nCRI API " << kCriApiVersion
              << "\nbuilt with: " << DescribeBuildFeatures() << "\n";
    return 0;
  }
  bool print_config = false;
  for (const std::string& word : command_line->positional) {
    if (word != "config") return Fail(absl::StrCat("unknown command \"", word, "\""));
    print_config = true;
  }

  Config config;
  absl::Status status = MergeFiles(command_line->config_file, command_line->config_dir, config);
  if (status.ok()) status = ApplyOverrides(*command_line, config);
  if (status.ok()) status = Validate(config);
  if (!status.ok()) return Fail(std::string(status.message()));
  if (print_config) {
    std::cout << ToToml(config);
    return 0;
  }
  SetLogLevel(*ParseLogLevel(config.log_level));
  RaiseOpenFileLimit();

  for (const std::string& dir : {config.root, config.runroot}) {
    status = MakeDirs(dir, 0700);
    if (!status.ok()) return Fail(status.ToString());
  }

  // Block the stop signals (and SIGHUP, reload) before gRPC starts threads,
  // so that only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // reload, not stop
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Before anything starts children: the daemonized conmons and ocid-infra
  // are reparented to us and reaped here, whatever PID 1 does.
  auto reaper = OrphanReaper::Start();
  if (!reaper.ok()) return Fail(std::string(reaper.status().message()));

  auto server = CriServer::Start(config);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  OCID_LOG(kInfo) << "ocid " << kOcidVersion << " serving CRI " << kCriApiVersion << " on "
                  << config.listen;

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) == 0 && signal_number == SIGHUP) {
    // ocid.conf as at start: its files, then the same flags over them.
    Config fresh;
    absl::Status reloaded =
        MergeFiles(command_line->config_file, command_line->config_dir, fresh);
    if (reloaded.ok()) reloaded = ApplyOverrides(*command_line, fresh);
    if (reloaded.ok()) reloaded = Validate(fresh);
    if (reloaded.ok()) reloaded = (*server)->Reload(fresh);
    if (reloaded.ok()) {
      OCID_LOG(kInfo) << "got SIGHUP: reloaded " << command_line->config_file << ", "
                      << config.registries_conf << " (and " << config.registries_conf << ".d), "
                      << config.signature_policy << " and " << config.registries_d;
    } else {
      OCID_LOG(kError) << "got SIGHUP: reload failed, keeping the old configuration: "
                       << reloaded.message();
    }
  }
  OCID_LOG(kInfo) << "got " << strsignal(signal_number) << ", shutting down";
  (*server)->Shutdown(kShutdownGrace);
  OCID_LOG(kInfo) << "stopped";
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
