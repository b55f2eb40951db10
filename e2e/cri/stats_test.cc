// Stats through the real API (not in specs.txt): a busy container's CPU
// rising and its memory and writable layer as made inside it; the list
// filters; pod stats with the pod's own eth0 traffic and its containers;
// the metrics RPCs; ImageFsInfo with image storage and writable layers
// apart; the pod cgroup gone after RemovePodSandbox; UpdateContainerResources
// applied live, and a value the kernel refuses.
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

class Stats : public CriTest {
 protected:
  absl::StatusOr<std::string> RunContainer(const Pod& pod, const std::string& prefix,
                                           const std::vector<std::string>& cmd,
                                           const std::map<std::string, std::string>& labels = {}) {
    v1::ContainerConfig config = DefaultContainerConfig(prefix);
    config.clear_command();
    for (const std::string& arg : cmd) config.add_command(arg);
    config.mutable_labels()->insert(labels.begin(), labels.end());
    absl::StatusOr<std::string> id = CreateContainer(pod, config);
    if (!id.ok()) return id;
    absl::Status started = StartContainer(*id);
    if (!started.ok()) return started;
    return id;
  }

  absl::StatusOr<v1::ContainerStats> ContainerStats(const std::string& id) {
    v1::ContainerStatsRequest request;
    request.set_container_id(id);
    v1::ContainerStatsResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::ContainerStats, request, &response);
    if (!status.ok()) return status;
    return response.stats();
  }

  std::set<std::string> ListedIds(const v1::ContainerStatsFilter& filter) {
    v1::ListContainerStatsRequest request;
    *request.mutable_filter() = filter;
    v1::ListContainerStatsResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::ListContainerStats, request, &response);
    EXPECT_TRUE(status.ok()) << status;
    std::set<std::string> ids;
    for (const v1::ContainerStats& s : response.stats()) ids.insert(s.attributes().id());
    return ids;
  }

  std::set<std::string> StreamedIds(const v1::ContainerStatsFilter& filter) {
    v1::StreamContainerStatsRequest request;
    *request.mutable_filter() = filter;
    auto messages = ReadStream<v1::StreamContainerStatsResponse>(
        &v1::RuntimeService::Stub::StreamContainerStats, request);
    EXPECT_TRUE(messages.ok()) << messages.status();
    std::set<std::string> ids;
    for (const auto& message : messages.value_or(std::vector<v1::StreamContainerStatsResponse>{})) {
      for (const v1::ContainerStats& s : message.container_stats()) ids.insert(s.attributes().id());
    }
    return ids;
  }

  absl::StatusOr<v1::PodSandboxStats> PodStats(const std::string& id) {
    v1::PodSandboxStatsRequest request;
    request.set_pod_sandbox_id(id);
    v1::PodSandboxStatsResponse response;
    absl::Status status = Call(&v1::RuntimeService::Stub::PodSandboxStats, request, &response);
    if (!status.ok()) return status;
    return response.stats();
  }
};

