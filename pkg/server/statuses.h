// The CRI messages that describe a pod and a container, built from the
// managers' records and views: statuses (the Status calls, the event
// stream) and list items with their filters (the List and Stream calls).
#ifndef OCID_PKG_SERVER_STATUSES_H_
#define OCID_PKG_SERVER_STATUSES_H_

#include "api/runtime/v1/api.pb.h"
#include "pkg/container/container_manager.h"
#include "pkg/sandbox/sandbox_manager.h"

namespace ocid {

runtime::v1::ContainerState ToCri(ContainerState state);
runtime::v1::ContainerStatus ContainerStatusOf(const ContainerView& view);
runtime::v1::PodSandboxStatus PodStatusOf(const PodView& view);

bool PodSelected(const runtime::v1::PodSandboxFilter& filter, const SandboxRecord& pod);
runtime::v1::PodSandbox PodItemOf(const SandboxRecord& pod);
bool ContainerSelected(const runtime::v1::ContainerFilter& filter, const ContainerRecord& c);
runtime::v1::Container ContainerItemOf(const ContainerRecord& c);

}  // namespace ocid

#endif  // OCID_PKG_SERVER_STATUSES_H_
