// The CRI validation suite's fixture: one ocid per test binary, booted with
// its own root, runroot, socket, CNI config dir and bridge, and a local
// registry serving the stand-ins of every image critest pulls (the public
// registries are mapped onto it in ocid's registries.conf). Tests talk to it
// through the real runtime.v1 gRPC API, exactly as critest does.
//
// The helpers mirror cri-tools' pkg/framework (RunDefaultPodSandbox,
// CreateDefaultContainer, ...) so that a spec reads like its upstream twin.
// Everything a test makes through them is removed when the test ends, pass
// or fail; the environment's teardown runs a leak census (mounts, netns pins,
// veths, IPAM leases, cgroups, processes, SysV shm) and fails the binary if
// anything of ours is left.
#ifndef OCID_E2E_CRI_CRI_SUITE_H_
#define OCID_E2E_CRI_CRI_SUITE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/runtime/v1/api.grpc.pb.h"

namespace ocid::e2e {

namespace v1 = ::runtime::v1;

// critest's defaults (cri-tools pkg/framework/util.go).
inline constexpr char kDefaultUidPrefix[] = "cri-test-uid";
inline constexpr char kDefaultNamespacePrefix[] = "cri-test-namespace";
inline constexpr uint32_t kDefaultAttempt = 2;
inline constexpr int64_t kDefaultStopTimeout = 60;
inline constexpr char kDefaultImage[] = "registry.k8s.io/e2e-test-images/busybox:1.29-2";
inline constexpr char kNginxImage[] = "registry.k8s.io/e2e-test-images/nginx:1.14-2";
inline constexpr char kHttpdImage[] = "registry.k8s.io/e2e-test-images/httpd:2.4.39-4";
inline constexpr char kNonNewPrivsImage[] = "registry.k8s.io/e2e-test-images/nonewprivs:1.3";
inline constexpr char kHostNetNginxImage[] = "gcr.io/k8s-staging-cri-tools/hostnet-nginx-amd64";

// Skips the current spec because the feature it needs is not built yet. The
// spec must be listed in e2e/cri/not_yet.txt (checked: an unlisted skip fails
// the test, and a listed spec that is not skipped fails too, so the list
// stays true). Use as the first statement: `OCID_NOT_YET("streaming");`.
#define OCID_NOT_YET(feature)                       \
  do {                                              \
    ::ocid::e2e::CheckNotYetListed(feature);        \
    if (::testing::Test::HasFailure()) return;      \
    GTEST_SKIP() << "not built yet: " << (feature); \
  } while (false)

// Fails the test (fatally) unless `expr` (absl::Status or StatusOr) is OK.
#define OCID_ASSERT_OK(expr)                                    \
  do {                                                          \
    const auto& ocid_e2e_s_ = (expr);                           \
    ASSERT_TRUE(::ocid::e2e::StatusOf(ocid_e2e_s_).ok())        \
        << #expr << ": " << ::ocid::e2e::StatusOf(ocid_e2e_s_); \
  } while (false)
// Evaluates `expr` once (a cleanup call run twice would report the second,
// idempotent answer instead of the failure).
#define OCID_EXPECT_OK(expr)                                    \
  do {                                                          \
    const auto& ocid_e2e_s_ = (expr);                           \
    EXPECT_TRUE(::ocid::e2e::StatusOf(ocid_e2e_s_).ok())        \
        << #expr << ": " << ::ocid::e2e::StatusOf(ocid_e2e_s_); \
  } while (false)

#define OCID_E2E_CONCAT_INNER_(a, b) a##b
#define OCID_E2E_CONCAT_(a, b) OCID_E2E_CONCAT_INNER_(a, b)
// `OCID_ASSERT_OK_AND_ASSIGN(auto pod, RunDefaultPod("x"));`
#define OCID_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  OCID_ASSERT_OK_AND_ASSIGN_IMPL_(OCID_E2E_CONCAT_(ocid_e2e_so_, __LINE__), lhs, expr)
#define OCID_ASSERT_OK_AND_ASSIGN_IMPL_(so, lhs, expr)  \
  auto so = (expr);                                     \
  ASSERT_TRUE(so.ok()) << #expr << ": " << so.status(); \
  lhs = std::move(so).value()

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Adds a failure unless the running test's full name is in not_yet.txt.
void CheckNotYetListed(const std::string& feature);

// One HTTP/1.0 GET of "/" from `ip`:`port` (IPv4, a pod IP or loopback);
// the response's status code. Errors are transport errors (refused, timed
// out, no status line), which the specs retry.
absl::StatusOr<int> HttpGetStatus(const std::string& ip, int port);

// What an ExecSync returned.
struct ExecResult {
  std::string stdout_text;
  std::string stderr_text;
  int32_t exit_code = 0;
};

// A pod made by a test, with the config it was made from (CreateContainer
// needs both).
struct Pod {
  std::string id;
  v1::PodSandboxConfig config;
};

// What the booted environment knows; valid from the first test on.
struct SuiteInfo {
  std::string socket;        // ocid's CRI socket
  std::string registry;      // 127.0.0.1:PORT of the stand-in registry
  std::string scratch_dir;   // a temp dir of this run, removed at the end
  std::string root_dir;      // ocid's --root
  std::string pod_log_root;  // where tests put pod log dirs
  std::string cni_bridge;    // the test bridge's name
  std::string pod_cidr;      // the bridge network's subnet
  // ocid's signature_policy_dir (empty at boot): <namespace>.json there
  // holds that namespace's pods to it, read at each pull and create.
  std::string policy_dir;
};

class CriTest : public ::testing::Test {
 protected:
  void SetUp() override;     // fails the test if the environment did not boot
  void TearDown() override;  // removes every pod and container a test made