TEST_F(Stats, BusyContainerShowsCpuRisingMemoryAndItsWritableLayer) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("stats-busy-"));
  // 8 MiB written into the writable layer, then a loop keeping one core
  // busy.
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            RunContainer(pod, "stats-busy-",
                                         {"sh", "-c",
                                          "dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null; "
                                          "touch /written; while :; do :; done"}));
  // The layer's usage is measured at most once per 10 s: the first call
  // comes once /big is all there.
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<ExecResult> written = ExecSync(id, {"test", "-f", "/written"}, 10);
    if (written.ok() && written->exit_code == 0) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  absl::SleepFor(absl::Milliseconds(500));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStats first, ContainerStats(id));
  absl::SleepFor(absl::Milliseconds(500));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStats second, ContainerStats(id));

  EXPECT_EQ(second.attributes().id(), id);
  EXPECT_EQ(second.attributes().metadata().attempt(), kDefaultAttempt);
  EXPECT_GT(first.cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_GT(second.cpu().usage_core_nano_seconds().value(),
            first.cpu().usage_core_nano_seconds().value() + 100'000'000u)
      << "a busy loop for 0.5 s uses well over 0.1 s of CPU";
  EXPECT_GT(second.cpu().timestamp(), first.cpu().timestamp());
  ASSERT_TRUE(second.cpu().has_usage_nano_cores()) << "a second sample has a rate";
  EXPECT_GT(second.cpu().usage_nano_cores().value(), 500'000'000u) << "about one core busy";
  EXPECT_GT(second.memory().working_set_bytes().value(), 0u);
  EXPECT_GE(second.memory().usage_bytes().value(), second.memory().working_set_bytes().value());
  EXPECT_GT(second.memory().page_faults().value(), 0u);
  EXPECT_GE(second.writable_layer().used_bytes().value(), 8u << 20);
  EXPECT_GE(second.writable_layer().inodes_used().value(), 2u);  // the upper dir and /big
  EXPECT_TRUE(absl::EndsWith(second.writable_layer().fs_id().mountpoint(), "/upper"));
}

TEST_F(Stats, ListFiltersByIdPodAndLabels) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod a, RunDefaultPod("stats-filter-a-"));
  OCID_ASSERT_OK_AND_ASSIGN(Pod b, RunDefaultPod("stats-filter-b-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string a1,
                            RunContainer(a, "a1-", {"top"}, {{"tier", "web"}, {"n", "1"}}));
  OCID_ASSERT_OK_AND_ASSIGN(std::string a2, RunContainer(a, "a2-", {"top"}, {{"tier", "db"}}));
  OCID_ASSERT_OK_AND_ASSIGN(std::string b1, RunContainer(b, "b1-", {"top"}, {{"tier", "web"}}));

  v1::ContainerStatsFilter by_pod;
  by_pod.set_pod_sandbox_id(a.id);
  EXPECT_EQ(ListedIds(by_pod), (std::set<std::string>{a1, a2}));
  by_pod.set_pod_sandbox_id(b.id.substr(0, 10));  // a prefix
  EXPECT_EQ(ListedIds(by_pod), (std::set<std::string>{b1}));

  v1::ContainerStatsFilter by_id;
  by_id.set_id(a2);
  EXPECT_EQ(ListedIds(by_id), (std::set<std::string>{a2}));

  v1::ContainerStatsFilter by_label;
  (*by_label.mutable_label_selector())["tier"] = "web";
  EXPECT_EQ(ListedIds(by_label), (std::set<std::string>{a1, b1}));
  (*by_label.mutable_label_selector())["n"] = "1";
  EXPECT_EQ(ListedIds(by_label), (std::set<std::string>{a1}));
  by_label.set_pod_sandbox_id(b.id);
  EXPECT_TRUE(ListedIds(by_label).empty()) << "all the filter's fields must match";

  // StreamContainerStats answers what ListContainerStats does.
  for (const v1::ContainerStatsFilter* filter : {&by_pod, &by_id, &by_label}) {
    EXPECT_EQ(StreamedIds(*filter), ListedIds(*filter)) << filter->ShortDebugString();
  }
  EXPECT_EQ(StreamedIds(v1::ContainerStatsFilter()), ListedIds(v1::ContainerStatsFilter()));

  // A stopped container has no cgroup: the list leaves it out.
  OCID_ASSERT_OK(StopContainer(a2, 0));
  by_pod.set_pod_sandbox_id(a.id);
  EXPECT_EQ(ListedIds(by_pod), (std::set<std::string>{a1}));

  v1::ContainerStatsRequest unknown;
  unknown.set_container_id("no-such-container");
  v1::ContainerStatsResponse response;
  EXPECT_TRUE(
      absl::IsNotFound(Call(&v1::RuntimeService::Stub::ContainerStats, unknown, &response)));
}

