// ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats,
// ListMetricDescriptors, ListPodSandboxMetrics: StatsCollector's usage and
// metrics converted to the CRI messages. Nothing is measured here.
#include "absl/strings/str_cat.h"
#include "pkg/base/status_macros.h"
#include "pkg/server/rpc.h"
#include "pkg/server/runtime_service.h"
#include "pkg/server/stream_batches.h"
#include "pkg/stats/metrics.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

void FillCpuMemory(const CgroupSample& sample, cri::CpuUsage* cpu, cri::MemoryUsage* memory) {
  cpu->set_timestamp(sample.timestamp);
  memory->set_timestamp(sample.timestamp);
  if (!sample.stats.has_value()) return;
  const CgroupStats& s = *sample.stats;
  cpu->mutable_usage_core_nano_seconds()->set_value(s.cpu_usage_ns);
  if (sample.nano_cores.has_value()) cpu->mutable_usage_nano_cores()->set_value(*sample.nano_cores);
  memory->mutable_working_set_bytes()->set_value(s.memory_working_set_bytes);
  memory->mutable_usage_bytes()->set_value(s.memory_usage_bytes);
  memory->mutable_rss_bytes()->set_value(s.memory_rss_bytes);
  memory->mutable_page_faults()->set_value(s.page_faults);
  memory->mutable_major_page_faults()->set_value(s.major_page_faults);
  if (s.memory_limit_bytes.has_value()) {
    uint64_t limit = *s.memory_limit_bytes;
    memory->mutable_available_bytes()->set_value(
        limit > s.memory_working_set_bytes ? limit - s.memory_working_set_bytes : 0);
  }
}

void ToCri(const ContainerUsage& usage, cri::ContainerStats* out) {
  const ContainerRecord& c = usage.record;
  cri::ContainerAttributes& attributes = *out->mutable_attributes();
  attributes.set_id(c.id);
  attributes.mutable_metadata()->set_name(c.name);
  attributes.mutable_metadata()->set_attempt(c.attempt);
  attributes.mutable_labels()->insert(c.labels.begin(), c.labels.end());
  attributes.mutable_annotations()->insert(c.annotations.begin(), c.annotations.end());
  FillCpuMemory(usage.cpu_memory, out->mutable_cpu(), out->mutable_memory());
  cri::FilesystemUsage& fs = *out->mutable_writable_layer();
  fs.set_timestamp(usage.fs_timestamp);
  fs.mutable_fs_id()->set_mountpoint(usage.upper_dir);
  fs.mutable_used_bytes()->set_value(usage.writable_layer.bytes);
  fs.mutable_inodes_used()->set_value(usage.writable_layer.inodes);
}

void ToCri(const PodUsage& usage, cri::PodSandboxStats* out) {
  const SandboxRecord& p = usage.record;
  cri::PodSandboxAttributes& attributes = *out->mutable_attributes();
  attributes.set_id(p.id);
  cri::PodSandboxMetadata& metadata = *attributes.mutable_metadata();
  metadata.set_name(p.name);
  metadata.set_uid(p.uid);
  metadata.set_namespace_(p.pod_namespace);
  metadata.set_attempt(p.attempt);
  attributes.mutable_labels()->insert(p.labels.begin(), p.labels.end());
  attributes.mutable_annotations()->insert(p.annotations.begin(), p.annotations.end());
  cri::LinuxPodSandboxStats& linux = *out->mutable_linux();
  FillCpuMemory(usage.cpu_memory, linux.mutable_cpu(), linux.mutable_memory());
  cri::ProcessUsage& process = *linux.mutable_process();
  process.set_timestamp(usage.cpu_memory.timestamp);
  if (usage.cpu_memory.stats.has_value()) {
    process.mutable_process_count()->set_value(usage.cpu_memory.stats->pids);
  }
  cri::NetworkUsage& network = *linux.mutable_network();
  network.set_timestamp(usage.network_timestamp);
  for (const InterfaceStats& i : usage.interfaces) {
    if (i.name == "lo") continue;  // as kubelet's cAdvisor path: the pod's own traffic only
    cri::NetworkInterfaceUsage* item = network.add_interfaces();
    item->set_name(i.name);
    item->mutable_rx_bytes()->set_value(i.rx_bytes);
    item->mutable_rx_errors()->set_value(i.rx_errors);
    item->mutable_tx_bytes()->set_value(i.tx_bytes);
    item->mutable_tx_errors()->set_value(i.tx_errors);
    if (i.name == "eth0") *network.mutable_default_interface() = *item;
  }
  for (const ContainerUsage& c : usage.containers) ToCri(c, linux.add_containers());
}

UsageFilter FilterOf(const std::string& id, const std::string& pod_id,
                     const google::protobuf::Map<std::string, std::string>& labels) {
  UsageFilter filter;
  filter.id = id;
  filter.pod_id = pod_id;
  filter.labels.insert(labels.begin(), labels.end());
  return filter;
}

void ToCri(const MetricData& m, cri::Metric* out);

void ToCri(const PodMetricsData& data, cri::PodSandboxMetrics* pod) {
  pod->set_pod_sandbox_id(data.pod_id);
  for (const MetricData& m : data.metrics) ToCri(m, pod->add_metrics());
  for (const auto& [id, metrics] : data.containers) {
    cri::ContainerMetrics* c = pod->add_container_metrics();
    c->set_container_id(id);
    for (const MetricData& m : metrics) ToCri(m, c->add_metrics());
  }
}

