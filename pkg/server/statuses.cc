#include "pkg/server/statuses.h"

#include "absl/time/clock.h"
#include "pkg/server/filters.h"

namespace ocid {

namespace cri = ::runtime::v1;

cri::ContainerState ToCri(ContainerState state) {
  return static_cast<cri::ContainerState>(static_cast<int>(state));
}

cri::ContainerStatus ContainerStatusOf(const ContainerView& view) {
  const ContainerRecord& c = view.record;
  cri::ContainerStatus status;
  status.set_id(c.id);
  *status.mutable_metadata() = view.config.metadata();
  status.set_state(ToCri(c.state));
  status.set_created_at(c.created_at);
  status.set_started_at(c.started_at);
  status.set_finished_at(c.finished_at);
  status.set_exit_code(c.exit_code);
  status.mutable_image()->set_image(c.image_name);
  status.set_image_ref(c.image_ref);
  status.set_image_id(c.image_id);
  status.set_reason(c.reason);
  status.set_message(c.message);
  status.mutable_labels()->insert(c.labels.begin(), c.labels.end());
  status.mutable_annotations()->insert(c.annotations.begin(), c.annotations.end());
  *status.mutable_mounts() = view.config.mounts();
  status.set_log_path(c.log_path);
  if (c.uid >= 0) {  // the user it runs as (CRI ContainerStatus.user)
    cri::LinuxContainerUser& user = *status.mutable_user()->mutable_linux();
    user.set_uid(c.uid);
    user.set_gid(c.gid);
    for (int64_t group : c.supplemental_groups) user.add_supplemental_groups(group);
  }
  // As created, or as UpdateContainerResources last set them.
  *status.mutable_resources()->mutable_linux() = view.config.linux().resources();
  return status;
}

cri::PodSandboxStatus PodStatusOf(const PodView& view) {
  const SandboxRecord& pod = view.record;
  cri::PodSandboxStatus status;
  status.set_id(pod.id);
  *status.mutable_metadata() = view.config.metadata();
  status.set_state(pod.ready ? cri::SANDBOX_READY : cri::SANDBOX_NOTREADY);
  status.set_created_at(pod.created_at);
  if (!pod.ips.empty() && pod.ready) {
    status.mutable_network()->set_ip(pod.ips[0]);
    for (size_t i = 1; i < pod.ips.size(); ++i) {
      status.mutable_network()->add_additional_ips()->set_ip(pod.ips[i]);
    }
  }
  *status.mutable_linux()->mutable_namespaces()->mutable_options() =
      view.config.linux().security_context().namespace_options();
  status.mutable_labels()->insert(pod.labels.begin(), pod.labels.end());
  status.mutable_annotations()->insert(pod.annotations.begin(), pod.annotations.end());
  status.set_runtime_handler(pod.runtime_handler);
  return status;
}

bool PodSelected(const cri::PodSandboxFilter& filter, const SandboxRecord& pod) {
  if (!filter.id().empty() && pod.id.rfind(filter.id(), 0) != 0) return false;
  cri::PodSandboxState state = pod.ready ? cri::SANDBOX_READY : cri::SANDBOX_NOTREADY;
  if (filter.has_state() && filter.state().state() != state) return false;
  return LabelsMatch(filter.label_selector(), pod.labels);
}

cri::PodSandbox PodItemOf(const SandboxRecord& pod) {
  cri::PodSandbox item;
  item.set_id(pod.id);
  cri::PodSandboxMetadata& metadata = *item.mutable_metadata();
  metadata.set_name(pod.name);
  metadata.set_uid(pod.uid);
  metadata.set_namespace_(pod.pod_namespace);
  metadata.set_attempt(pod.attempt);
  item.set_state(pod.ready ? cri::SANDBOX_READY : cri::SANDBOX_NOTREADY);
  item.set_created_at(pod.created_at);
  item.mutable_labels()->insert(pod.labels.begin(), pod.labels.end());
  item.mutable_annotations()->insert(pod.annotations.begin(), pod.annotations.end());
  item.set_runtime_handler(pod.runtime_handler);
  return item;
}

bool ContainerSelected(const cri::ContainerFilter& filter, const ContainerRecord& c) {
  if (!filter.id().empty() && c.id.rfind(filter.id(), 0) != 0) return false;
  if (!filter.pod_sandbox_id().empty() && c.sandbox_id.rfind(filter.pod_sandbox_id(), 0) != 0) {
    return false;
  }
  if (filter.has_state() && filter.state().state() != ToCri(c.state)) return false;
  return LabelsMatch(filter.label_selector(), c.labels);
}

cri::Container ContainerItemOf(const ContainerRecord& c) {
  cri::Container item;
  item.set_id(c.id);
  item.set_pod_sandbox_id(c.sandbox_id);
  item.mutable_metadata()->set_name(c.name);
  item.mutable_metadata()->set_attempt(c.attempt);
  item.mutable_image()->set_image(c.image_name);
  item.set_image_ref(c.image_ref);
  item.set_image_id(c.image_id);
  item.set_state(ToCri(c.state));
  item.set_created_at(c.created_at);
  item.mutable_labels()->insert(c.labels.begin(), c.labels.end());
  item.mutable_annotations()->insert(c.annotations.begin(), c.annotations.end());
  return item;
}

}  // namespace ocid