TEST_F(Stats, PodStatsHaveItsNetworkAndContainers) {
  v1::PodSandboxConfig config = DefaultPodConfig("stats-pod-");
  (*config.mutable_labels())["stats"] = "yes";
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(config));
  v1::ContainerConfig web = DefaultContainerConfig("web-");
  web.mutable_image()->set_image(kNginxImage);
  web.clear_command();
  web.clear_args();
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, web));
  OCID_ASSERT_OK(StartContainer(id));
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse status, PodStatus(pod.id));
  const std::string ip = status.status().network().ip();
  ASSERT_FALSE(ip.empty());

  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStats before, PodStats(pod.id));
  // Traffic to the pod's own address, from the host (a netns we made).
  absl::StatusOr<int> code = HttpGetStatus(ip, 80);
  for (int i = 0; i < 30 && !code.ok(); ++i) {
    absl::SleepFor(absl::Seconds(1));
    code = HttpGetStatus(ip, 80);
  }
  ASSERT_TRUE(code.ok()) << code.status();
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStats after, PodStats(pod.id));

  EXPECT_EQ(after.attributes().id(), pod.id);
  EXPECT_EQ(after.attributes().metadata().name(), config.metadata().name());
  EXPECT_EQ(after.attributes().labels().at("stats"), "yes");
  const v1::LinuxPodSandboxStats& linux = after.linux();
  EXPECT_GT(linux.cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_GT(linux.memory().working_set_bytes().value(), 0u);
  EXPECT_GE(linux.process().process_count().value(), 1u);
  ASSERT_EQ(linux.network().default_interface().name(), "eth0");
  const v1::NetworkInterfaceUsage& eth0 = linux.network().default_interface();
  const v1::NetworkInterfaceUsage& eth0_before = before.linux().network().default_interface();
  EXPECT_GT(eth0.rx_bytes().value(), eth0_before.rx_bytes().value()) << "the GET came in";
  EXPECT_GT(eth0.tx_bytes().value(), eth0_before.tx_bytes().value()) << "the answer went out";
  for (const v1::NetworkInterfaceUsage& i : linux.network().interfaces()) {
    EXPECT_NE(i.name(), "lo");
  }
  ASSERT_EQ(linux.containers_size(), 1);
  EXPECT_EQ(linux.containers(0).attributes().id(), id);

  v1::ListPodSandboxStatsRequest list;
  (*list.mutable_filter()->mutable_label_selector())["stats"] = "yes";
  v1::ListPodSandboxStatsResponse listed;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::ListPodSandboxStats, list, &listed));
  ASSERT_EQ(listed.stats_size(), 1);
  EXPECT_EQ(listed.stats(0).attributes().id(), pod.id);
  (*list.mutable_filter()->mutable_label_selector())["stats"] = "no";
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::ListPodSandboxStats, list, &listed));
  EXPECT_EQ(listed.stats_size(), 0);

  // The metrics RPCs: each value named by a descriptor, the pod's network
  // and its container's CPU among them.
  v1::ListMetricDescriptorsResponse descriptors;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::ListMetricDescriptors,
                      v1::ListMetricDescriptorsRequest(), &descriptors));
  std::map<std::string, int> label_count;
  for (const v1::MetricDescriptor& d : descriptors.descriptors()) {
    label_count[d.name()] = d.label_keys_size();
  }
  v1::ListPodSandboxMetricsResponse metrics;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::ListPodSandboxMetrics,
                      v1::ListPodSandboxMetricsRequest(), &metrics));
  bool found = false;
  for (const v1::PodSandboxMetrics& p : metrics.pod_metrics()) {
    if (p.pod_sandbox_id() != pod.id) continue;
    found = true;
    std::set<std::string> names;
    for (const v1::Metric& m : p.metrics()) {
      names.insert(m.name());
      EXPECT_EQ(label_count.count(m.name()), 1u) << m.name();
      EXPECT_EQ(m.label_values_size(), label_count[m.name()]) << m.name();
    }
    EXPECT_EQ(names.count("container_network_receive_bytes_total"), 1u);
    ASSERT_EQ(p.container_metrics_size(), 1);
    std::set<std::string> container_names;
    for (const v1::Metric& m : p.container_metrics(0).metrics()) {
      container_names.insert(m.name());
      EXPECT_EQ(label_count.count(m.name()), 1u) << m.name();
    }
    EXPECT_EQ(container_names.count("container_cpu_usage_seconds_total"), 1u);
    EXPECT_EQ(container_names.count("container_memory_working_set_bytes"), 1u);
  }
  EXPECT_TRUE(found) << "no metrics for pod " << pod.id;

  // The pod's cgroup (ocid's own: critest's cgroupfs pods have no parent)
  // goes with the pod.
  const std::string cgroup = absl::StrCat("/sys/fs/cgroup/memory/ocid/pod-", pod.id);
  EXPECT_EQ(access(cgroup.c_str(), F_OK), 0) << cgroup;
  OCID_ASSERT_OK(RemovePod(pod.id));
  EXPECT_NE(access(cgroup.c_str(), F_OK), 0) << cgroup << " is left after RemovePodSandbox";
  EXPECT_TRUE(absl::IsNotFound(PodStats(pod.id).status()));
}