void ToCri(const MetricData& m, cri::Metric* out) {
  out->set_name(m.name);
  out->set_timestamp(m.timestamp);
  out->set_metric_type(m.counter ? cri::MetricType::COUNTER : cri::MetricType::GAUGE);
  for (const std::string& v : m.label_values) out->add_label_values(v);
  out->mutable_value()->set_value(m.value);
}

}  // namespace

grpc::Status RuntimeService::ContainerStats(grpc::ServerContext*,
                                            const cri::ContainerStatsRequest* request,
                                            cri::ContainerStatsResponse* response) {
  return ServeRpc("ContainerStats", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(ContainerUsage usage, stats_.Container(request->container_id()));
    ToCri(usage, response->mutable_stats());
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ListContainerStats(grpc::ServerContext*,
                                                const cri::ListContainerStatsRequest* request,
                                                cri::ListContainerStatsResponse* response) {
  return ServeRpc("ListContainerStats", [&] {
    const cri::ContainerStatsFilter& f = request->filter();
    for (const ContainerUsage& usage :
         stats_.Containers(FilterOf(f.id(), f.pod_sandbox_id(), f.label_selector()))) {
      ToCri(usage, response->add_stats());
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::PodSandboxStats(grpc::ServerContext*,
                                             const cri::PodSandboxStatsRequest* request,
                                             cri::PodSandboxStatsResponse* response) {
  return ServeRpc("PodSandboxStats", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(PodUsage usage, stats_.Pod(request->pod_sandbox_id()));
    ToCri(usage, response->mutable_stats());
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ListPodSandboxStats(grpc::ServerContext*,
                                                 const cri::ListPodSandboxStatsRequest* request,
                                                 cri::ListPodSandboxStatsResponse* response) {
  return ServeRpc("ListPodSandboxStats", [&] {
    const cri::PodSandboxStatsFilter& f = request->filter();
    for (const PodUsage& usage : stats_.Pods(FilterOf(f.id(), "", f.label_selector()))) {
      ToCri(usage, response->add_stats());
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ListMetricDescriptors(grpc::ServerContext*,
                                                   const cri::ListMetricDescriptorsRequest*,
                                                   cri::ListMetricDescriptorsResponse* response) {
  return ServeRpc("ListMetricDescriptors", [&] {
    for (const MetricDescriptorData& d : MetricDescriptors()) {
      cri::MetricDescriptor* out = response->add_descriptors();
      out->set_name(d.name);
      out->set_help(d.help);
      for (const std::string& key : d.label_keys) out->add_label_keys(key);
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeService::ListPodSandboxMetrics(grpc::ServerContext*,
                                                   const cri::ListPodSandboxMetricsRequest*,
                                                   cri::ListPodSandboxMetricsResponse* response) {
  return ServeRpc("ListPodSandboxMetrics", [&] {
    for (const PodUsage& usage : stats_.Pods(UsageFilter())) {
      ToCri(MetricsOf(usage), response->add_pod_metrics());
    }
    return absl::OkStatus();
  });
}

// The Stream* twins: the same reads, sent in batches (stream_batches.h).

grpc::Status RuntimeService::StreamContainerStats(
    grpc::ServerContext*, const cri::StreamContainerStatsRequest* request,
    grpc::ServerWriter<cri::StreamContainerStatsResponse>* writer) {
  return ServeRpc("StreamContainerStats", [&] {
    const cri::ContainerStatsFilter& f = request->filter();
    return WriteInBatches(
        writer, stats_.Containers(FilterOf(f.id(), f.pod_sandbox_id(), f.label_selector())),
        [](const ContainerUsage& usage, cri::StreamContainerStatsResponse& response) {
          ToCri(usage, response.add_container_stats());
        });
  });
}

grpc::Status RuntimeService::StreamPodSandboxStats(
    grpc::ServerContext*, const cri::StreamPodSandboxStatsRequest* request,
    grpc::ServerWriter<cri::StreamPodSandboxStatsResponse>* writer) {
  return ServeRpc("StreamPodSandboxStats", [&] {
    const cri::PodSandboxStatsFilter& f = request->filter();
    return WriteInBatches(writer, stats_.Pods(FilterOf(f.id(), "", f.label_selector())),
                          [](const PodUsage& usage, cri::StreamPodSandboxStatsResponse& response) {
                            ToCri(usage, response.add_pod_sandbox_stats());
                          });
  });
}

grpc::Status RuntimeService::StreamPodSandboxMetrics(
    grpc::ServerContext*, const cri::StreamPodSandboxMetricsRequest*,
    grpc::ServerWriter<cri::StreamPodSandboxMetricsResponse>* writer) {
  return ServeRpc("StreamPodSandboxMetrics", [&] {
    return WriteInBatches(
        writer, stats_.Pods(UsageFilter()),
        [](const PodUsage& usage, cri::StreamPodSandboxMetricsResponse& response) {
          ToCri(MetricsOf(usage), response.add_pod_sandbox_metrics());
        });
  });
}

}  // namespace ocid