  static const SuiteInfo& Info();
  v1::RuntimeService::Stub& Runtime();
  v1::ImageService::Stub& Images();

  // One unary call with a deadline (default 2 min); gRPC errors become
  // absl::Status with the code kept and the server's message.
  template <typename Request, typename Response, typename Method>
  absl::Status Call(Method method, const Request& request, Response* response,
                    absl::Duration timeout = absl::Minutes(2));
  // Every message of a server-streaming call (the Stream* calls), in order,
  // within a minute; gRPC errors as Call gives them.
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<std::vector<Response>> ReadStream(Method method, const Request& request);

  static std::string NewUuid();

  // framework.RunDefaultPodSandbox / CreatePodSandboxForContainer: metadata
  // prefix+uuid, uid and namespace from the default prefixes, attempt 2,
  // no hostname, no log dir unless `log_dir` is given.
  v1::PodSandboxConfig DefaultPodConfig(const std::string& name_prefix);
  absl::StatusOr<Pod> RunPod(const v1::PodSandboxConfig& config);
  absl::StatusOr<Pod> RunDefaultPod(const std::string& name_prefix);
  absl::Status StopPod(const std::string& pod_id);
  absl::Status RemovePod(const std::string& pod_id);
  absl::StatusOr<v1::PodSandboxStatusResponse> PodStatus(const std::string& pod_id,
                                                         bool verbose = false);
  absl::StatusOr<std::vector<v1::PodSandbox>> ListPods(const v1::PodSandboxFilter& filter = {});

  // framework.CreateDefaultContainer: default image, command {"top"};
  // CreatePauseContainer: {"sh", "-c", "top"}. The image is pulled first
  // when ImageStatus does not find it (as CreateContainerWithError does).
  v1::ContainerConfig DefaultContainerConfig(const std::string& name_prefix);
  absl::StatusOr<std::string> CreateContainer(const Pod& pod, v1::ContainerConfig config);
  absl::StatusOr<std::string> CreateDefaultContainer(const Pod& pod,
                                                     const std::string& name_prefix);
  absl::Status StartContainer(const std::string& container_id);
  absl::Status StopContainer(const std::string& container_id,
                             int64_t timeout_s = kDefaultStopTimeout);
  absl::Status RemoveContainer(const std::string& container_id);
  absl::StatusOr<v1::ContainerStatusResponse> ContainerStatus(const std::string& container_id,
                                                              bool verbose = false);
  absl::StatusOr<std::vector<v1::Container>> ListContainers(const v1::ContainerFilter& filter = {});
  // Polls ContainerStatus until its state is `state` (or the timeout).
  absl::Status WaitForContainerState(const std::string& container_id, v1::ContainerState state,
                                     absl::Duration timeout = absl::Minutes(1));
  absl::StatusOr<ExecResult> ExecSync(const std::string& container_id,
                                      const std::vector<std::string>& cmd, int64_t timeout_s = 0);

  // Images: names as critest gives them (registry.k8s.io/..., short names),
  // resolved by ocid through the suite's registries.conf.
  absl::StatusOr<std::string> PullImage(const std::string& image);
  absl::StatusOr<v1::Image> ImageStatus(const std::string& image);  // NotFound if absent
  absl::Status RemoveImage(const std::string& image);
  absl::StatusOr<std::vector<v1::Image>> ListImages(const v1::ImageFilter& filter = {});

  // The CRI log file of a container (pod log_directory + log_path), parsed
  // into its message lines ("<time> <stream> <F|P> <msg>").
  struct LogLine {
    std::string stream;  // stdout / stderr
    std::string tag;     // F or P
    std::string message;
  };
  absl::StatusOr<std::vector<LogLine>> ReadContainerLog(const std::string& path);

  // Restarts ocid (SIGKILL when `kill`, else SIGTERM) with the same config
  // and waits until it answers again.
  absl::Status RestartOcid(bool kill = false);

 private:
  static absl::Status Finish(const grpc::Status& status);

  bool not_yet_listed_ = false;
  std::vector<std::string> pods_;        // removed (with their containers) in TearDown
  std::vector<std::string> containers_;  // removed in TearDown
};

template <typename Request, typename Response, typename Method>
absl::Status CriTest::Call(Method method, const Request& request, Response* response,
                           absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // The method belongs to one of the two stubs; pick the one it fits.
  if constexpr (std::is_invocable_v<Method, v1::RuntimeService::Stub&, grpc::ClientContext*,
                                    const Request&, Response*>) {
    return Finish((Runtime().*method)(&context, request, response));
  } else {
    return Finish((Images().*method)(&context, request, response));
  }
}

template <typename Response, typename Request, typename Method>
absl::StatusOr<std::vector<Response>> CriTest::ReadStream(Method method, const Request& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(1)));
  auto reader = [&] {
    if constexpr (std::is_invocable_v<Method, v1::RuntimeService::Stub&, grpc::ClientContext*,
                                      const Request&>) {
      return (Runtime().*method)(&context, request);
    } else {
      return (Images().*method)(&context, request);
    }
  }();
  std::vector<Response> messages;
  Response message;
  while (reader->Read(&message)) messages.push_back(message);
  absl::Status status = Finish(reader->Finish());
  if (!status.ok()) return status;
  return messages;
}

}  // namespace ocid::e2e

#endif  // OCID_E2E_CRI_CRI_SUITE_H_
