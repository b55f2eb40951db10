// What the CRI benchmarks share: a private ocid with a loopback-only pod
// network (StartLoopbackOcid), the pods and containers they run in it, and
// one lifecycle (RunPodSandbox .. RemovePodSandbox). Everything made is
// removed when the session ends, also after a failure.
#ifndef OCID_BENCH_CRI_SESSION_H_
#define OCID_BENCH_CRI_SESSION_H_

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "pkg/base/subprocess.h"

namespace ocid {

inline constexpr absl::Duration kRpcTimeout = absl::Seconds(60);
inline constexpr absl::Duration kPullTimeout = absl::Seconds(120);

absl::Status ToAbsl(const char* name, const grpc::Status& status);

// Removes /sys/fs/cgroup/*/ocid (the parent of ocid's cgroupsPath, which
// the runtime leaves behind) on destruction, if this run made it.
class OcidCgroupParent {
 public:
  OcidCgroupParent() {
    std::error_code error;
    for (const auto& controller : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      if (std::filesystem::exists(controller.path() / "ocid", error)) existed_ = true;
    }
  }
  ~OcidCgroupParent() {
    if (existed_) return;
    std::error_code error;
    for (const auto& controller : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
      ::rmdir((controller.path() / "ocid").c_str());  // fails harmlessly when in use
    }
  }

 private:
  bool existed_ = false;
};

runtime::v1::PodSandboxConfig PodConfig(const std::string& name, const std::string& log_root);
// busybox running `exec sleep 3600`.
runtime::v1::ContainerConfig SleepConfig(const std::string& image);

class OcidSession {
 public:
  // A loopback-network ocid (StartLoopbackOcid) with `extra` flags.
  static absl::StatusOr<std::unique_ptr<OcidSession>> Start(
      const std::string& binary, const std::string& dir, const std::string& registry,
      const std::vector<std::string>& extra = {});
  // The same with `conflist` as its one CNI network instead.
  static absl::StatusOr<std::unique_ptr<OcidSession>> StartWithNetwork(
      const std::string& binary, const std::string& dir, const std::string& registry,
      const std::string& conflist, const std::vector<std::string>& extra = {});
  ~OcidSession();

  pid_t pid() const { return process_.pid(); }
  const std::string& dir() const { return dir_; }

  // A stub on a connection of its own, so that no caller queues behind
  // another one's calls in the client.
  std::unique_ptr<runtime::v1::RuntimeService::Stub> NewRuntimeStub() const;
  absl::Status Pull(const std::string& image);
  struct RunningPod {
    std::string pod_id;
    std::string container_id;
  };
  // RunPodSandbox, then CreateContainer and StartContainer of `config`,
  // with `stub`. The pod stays until the caller removes it or the session
  // ends; on an error it is removed again.
  absl::StatusOr<RunningPod> RunPod(runtime::v1::RuntimeService::Stub& stub,
                                    const std::string& name,
                                    const runtime::v1::ContainerConfig& config);
  // One lifecycle with `stub`; on an error, the pod is removed again.
  absl::Status Lifecycle(runtime::v1::RuntimeService::Stub& stub, const std::string& name,
                         const std::string& image, std::string* running_id = nullptr);

 private:
  OcidSession(Subprocess process, std::string dir)
      : process_(std::move(process)), dir_(std::move(dir)) {}
  absl::Status WaitUntilServing();
  void RemoveAllPods();

  Subprocess process_;
  std::string dir_;
  absl::Mutex mu_;
  std::set<std::string> containers_ ABSL_GUARDED_BY(mu_);  // made and not yet removed
};

// One call with the usual deadline.
template <typename Request, typename Response>
absl::Status Call(runtime::v1::RuntimeService::Stub& stub,
                  grpc::Status (runtime::v1::RuntimeService::Stub::*method)(grpc::ClientContext*,
                                                                            const Request&,
                                                                            Response*),
                  const char* name, const Request& request, Response* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kRpcTimeout));
  return ToAbsl(name, (stub.*method)(&context, request, response));
}

}  // namespace ocid

#endif  // OCID_BENCH_CRI_SESSION_H_
