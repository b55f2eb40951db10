// What a RuntimeDefault seccomp profile costs a container (issue 10; run it
// with bench/seccomp_bench.sh, which starts a local registry holding
// busybox). Two sides, alternated run by run (the order flips every run):
// the container's security context asks for seccomp RuntimeDefault, or for
// Unconfined. Four readings per side:
//   spec:   in this process, what ocid does for the profile and nothing
//           else: BuildContainerSpec (which takes the profile from a
//           SeccompProfiles cache, as ocid's is) + dump + config.json
//           written the way CreateContainer writes it (--spec-runs each);
//   create: the CreateContainer call alone against a private ocid (spec,
//           bundle, conmon and `runc create`, which reads the larger
//           config.json);
//   create+start: CreateContainer + StartContainer (runc installs the
//           filter in the container's init; that part is the runtime's).
//   floor:  `runc create` of the same spec on a busybox rootfs, outside
//           ocid (its own runc root and cgroup parent), the runtime's part.
// --runs timed containers per side after --warmup untimed ones, all in one
// pod; each is stopped and removed (untimed) before the next. Before the
// timed runs, each side's container is checked from /proc/PID/status
// (Seccomp: 2 with RuntimeDefault, 0 with Unconfined), so that the sides
// really differ. --no-new-privs 1 sets no_new_privs on both sides (runc
// then loads the filter just before the exec rather than before it drops
// capabilities). Target: the p50 difference of ocid's own work under 1 ms.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "bench/cri_session.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/image/manifest.h"
#include "pkg/oci/spec.h"
#include "pkg/security/seccomp.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;
using S = cri::RuntimeService::Stub;

constexpr double kTargetMs = 1.0;

struct Options {
  std::string registry;                // 127.0.0.1:PORT
  std::string ocid = "cmd/ocid/ocid";  // runfiles path
  std::string runc = "/usr/sbin/runc";
  std::string runc_root = "/run/runc";  // ocid's default for the runc handler
  int runs = 50;
  int warmup = 5;
  int spec_runs = 1000;
  // Both sides set no_new_privs: runc then loads the filter at start, just
  // before the exec, instead of in `runc create`.
  bool no_new_privs = false;
};

volatile std::sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

enum Side { kDefault = 0, kUnconfined = 1 };
const char* SideName(int side) { return side == kDefault ? "RuntimeDefault" : "Unconfined"; }

void SetSeccomp(const Options& options, cri::LinuxContainerSecurityContext* sc, int side) {
  sc->set_no_new_privs(options.no_new_privs);
  sc->mutable_seccomp()->set_profile_type(side == kDefault ? cri::SecurityProfile::RuntimeDefault
                                                           : cri::SecurityProfile::Unconfined);
}

struct Samples {
  std::vector<double> spec[2];
  std::vector<double> create[2];
  std::vector<double> create_start[2];
  std::vector<double> runc_create[2];
  double cold_build_ms = 0;  // the first RuntimeDefault spec: the profile built
  size_t config_bytes[2] = {0, 0};
  int seccomp_mode[2] = {-1, -1};
};