TEST_F(Stats, PodStatsAndMetricsStreamWhatTheirListTwinsDo) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("stats-stream-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunContainer(pod, "streamed-", {"top"}));
  v1::StreamPodSandboxStatsRequest stream;
  stream.mutable_filter()->set_id(pod.id);
  OCID_ASSERT_OK_AND_ASSIGN(auto pod_messages,
                            ReadStream<v1::StreamPodSandboxStatsResponse>(
                                &v1::RuntimeService::Stub::StreamPodSandboxStats, stream));
  ASSERT_EQ(pod_messages.size(), 1u);
  ASSERT_EQ(pod_messages[0].pod_sandbox_stats_size(), 1);
  const v1::PodSandboxStats& streamed = pod_messages[0].pod_sandbox_stats(0);
  EXPECT_EQ(streamed.attributes().id(), pod.id);
  EXPECT_GT(streamed.linux().memory().working_set_bytes().value(), 0u);
  ASSERT_EQ(streamed.linux().containers_size(), 1);
  EXPECT_EQ(streamed.linux().containers(0).attributes().id(), id);

  OCID_ASSERT_OK_AND_ASSIGN(auto metric_messages,
                            ReadStream<v1::StreamPodSandboxMetricsResponse>(
                                &v1::RuntimeService::Stub::StreamPodSandboxMetrics,
                                v1::StreamPodSandboxMetricsRequest()));
  bool found = false;
  for (const auto& message : metric_messages) {
    for (const v1::PodSandboxMetrics& metrics : message.pod_sandbox_metrics()) {
      if (metrics.pod_sandbox_id() != pod.id) continue;
      found = true;
      EXPECT_FALSE(metrics.metrics().empty());
      ASSERT_EQ(metrics.container_metrics_size(), 1);
      EXPECT_EQ(metrics.container_metrics(0).container_id(), id);
    }
  }
  EXPECT_TRUE(found) << "the pod's metrics were streamed";
}

TEST_F(Stats, ImageFsInfoReportsImagesAndWritableLayersApart) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("stats-fs-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunContainer(pod, "fs-", {"top"}));
  v1::ImageFsInfoResponse response;
  OCID_ASSERT_OK(Call(&v1::ImageService::Stub::ImageFsInfo, v1::ImageFsInfoRequest(), &response));
  ASSERT_EQ(response.image_filesystems_size(), 1);
  ASSERT_EQ(response.container_filesystems_size(), 1);
  const v1::FilesystemUsage& images = response.image_filesystems(0);
  const v1::FilesystemUsage& containers = response.container_filesystems(0);
  EXPECT_NE(images.fs_id().mountpoint(), containers.fs_id().mountpoint());
  EXPECT_TRUE(absl::EndsWith(images.fs_id().mountpoint(), "/storage"));
  EXPECT_TRUE(absl::EndsWith(containers.fs_id().mountpoint(), "/containers"));
  EXPECT_GT(images.used_bytes().value(), 1u << 20) << "the pulled busybox";
  EXPECT_GT(images.inodes_used().value(), 10u);
  EXPECT_GT(containers.inodes_used().value(), 1u) << "the container's upper and work dirs";
  EXPECT_NE(images.timestamp(), 0);
}

