// RuntimeService's setup: runtimes per handler, host limits, and recovery of
// the pods and containers a previous ocid left.
#include "pkg/server/runtime_service.h"

#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

constexpr int kCapSysResource = 24;

// The lowest oom_score_adj containers may get. Without CAP_SYS_RESOURCE the
// runtimes cannot set a value below ocid's own (kubelet asks for -997 for
// Guaranteed pods): clamp instead of failing the pod, as containerd's
// restrict_oom_score_adj does.
int MinOomScoreAdj() {
  std::ifstream status("/proc/self/status");
  std::string line;
  uint64_t effective = ~uint64_t{0};
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line.substr(7)), &effective);
    }
  }
  if (effective & (uint64_t{1} << kCapSysResource)) return -1000;
  int own = 0;
  std::ifstream("/proc/self/oom_score_adj") >> own;
  OCID_LOG(kWarn) << "no CAP_SYS_RESOURCE: containers' oom_score_adj below " << own
                  << " is raised to " << own;
  return own;
}

}  // namespace

RuntimeService::RuntimeService(const Config& config, RuntimePaths paths, BlobStore& blobs,
                               LayerStore& layers, ImageStore& images, CniManager& cni,
                               std::vector<std::string> search_registries)
    : config_(config),
      paths_(std::move(paths)),
      blobs_(blobs),
      layers_(layers),
      images_(images),
      cni_(cni),
      search_registries_(std::move(search_registries)),
      sandboxes_(paths_.sandbox_records),
      containers_(paths_.container_records),
      min_oom_score_adj_(MinOomScoreAdj()) {
  for (const auto& [name, handler] : config.runtimes) {
    runtimes_[name] = std::make_unique<OciRuntime>(name, handler, config.conmon, config.runroot);
  }
}

RuntimeService::~RuntimeService() = default;

absl::Status RuntimeService::Recover() {
  for (const std::string& dir : {paths_.overlay, paths_.bundles, paths_.pods, paths_.pins,
                                 paths_.exits}) {
    RETURN_IF_ERROR(MakeDirs(dir, 0700));
  }
  RETURN_IF_ERROR(sandboxes_.Load());
  RETURN_IF_ERROR(containers_.Load());
  // Watch first, then reconcile: no exit falls between the two.
  ASSIGN_OR_RETURN(exit_watcher_, ExitWatcher::Start(paths_.exits, [this](const std::string& id) {
                     OnExit(id);
                   }));
  for (const SandboxRecord& pod : sandboxes_.List()) {
    RETURN_IF_ERROR(ReserveName(pod.ReservedName(), pod.id));
  }
  for (const ContainerRecord& c : containers_.List()) {
    RETURN_IF_ERROR(ReserveName(c.ReservedName(), c.id));
    if (absl::StatusOr<Digest> image = ParseDigest(c.image_id); image.ok()) {
      images_.Acquire(*image);
    }
    if (c.state != ContainerState::kRunning && c.state != ContainerState::kCreated) continue;
    OnExit(c.id);  // exited while ocid was down
    std::optional<ContainerRecord> now = containers_.Get(c.id);
    if (!now || now->state == ContainerState::kExited) continue;
    absl::StatusOr<OciRuntime*> runtime = RuntimeFor(c.runtime_handler);
    absl::StatusOr<RuntimeState> state =
        runtime.ok() ? (*runtime)->State(c.id) : absl::StatusOr<RuntimeState>(runtime.status());
    if (!state.ok() || state->status == "stopped") {
      // Gone without an exit file (e.g. a reboot): its fate is unknown.
      // Unless the exit watcher has recorded the exit meanwhile (conmon
      // writes the file just after the runtime sees the process gone):
      // that exit wins, and one that lands later still turns it EXITED.
      RETURN_IF_ERROR(containers_
                          .Update(c.id,
                                  [](ContainerRecord& r) {
                                    if (r.state == ContainerState::kExited) return;
                                    r.state = ContainerState::kUnknown;
                                    r.reason = "Unknown";
                                    r.pid = 0;
                                  })
                          .status());
    }
  }
  OCID_LOG(kInfo) << "recovered " << sandboxes_.List().size() << " pod(s) and "
                  << containers_.List().size() << " container(s)";
  return absl::OkStatus();
}

}  // namespace ocid