// The in-process reading: ocid's spec path for one container, the profile
// from a cache shared across runs as ocid's SeccompProfiles is.
absl::Status MeasureSpec(const Options& options, Samples* samples) {
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("seccomp-spec"));
  const std::string root = dir->path();
  RETURN_IF_ERROR(MakeDirs(root + "/rootfs/etc", 0755));
  RETURN_IF_ERROR(WriteFileAtomically(root + "/rootfs/etc/passwd",
                                      "root:x:0:0:root:/root:/bin/sh\n",
                                      0644, Durability::kVolatile));
  RETURN_IF_ERROR(WriteFileAtomically(root + "/rootfs/etc/group", "root:x:0:\n",
                                      0644, Durability::kVolatile));
  RETURN_IF_ERROR(MakeDirs(root + "/bundle", 0700));
  RETURN_IF_ERROR(MakeDirs(root + "/shm", 0755));
  for (const char* file : {"resolv.conf", "hosts", "hostname"}) {
    RETURN_IF_ERROR(WriteFileAtomically(root + "/" + file, "x\n", 0644, Durability::kVolatile));
  }
  SandboxContext sandbox;
  sandbox.id = "bench-pod";
  sandbox.hostname = "bench-pod";
  sandbox.net_ns_path = "/run/ocid/netns/bench-pod";
  sandbox.ipc_ns_path = "/proc/1/ns/ipc";
  sandbox.uts_ns_path = "/proc/1/ns/uts";
  sandbox.resolv_conf_path = root + "/resolv.conf";
  sandbox.hosts_path = root + "/hosts";
  sandbox.hostname_path = root + "/hostname";
  sandbox.shm_path = root + "/shm";
  ImageConfig image;
  image.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  image.cmd = {"sh"};
  SeccompProfiles profiles;
  cri::ContainerConfig configs[2];
  for (int side : {kDefault, kUnconfined}) {
    configs[side] = SleepConfig("busybox");
    SetSeccomp(options, configs[side].mutable_linux()->mutable_security_context(), side);
  }
  auto one = [&](int side, int i) -> absl::StatusOr<double> {
    ContainerSpecInputs inputs;
    inputs.container_id = absl::StrCat("bench-", side, "-", i);
    inputs.config = &configs[side];
    inputs.image = &image;
    inputs.sandbox = &sandbox;
    inputs.rootfs = root + "/rootfs";
    inputs.seccomp = &profiles;
    absl::Time start = absl::Now();
    ASSIGN_OR_RETURN(nlohmann::json spec, BuildContainerSpec(inputs));
    std::string text = spec.dump();
    RETURN_IF_ERROR(WriteFileAtomically(root + "/bundle/config.json", text,
                                        0600, Durability::kVolatile));
    double ms = MillisSince(start);
    samples->config_bytes[side] = text.size();
    if (side == kDefault && !spec["linux"].contains("seccomp")) {
      return absl::InternalError("RuntimeDefault spec has no linux.seccomp");
    }
    if (side == kUnconfined && spec["linux"].contains("seccomp")) {
      return absl::InternalError("Unconfined spec has linux.seccomp");
    }
    return ms;
  };
  ASSIGN_OR_RETURN(samples->cold_build_ms, one(kDefault, -1));
  for (int i = 0; i < options.spec_runs && !interrupted; ++i) {
    for (int k = 0; k < 2; ++k) {
      int side = (i + k) % 2;
      ASSIGN_OR_RETURN(double ms, one(side, i));
      samples->spec[side].push_back(ms);
    }
  }
  if (interrupted) return absl::CancelledError("interrupted");

  // The runtime's floor: `runc create` of the same spec (host network, the
  // container's own pid, ipc, uts and mount namespaces; a private runc root
  // and cgroup parent), stopped with `runc delete --force` untimed.
  RETURN_IF_ERROR(MakeDirs(root + "/rootfs/bin", 0755));
  std::error_code error;
  std::filesystem::copy_file("/bin/busybox", root + "/rootfs/bin/busybox", error);
  if (error) return absl::InternalError("copy /bin/busybox: " + error.message());
  if (::chmod((root + "/rootfs/bin/busybox").c_str(), 0755) != 0 ||
      ::symlink("busybox", (root + "/rootfs/bin/sh").c_str()) != 0) {
    return absl::ErrnoToStatus(errno, "busybox rootfs");
  }
  sandbox.net_ns_path.clear();
  sandbox.ipc_ns_path.clear();
  sandbox.uts_ns_path.clear();
  const std::string cgroup_parent = absl::StrCat("/ocid-seccomp-bench-", ::getpid());
  sandbox.cgroup_parent = cgroup_parent;
  const std::string runc_root = root + "/runc";
  std::string live;  // a container runc may still hold
  absl::Cleanup remove_runc = [&] {
    if (!live.empty()) {
      auto child =
          Subprocess::SpawnLogged({options.runc, "--root", runc_root, "delete", "--force", live});
      if (child.ok()) (void)child->Wait(absl::Seconds(60));
    }
    std::error_code ignored;
    for (const auto& hierarchy : std::filesystem::directory_iterator("/sys/fs/cgroup", ignored)) {
      ::rmdir((hierarchy.path().string() + cgroup_parent).c_str());
    }
  };
  auto run = [&](const std::vector<std::string>& argv) -> absl::Status {
    ASSIGN_OR_RETURN(Subprocess child, Subprocess::SpawnLogged(argv, root + "/runc.log"));
    ASSIGN_OR_RETURN(int status, child.Wait(absl::Seconds(60)));
    if (status != 0) {
      return absl::InternalError(absl::StrCat(argv[3], " failed (", DescribeWaitStatus(status),
                                              "); see ", root, "/runc.log"));
    }
    return absl::OkStatus();
  };
  for (int i = 0; i < options.warmup + options.runs && !interrupted; ++i) {
    for (int k = 0; k < 2; ++k) {
      int side = (i + k) % 2;
      std::string id = absl::StrCat("ocid-seccomp-bench-", ::getpid(), "-", side, "-", i);
      ContainerSpecInputs inputs;
      inputs.container_id = id;
      inputs.config = &configs[side];
      inputs.image = &image;
      inputs.sandbox = &sandbox;
      inputs.rootfs = root + "/rootfs";
      inputs.seccomp = &profiles;
      ASSIGN_OR_RETURN(nlohmann::json spec, BuildContainerSpec(inputs));
      RETURN_IF_ERROR(WriteFileAtomically(root + "/bundle/config.json", spec.dump(),
                                          0600, Durability::kVolatile));
      live = id;
      absl::Time start = absl::Now();
      RETURN_IF_ERROR(
          run({options.runc, "--root", runc_root, "create", "--bundle", root + "/bundle", id}));
      double ms = MillisSince(start);
      RETURN_IF_ERROR(run({options.runc, "--root", runc_root, "delete", "--force", id}));
      live.clear();
      if (i >= options.warmup) samples->runc_create[side].push_back(ms);
    }
  }
  return absl::OkStatus();
}

