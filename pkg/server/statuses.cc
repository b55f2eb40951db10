#include "pkg/server/statuses.h"

#include "absl/time/clock.h"

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

}  // namespace ocid
