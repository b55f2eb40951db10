#include "pkg/stats/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace ocid {
namespace {

TEST(Metrics, EveryValueHasADescriptorWithMatchingLabels) {
  std::map<std::string, size_t> labels;
  for (const MetricDescriptorData& d : MetricDescriptors()) labels[d.name] = d.label_keys.size();
  EXPECT_EQ(labels.count("container_cpu_usage_seconds_total"), 1u);
  EXPECT_EQ(labels.count("container_memory_working_set_bytes"), 1u);

  PodUsage pod;
  pod.record.id = "pod1";
  pod.record.name = "web";
  pod.network_timestamp = 5;
  pod.interfaces.push_back({"eth0", 100, 1, 200, 2});
  ContainerUsage c;
  c.record.id = "ctr1";
  c.record.name = "app";
  c.cpu_memory.timestamp = 7;
  CgroupStats s;
  s.cpu_usage_ns = 3500000000;
  s.memory_working_set_bytes = 4096;
  s.pids = 3;
  c.cpu_memory.stats = s;
  c.upper_dir = "/var/lib/ocid/containers/ctr1/upper";
  c.writable_layer = {8192, 4};
  pod.containers.push_back(c);

  PodMetricsData data = MetricsOf(pod);
  EXPECT_EQ(data.pod_id, "pod1");
  ASSERT_EQ(data.metrics.size(), 4u);
  ASSERT_EQ(data.containers.size(), 1u);
  EXPECT_EQ(data.containers[0].first, "ctr1");
  std::map<std::string, uint64_t> values;
  for (const MetricData& m : data.metrics) {
    ASSERT_EQ(labels.count(m.name), 1u) << m.name;
    EXPECT_EQ(m.label_values.size(), labels[m.name]) << m.name;
    values[m.name + "/" + m.label_values.back()] = m.value;
  }
  for (const MetricData& m : data.containers[0].second) {
    ASSERT_EQ(labels.count(m.name), 1u) << m.name;
    EXPECT_EQ(m.label_values.size(), labels[m.name]) << m.name;
    EXPECT_EQ(m.label_values[0], "ctr1");
    values[m.name] = m.value;
  }
  EXPECT_EQ(values["container_network_receive_bytes_total/eth0"], 100u);
  EXPECT_EQ(values["container_network_transmit_errors_total/eth0"], 2u);
  EXPECT_EQ(values["container_cpu_usage_seconds_total"], 3u);
  EXPECT_EQ(values["container_memory_working_set_bytes"], 4096u);
  EXPECT_EQ(values["container_processes"], 3u);
  EXPECT_EQ(values["container_fs_usage_bytes"], 8192u);
}

}  // namespace
}  // namespace ocid
