// The CRI status messages of a pod and a container, built from the
// managers' views: shared by the Status calls and the event stream.
#ifndef OCID_PKG_SERVER_STATUSES_H_
#define OCID_PKG_SERVER_STATUSES_H_

#include "api/runtime/v1/api.pb.h"
#include "pkg/container/container_manager.h"
#include "pkg/sandbox/sandbox_manager.h"

namespace ocid {

runtime::v1::ContainerState ToCri(ContainerState state);
runtime::v1::ContainerStatus ContainerStatusOf(const ContainerView& view);
runtime::v1::PodSandboxStatus PodStatusOf(const PodView& view);

}  // namespace ocid

#endif  // OCID_PKG_SERVER_STATUSES_H_