TEST_F(Stats, UpdateContainerResourcesAppliesLiveOrReturnsTheKernelsError) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("stats-update-"));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, RunContainer(pod, "update-", {"top"}));
  v1::UpdateContainerResourcesRequest request;
  request.set_container_id(id);
  request.mutable_linux()->set_memory_limit_in_bytes(64 << 20);
  request.mutable_linux()->set_cpu_shares(512);
  v1::UpdateContainerResourcesResponse response;
  OCID_ASSERT_OK(Call(&v1::RuntimeService::Stub::UpdateContainerResources, request, &response));

  // As the container itself reads it (its own cgroup is its /sys/fs/cgroup).
  OCID_ASSERT_OK_AND_ASSIGN(
      ExecResult limit, ExecSync(id, {"cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}, 30));
  EXPECT_EQ(limit.stdout_text, "67108864\n") << limit.stderr_text;
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_EQ(status.status().resources().linux().memory_limit_in_bytes(), 64 << 20);
  EXPECT_EQ(status.status().resources().linux().cpu_shares(), 512);

  // A CPU this machine does not have: the kernel refuses it.
  request.mutable_linux()->set_cpuset_cpus("999");
  absl::Status refused =
      Call(&v1::RuntimeService::Stub::UpdateContainerResources, request, &response);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "cpuset")) << refused;
  OCID_ASSERT_OK_AND_ASSIGN(status, ContainerStatus(id));
  EXPECT_EQ(status.status().resources().linux().cpuset_cpus(), "") << "the old resources stay";
  EXPECT_EQ(status.status().resources().linux().memory_limit_in_bytes(), 64 << 20);
}

TEST_F(Stats, AMemoryLimitBelowWhatTheContainerHoldsIsRefusedNamingTheField) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("stats-below-"));
  // dd's 40 MiB buffer, full and held while its write to a reader that never
  // reads blocks: anonymous memory, which (no swap here) cannot be reclaimed.
  OCID_ASSERT_OK_AND_ASSIGN(
      std::string id,
      RunContainer(pod, "below-",
                   {"sh", "-c", "dd if=/dev/zero bs=41943040 count=1 2>/dev/null | sleep 3600"}));
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  int64_t usage = 0;
  while (usage < (32 << 20) && absl::Now() < deadline) {
    OCID_ASSERT_OK_AND_ASSIGN(
        ExecResult read,
        ExecSync(id, {"cat", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}, 30));
    ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(read.stdout_text), &usage))
        << read.stdout_text << read.stderr_text;
    if (usage < (32 << 20)) absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_GE(usage, 32 << 20) << "the container never held 32 MiB";
  v1::UpdateContainerResourcesRequest request;
  request.set_container_id(id);
  request.mutable_linux()->set_memory_limit_in_bytes(8 << 20);
  v1::UpdateContainerResourcesResponse response;
  absl::Status refused =
      Call(&v1::RuntimeService::Stub::UpdateContainerResources, request, &response);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_TRUE(absl::StartsWith(refused.message(), "linux.memory_limit_in_bytes: ")) << refused;
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_EQ(status.status().resources().linux().memory_limit_in_bytes(), 0)
      << "the old (no) limit stays recorded";
  EXPECT_EQ(status.status().state(), v1::CONTAINER_RUNNING);
}

}  // namespace
}  // namespace ocid::e2e
