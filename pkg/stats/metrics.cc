#include "pkg/stats/metrics.h"

namespace ocid {
namespace {

constexpr char kCpuSeconds[] = "container_cpu_usage_seconds_total";
constexpr char kMemoryUsage[] = "container_memory_usage_bytes";
constexpr char kWorkingSet[] = "container_memory_working_set_bytes";
constexpr char kRss[] = "container_memory_rss";
constexpr char kPageFaults[] = "container_memory_failures_total";
constexpr char kProcesses[] = "container_processes";
constexpr char kRxBytes[] = "container_network_receive_bytes_total";
constexpr char kRxErrors[] = "container_network_receive_errors_total";
constexpr char kTxBytes[] = "container_network_transmit_bytes_total";
constexpr char kTxErrors[] = "container_network_transmit_errors_total";
constexpr char kFsUsage[] = "container_fs_usage_bytes";
constexpr char kFsInodes[] = "container_fs_inodes_total";

}  // namespace

const std::vector<MetricDescriptorData>& MetricDescriptors() {
  static const auto* descriptors = new std::vector<MetricDescriptorData>{
      {kCpuSeconds, "Cumulative CPU time consumed in seconds.", {"id", "name"}},
      {kMemoryUsage,
       "Current memory usage in bytes, including all memory regardless of when it was accessed",
       {"id", "name"}},
      {kWorkingSet, "Current working set in bytes.", {"id", "name"}},
      {kRss, "Size of RSS in bytes.", {"id", "name"}},
      {kPageFaults,
       "Cumulative count of memory allocation failures.",
       {"id", "name", "failure_type", "scope"}},
      {kProcesses, "Number of processes running inside the container.", {"id", "name"}},
      {kFsUsage,
       "Number of bytes that are consumed by the container on this filesystem.",
       {"id", "name", "device"}},
      {kFsInodes, "Number of Inodes", {"id", "name", "device"}},
      {kRxBytes, "Cumulative count of bytes received", {"id", "name", "interface"}},
      {kRxErrors,
       "Cumulative count of errors encountered while receiving",
       {"id", "name", "interface"}},
      {kTxBytes, "Cumulative count of bytes transmitted", {"id", "name", "interface"}},
      {kTxErrors,
       "Cumulative count of errors encountered while transmitting",
       {"id", "name", "interface"}},
  };
  return *descriptors;
}

namespace {

std::vector<MetricData> ContainerMetrics(const ContainerUsage& c) {
  std::vector<MetricData> out;
  const std::string& id = c.record.id;
  const std::string& name = c.record.name;
  int64_t t = c.cpu_memory.timestamp;
  if (c.cpu_memory.stats.has_value()) {
    const CgroupStats& s = *c.cpu_memory.stats;
    out.push_back({kCpuSeconds, t, true, {id, name}, s.cpu_usage_ns / 1000000000});
    out.push_back({kMemoryUsage, t, false, {id, name}, s.memory_usage_bytes});
    out.push_back({kWorkingSet, t, false, {id, name}, s.memory_working_set_bytes});
    out.push_back({kRss, t, false, {id, name}, s.memory_rss_bytes});
    // cAdvisor's failures are the page faults, by type and scope.
    out.push_back({kPageFaults, t, true, {id, name, "pgfault", "container"}, s.page_faults});
    out.push_back(
        {kPageFaults, t, true, {id, name, "pgmajfault", "container"}, s.major_page_faults});
    out.push_back({kProcesses, t, false, {id, name}, s.pids});
  }
  out.push_back({kFsUsage, c.fs_timestamp, false, {id, name, c.upper_dir}, c.writable_layer.bytes});
  out.push_back(
      {kFsInodes, c.fs_timestamp, false, {id, name, c.upper_dir}, c.writable_layer.inodes});
  return out;
}

}  // namespace

PodMetricsData MetricsOf(const PodUsage& pod) {
  PodMetricsData data;
  data.pod_id = pod.record.id;
  const std::string& id = pod.record.id;
  const std::string& name = pod.record.name;
  int64_t t = pod.network_timestamp;
  for (const InterfaceStats& i : pod.interfaces) {
    data.metrics.push_back({kRxBytes, t, true, {id, name, i.name}, i.rx_bytes});
    data.metrics.push_back({kRxErrors, t, true, {id, name, i.name}, i.rx_errors});
    data.metrics.push_back({kTxBytes, t, true, {id, name, i.name}, i.tx_bytes});
    data.metrics.push_back({kTxErrors, t, true, {id, name, i.name}, i.tx_errors});
  }
  for (const ContainerUsage& c : pod.containers) {
    data.containers.emplace_back(c.record.id, ContainerMetrics(c));
  }
  return data;
}

}  // namespace ocid
