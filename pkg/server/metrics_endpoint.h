// The Prometheus endpoint (config [ocid.metrics]): http://ADDRESS:PORT/metrics
// in the Prometheus text format, or OpenMetrics when the scrape's Accept
// header asks for it (pkg/metrics/exposition.h), served by civetweb on a
// thread of its own. What it shows: every CRI call counted and timed
// (ServeRpc records into OperationMetrics), pods ready and containers
// running, OOM kills per container name (from the lifecycle events), events
// dropped for slow subscribers, and ocid's own process.
#ifndef OCID_PKG_SERVER_METRICS_ENDPOINT_H_
#define OCID_PKG_SERVER_METRICS_ENDPOINT_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pkg/container/container_manager.h"
#include "pkg/events/event_bus.h"
#include "pkg/metrics/http_server.h"
#include "pkg/metrics/operation_metrics.h"
#include "pkg/metrics/pull_metrics.h"
#include "pkg/metrics/sampled_metrics.h"
#include "pkg/sandbox/sandbox_manager.h"

namespace ocid {

class MetricsEndpoint {
 public:
  // Listens on address:port; Unavailable (naming it and why) when it cannot.
  // Everything given must outlive the endpoint.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address,
                                                                int port, SandboxManager& pods,
                                                                ContainerManager& containers,
                                                                EventBus& events,
                                                                std::shared_ptr<PullMetrics> pulls);
  ~MetricsEndpoint();

  OperationMetrics& operations() { return *operations_; }
  int port() const { return port_; }

 private:
  MetricsEndpoint(SandboxManager& pods, ContainerManager& containers, EventBus& events);
  std::vector<Sample> Read();
  void CountOoms();

  SandboxManager& pods_;
  ContainerManager& containers_;
  EventBus& events_;
  std::shared_ptr<OperationMetrics> operations_;
  std::shared_ptr<SampledMetrics> sampled_;
  std::unique_ptr<MetricsHttpServer> http_;
  int port_ = 0;
  std::unique_ptr<EventBus::Subscription> stops_;
  std::atomic<bool> stopping_{false};
  std::thread oom_counter_;
  absl::Mutex mu_;
  std::map<std::string, uint64_t> ooms_ ABSL_GUARDED_BY(mu_);  // by container name
};

}  // namespace ocid

#endif  // OCID_PKG_SERVER_METRICS_ENDPOINT_H_
