// Pod user namespaces (CRI NamespaceOption.userns_options): what a request
// asks for, checked before anything is made.
//
// Mode NODE (or no userns_options) is the host's user namespace and takes no
// mappings. Mode POD gives the pod a user namespace of its own with exactly
// the uid and gid mappings sent (kubelet sends one each: container id 0, a
// host id that is a multiple of 65536, length 65536); every container of the
// pod joins it. Other modes are refused.
#ifndef OCID_PKG_SECURITY_USERNS_H_
#define OCID_PKG_SECURITY_USERNS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/runtime/v1/api.pb.h"

namespace ocid {

// One line of /proc/PID/uid_map: ids [container_id, container_id + length)
// inside are [host_id, host_id + length) on the host.
struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t length = 0;
  bool operator==(const IdMapping& other) const {
    return container_id == other.container_id && host_id == other.host_id && length == other.length;
  }
};

struct UserNamespaceMappings {
  std::vector<IdMapping> uids;
  std::vector<IdMapping> gids;
  bool operator==(const UserNamespaceMappings& other) const {
    return uids == other.uids && gids == other.gids;
  }
};

// The kernel takes at most this many lines in a uid_map or gid_map.
inline constexpr size_t kMaxIdMappings = 340;

// nullopt for the host's user namespace (no userns_options, or mode NODE
// without mappings); the mappings for mode POD. InvalidArgument naming the
// field (`field` is the userns_options, e.g.
// "config.linux.security_context.namespace_options.userns_options") for a
// mode other than NODE or POD, mappings with NODE, POD without uid or gid
// mappings, a length of 0, a range past 2^32 - 1 on either side, ranges that
// overlap on either side, or more than kMaxIdMappings.
absl::StatusOr<std::optional<UserNamespaceMappings>> RequestedUserNamespace(
    const runtime::v1::NamespaceOption& options, absl::string_view field);

// As RequestedUserNamespace for a pod; a pod user namespace also needs the
// pod's own network, IPC and PID namespaces (kubelet never asks otherwise):
// NODE for any of them is InvalidArgument naming `namespaces_field`.
absl::StatusOr<std::optional<UserNamespaceMappings>> PodUserNamespace(
    const runtime::v1::NamespaceOption& options, absl::string_view namespaces_field);

// A container's userns_options against its pod's (`pod`, the mappings the pod
// was made with): none means the pod's; otherwise they must ask for the same
// namespace (NODE for a host-namespace pod, POD with the same mappings in the
// same order, as containerd compares them), else InvalidArgument naming
// `namespaces_field` + ".userns_options".
absl::Status CheckContainerUserNamespace(const runtime::v1::NamespaceOption& container,
                                         const std::optional<UserNamespaceMappings>& pod,
                                         absl::string_view namespaces_field);

// A CRI Mount's uidMappings/gidMappings (an idmapped mount, in the form of
// a user namespace's: container id -> host id): nullopt when it has none.
// InvalidArgument naming `field` (the mount, "config.mounts[2]") +
// ".uidMappings" or ".gidMappings" for one given without the other, a length
// of 0, a range past the last id, ranges that overlap on either side, or
// more than kMaxIdMappings.
absl::StatusOr<std::optional<UserNamespaceMappings>> MountIdMappings(
    const runtime::v1::Mount& mount, absl::string_view field);

// "0 100000 65536\n" lines, as written to /proc/PID/uid_map.
std::string IdMapText(const std::vector<IdMapping>& mappings);

// The host id that `container_id` maps to; nullopt when it is not mapped.
std::optional<uint32_t> HostIdOf(const std::vector<IdMapping>& mappings, uint32_t container_id);

}  // namespace ocid

#endif  // OCID_PKG_SECURITY_USERNS_H_
