// The metrics of ListMetricDescriptors and ListPodSandboxMetrics, named as
// cAdvisor names them (what kubelet's /metrics/cadvisor serves when it reads
// them from the CRI), with containerd's base labels ("id", "name"). Only
// the metrics ocid measures are described.
#ifndef OCID_PKG_STATS_METRICS_H_
#define OCID_PKG_STATS_METRICS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pkg/stats/stats_collector.h"

namespace ocid {

struct MetricDescriptorData {
  std::string name, help;
  std::vector<std::string> label_keys;
};

struct MetricData {
  std::string name;
  int64_t timestamp = 0;
  bool counter = false;                   // else a gauge
  std::vector<std::string> label_values;  // in the descriptor's label_keys order
  uint64_t value = 0;
};

struct PodMetricsData {
  std::string pod_id;
  std::vector<MetricData> metrics;  // the pod's own: its network interfaces
  std::vector<std::pair<std::string, std::vector<MetricData>>> containers;  // by container ID
};

const std::vector<MetricDescriptorData>& MetricDescriptors();
// The metrics of `pod`: network counters per interface for the pod, CPU
// (whole seconds: Metric.value is an integer), memory and process count
// for each container.
PodMetricsData MetricsOf(const PodUsage& pod);

}  // namespace ocid

#endif  // OCID_PKG_STATS_METRICS_H_
