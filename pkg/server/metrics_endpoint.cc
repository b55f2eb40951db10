#include "pkg/server/metrics_endpoint.h"

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "api/runtime/v1/api.pb.h"
#include "pkg/base/log.h"

namespace ocid {
namespace {

// Every CRI call's name, from the services' descriptors: the operations
// ServeRpc records.
std::vector<std::string> CriOperations() {
  std::vector<std::string> names;
  for (const char* service : {"runtime.v1.RuntimeService", "runtime.v1.ImageService"}) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    if (descriptor == nullptr) continue;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      names.push_back(descriptor->method(i)->name());
    }
  }
  return names;
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(SandboxManager& pods, ContainerManager& containers,
                                 EventBus& events)
    : pods_(pods), containers_(containers), events_(events) {}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address, int port, SandboxManager& pods, ContainerManager& containers,
    EventBus& events, std::shared_ptr<PullMetrics> pulls) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint(pods, containers, events));
  endpoint->operations_ = std::make_shared<OperationMetrics>(CriOperations());
  endpoint->sampled_ =
      std::make_shared<SampledMetrics>([raw = endpoint.get()] { return raw->Read(); });
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http = MetricsHttpServer::Start(
      absl::StrCat(address, ":", port), {endpoint->operations_, endpoint->sampled_, std::move(pulls)});
  if (!http.ok()) return http.status();
  endpoint->http_ = *std::move(http);
  endpoint->port_ = endpoint->http_->port();
  endpoint->stops_ = events.Subscribe();
  endpoint->oom_counter_ = std::thread([raw = endpoint.get()] { raw->CountOoms(); });
  OCID_LOG(kInfo) << "metrics on http://" << address << ":" << endpoint->port_ << "/metrics";
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  http_.reset();  // no scrape runs past here
  stopping_ = true;
  if (oom_counter_.joinable()) oom_counter_.join();
}

// A container's stop is an OOM kill when its record says so once stopped
// (conmon's OOM file, read with the exit).
void MetricsEndpoint::CountOoms() {
  while (!stopping_) {
    std::optional<LifecycleEvent> event = stops_->Next(absl::Milliseconds(200));
    if (!event.has_value()) {
      if (stops_->ended() != EventBus::Subscription::Ending::kNone) return;
      continue;
    }
    if (event->type != LifecycleEventType::kStopped || event->container_id == event->pod_id) {
      continue;
    }
    absl::StatusOr<ContainerRecord> c = containers_.Get(event->container_id);
    if (!c.ok() || c->reason != "OOMKilled") continue;
    absl::MutexLock lock(&mu_);
    ++ooms_[c->name];
  }
}

std::vector<Sample> MetricsEndpoint::Read() {
  int pods_ready = 0, containers_running = 0;
  pods_.ForEach([&](const SandboxRecord& pod) { pods_ready += pod.ready; });
  containers_.ForEach([&](const ContainerRecord& c) {
    containers_running += c.state == ContainerState::kRunning;
  });
  std::vector<Sample> samples = {
      {"ocid_pods_ready", "pod sandboxes ready", prometheus::MetricType::Gauge,
       static_cast<double>(pods_ready), {}},
      {"ocid_containers_running", "containers running", prometheus::MetricType::Gauge,
       static_cast<double>(containers_running), {}},
      {"ocid_containers_events_dropped_total",
       "event subscribers dropped for falling behind (each lost its backlog)",
       prometheus::MetricType::Counter, static_cast<double>(events_.dropped_total()), {}},
  };
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, count] : ooms_) {
      samples.push_back({"ocid_containers_oom_total", "containers OOM killed, by container name",
                         prometheus::MetricType::Counter, static_cast<double>(count),
                         {{"name", name}}});
    }
  }
  for (Sample& sample : ProcessSamples()) samples.push_back(std::move(sample));
  return samples;
}

}  // namespace ocid