// Seccomp: of the container's init, from `runc state`'s pid.
absl::StatusOr<int> SeccompModeOf(const Options& options, const std::string& id) {
  Subprocess::Options run;
  run.argv = {options.runc, "--root", options.runc_root, "state", id};
  run.stdout_io = Stdio::Capture();
  ASSIGN_OR_RETURN(Subprocess child, Subprocess::Spawn(std::move(run)));
  ASSIGN_OR_RETURN(int status, child.Wait(absl::Seconds(10)));
  if (status != 0) return absl::InternalError("runc state " + id + " failed");
  nlohmann::json state = nlohmann::json::parse(child.Stdout(), nullptr, false);
  if (!state.is_object() || !state.contains("pid")) {
    return absl::InternalError("runc state " + id + ": no pid");
  }
  std::ifstream in(absl::StrCat("/proc/", state["pid"].get<int>(), "/status"));
  for (std::string line; std::getline(in, line);) {
    int mode;
    if (line.rfind("Seccomp:", 0) == 0 && absl::SimpleAtoi(line.substr(8), &mode)) return mode;
  }
  return absl::InternalError("no Seccomp: line for " + id);
}

absl::Status StopAndRemove(S& stub, const std::string& id) {
  cri::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(0);
  cri::StopContainerResponse stopped;
  RETURN_IF_ERROR(Call(stub, &S::StopContainer, "StopContainer", stop, &stopped));
  cri::RemoveContainerRequest remove;
  remove.set_container_id(id);
  cri::RemoveContainerResponse removed;
  return Call(stub, &S::RemoveContainer, "RemoveContainer", remove, &removed);
}

absl::Status MeasureCri(const Options& options, Samples* samples) {
  ASSIGN_OR_RETURN(std::unique_ptr<BenchDir> dir, BenchDir::Make("seccomp"));
  OcidCgroupParent cgroup_parent;  // destroyed after ocid, before the dir
  ASSIGN_OR_RETURN(std::unique_ptr<OcidSession> ocid,
                   OcidSession::Start(options.ocid, dir->path(), options.registry));
  const std::string image = options.registry + "/busybox:latest";
  RETURN_IF_ERROR(ocid->Pull(image));
  auto stub = ocid->NewRuntimeStub();

  cri::RunPodSandboxRequest run;
  *run.mutable_config() = PodConfig("seccomp-bench", dir->path() + "/podlogs");
  cri::RunPodSandboxResponse ran;
  RETURN_IF_ERROR(Call(*stub, &S::RunPodSandbox, "RunPodSandbox", run, &ran));
  const std::string pod_id = ran.pod_sandbox_id();
  // Also after an error; the session's teardown removes whatever is left.
  absl::Cleanup remove_pod = [&] {
    cri::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(pod_id);
    cri::StopPodSandboxResponse stopped;
    absl::Status status = Call(*stub, &S::StopPodSandbox, "StopPodSandbox", stop, &stopped);
    cri::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod_id);
    cri::RemovePodSandboxResponse removed;
    status.Update(Call(*stub, &S::RemovePodSandbox, "RemovePodSandbox", remove, &removed));
    if (!status.ok()) std::fprintf(stderr, "cleanup: %s\n", status.ToString().c_str());
  };

  for (int i = 0; i < options.warmup + options.runs && !interrupted; ++i) {
    bool timed = i >= options.warmup;
    for (int k = 0; k < 2; ++k) {
      int side = (i + k) % 2;  // alternate, and flip the order each run
      cri::CreateContainerRequest create;
      create.set_pod_sandbox_id(pod_id);
      *create.mutable_config() = SleepConfig(image);
      std::string name = absl::StrCat("sc-", side == kDefault ? "default" : "unconfined", "-", i);
      create.mutable_config()->mutable_metadata()->set_name(name);
      create.mutable_config()->set_log_path(name + ".log");
      SetSeccomp(options, create.mutable_config()->mutable_linux()->mutable_security_context(),
                 side);
      *create.mutable_sandbox_config() = run.config();
      cri::CreateContainerResponse created;
      absl::Time start = absl::Now();
      RETURN_IF_ERROR(Call(*stub, &S::CreateContainer, "CreateContainer", create, &created));
      double create_ms = MillisSince(start);
      const std::string id = created.container_id();
      cri::StartContainerRequest start_request;
      start_request.set_container_id(id);
      cri::StartContainerResponse started;
      absl::Status status =
          Call(*stub, &S::StartContainer, "StartContainer", start_request, &started);
      double total_ms = MillisSince(start);
      if (status.ok() && i == options.warmup - 1) {
        absl::StatusOr<int> mode = SeccompModeOf(options, id);
        if (mode.ok()) {
          samples->seccomp_mode[side] = *mode;
        } else {
          status = mode.status();
        }
      }
      status.Update(StopAndRemove(*stub, id));
      RETURN_IF_ERROR(status);
      if (timed) {
        samples->create[side].push_back(create_ms);
        samples->create_start[side].push_back(total_ms);
      }
    }
  }
  if (interrupted) return absl::CancelledError("interrupted");
  return absl::OkStatus();
}

void Row(const char* what, const std::vector<double> (&values)[2]) {
  for (int side : {kDefault, kUnconfined}) {
    std::string label = absl::StrCat(what, ", ", SideName(side));
    std::printf("  %-54s %6zu %9.3f %9.3f\n", label.c_str(), values[side].size(),
                Percentile(values[side], 50), Percentile(values[side], 90));
  }
}

double P50Diff(const std::vector<double> (&values)[2]) {
  return Percentile(values[kDefault], 50) - Percentile(values[kUnconfined], 50);
}

absl::Status RunBench(const Options& options) {
  Samples samples;
  std::fprintf(stderr, "seccomp_bench: spec build in-process, %d per side\n", options.spec_runs);
  RETURN_IF_ERROR(MeasureSpec(options, &samples));
  std::fprintf(stderr, "seccomp_bench: CRI, %d warm-up + %d runs per side\n", options.warmup,
               options.runs);
  RETURN_IF_ERROR(MeasureCri(options, &samples));
  if (samples.seccomp_mode[kDefault] != 2 || samples.seccomp_mode[kUnconfined] != 0) {
    return absl::InternalError(absl::StrCat("containers' Seccomp: RuntimeDefault ",
                                            samples.seccomp_mode[kDefault], ", Unconfined ",
                                            samples.seccomp_mode[kUnconfined], " (want 2 and 0)"));
  }
  std::printf("\ncontainer Seccomp: (/proc/PID/status): RuntimeDefault %d, Unconfined %d\n",
              samples.seccomp_mode[kDefault], samples.seccomp_mode[kUnconfined]);
  std::printf("config.json: RuntimeDefault %zu bytes, Unconfined %zu bytes\n",
              samples.config_bytes[kDefault], samples.config_bytes[kUnconfined]);
  std::printf("first RuntimeDefault spec (profile built, cache cold): %.3f ms\n",
              samples.cold_build_ms);
  std::printf("\nms\n  %-54s %6s %9s %9s\n", "reading, side", "runs", "p50", "p90");
  Row("spec+config.json (in-process)", samples.spec);
  Row("CreateContainer", samples.create);
  Row("CreateContainer+StartContainer", samples.create_start);
  Row("floor: runc create of the same spec", samples.runc_create);

  double spec = P50Diff(samples.spec);
  double create = P50Diff(samples.create);
  double total = P50Diff(samples.create_start);
  double runc = P50Diff(samples.runc_create);
  std::printf("\np50 RuntimeDefault - Unconfined:\n");
  std::printf("  %-60s %8.3f ms\n", "create+start (includes runc's filter install)", total);
  std::printf("  %-60s %8.3f ms\n", "runc create alone (the runtime's part)", runc);
  std::printf("  %-60s %8.3f ms\n", "CreateContainer less runc create", create - runc);
  bool spec_met = spec < kTargetMs;
  bool create_met = create < kTargetMs;
  std::printf("\ntargets:\n");
  std::printf("  %-60s %8.3f ms  %s\n", "ocid's spec+config.json p50 difference < 1 ms", spec,
              spec_met ? "met" : "MISSED");
  std::printf("  %-60s %8.3f ms  %s\n", "CreateContainer p50 difference < 1 ms", create,
              create_met ? "met" : "MISSED");
  int met = (spec_met ? 1 : 0) + (create_met ? 1 : 0);
  std::printf("targets: %d met, %d MISSED\n", met, 2 - met);
  return absl::OkStatus();
}

bool ParseFlags(int argc, char** argv, Options* options) {
  std::string no_new_privs = "0";
  bool parsed = ParseBenchFlags(argc, argv,
                                {{"--registry", TextFlag(&options->registry)},
                                 {"--ocid", TextFlag(&options->ocid)},
                                 {"--runs", CountFlag(&options->runs)},
                                 {"--warmup", CountFlag(&options->warmup)},
                                 {"--no-new-privs", TextFlag(&no_new_privs)},
                                 {"--spec-runs", CountFlag(&options->spec_runs)}});
  options->no_new_privs = no_new_privs == "1";
  return parsed && (no_new_privs == "0" || no_new_privs == "1");
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: seccomp_bench --registry 127.0.0.1:PORT [--runs 50] [--warmup 5] "
                 "[--spec-runs 1000] [--no-new-privs 0|1]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf(
      "seccomp bench: %s/busybox:latest, runc, a private ocid; sides alternated; "
      "no_new_privs %s; percentiles nearest-rank\n",
      options.registry.c_str(), options.no_new_privs ? "on" : "off");
  absl::Status status = RunBench(options);
  if (!status.ok()) {
    std::fprintf(stderr, "seccomp_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) { return ocid::Run(argc, argv); }
