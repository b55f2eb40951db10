#include "pkg/security/userns.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr char kPodNeedsMappings[] = "mode POD needs at least one mapping";
constexpr uint64_t kIdLimit = uint64_t{1} << 32;  // ids are 32 bits; -1 is no id

absl::Status Overlaps(const std::vector<IdMapping>& mappings, bool host_side,
                      const std::string& field) {
  for (size_t i = 0; i < mappings.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      uint64_t a = host_side ? mappings[i].host_id : mappings[i].container_id;
      uint64_t b = host_side ? mappings[j].host_id : mappings[j].container_id;
      if (a < b + mappings[j].length && b < a + mappings[i].length) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, "[", i, "]: its ", host_side ? "host" : "container",
                         " ids overlap those of ", field, "[", j, "]"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<IdMapping>> Mappings(
    const google::protobuf::RepeatedPtrField<cri::IDMapping>& field_value, const std::string& field,
    absl::string_view when_empty) {
  if (field_value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", when_empty));
  if (static_cast<size_t>(field_value.size()) > kMaxIdMappings) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", field_value.size(), " mappings, the kernel takes at most ", kMaxIdMappings));
  }
  std::vector<IdMapping> mappings;
  for (int i = 0; i < field_value.size(); ++i) {
    const cri::IDMapping& m = field_value[i];
    std::string entry = absl::StrCat(field, "[", i, "]");
    if (m.length() == 0) return absl::InvalidArgumentError(entry + ".length: 0");
    if (uint64_t{m.host_id()} + m.length() >= kIdLimit ||
        uint64_t{m.container_id()} + m.length() >= kIdLimit) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry, ": host_id ", m.host_id(), " or container_id ", m.container_id(),
                       " plus length ", m.length(), " goes past the last id (4294967294)"));
    }
    mappings.push_back({m.container_id(), m.host_id(), m.length()});
  }
  for (bool host_side : {false, true}) {
    absl::Status overlap = Overlaps(mappings, host_side, field);
    if (!overlap.ok()) return overlap;
  }
  return mappings;
}

}  // namespace

absl::StatusOr<std::optional<UserNamespaceMappings>> RequestedUserNamespace(
    const cri::NamespaceOption& options, absl::string_view field) {
  if (!options.has_userns_options()) return std::nullopt;
  const cri::UserNamespace& userns = options.userns_options();
  switch (userns.mode()) {
    case cri::NamespaceMode::NODE:
      if (userns.uids_size() > 0 || userns.gids_size() > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": uid/gid mappings need mode POD, not NODE"));
      }
      return std::nullopt;
    case cri::NamespaceMode::POD: {
      UserNamespaceMappings mappings;
      absl::StatusOr<std::vector<IdMapping>> uids =
          Mappings(userns.uids(), absl::StrCat(field, ".uids"), kPodNeedsMappings);
      if (!uids.ok()) return uids.status();
      absl::StatusOr<std::vector<IdMapping>> gids =
          Mappings(userns.gids(), absl::StrCat(field, ".gids"), kPodNeedsMappings);
      if (!gids.ok()) return gids.status();
      mappings.uids = std::move(*uids);
      mappings.gids = std::move(*gids);
      return mappings;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": mode ", cri::NamespaceMode_Name(userns.mode()),
                       " is not a user namespace mode (NODE or POD)"));
  }
}

absl::StatusOr<std::optional<UserNamespaceMappings>> PodUserNamespace(
    const cri::NamespaceOption& options, absl::string_view namespaces_field) {
  absl::StatusOr<std::optional<UserNamespaceMappings>> mappings =
      RequestedUserNamespace(options, absl::StrCat(namespaces_field, ".userns_options"));
  if (!mappings.ok() || !mappings->has_value()) return mappings;
  const std::pair<const char*, cri::NamespaceMode> others[] = {
      {"network", options.network()}, {"ipc", options.ipc()}, {"pid", options.pid()}};
  for (const auto& [name, mode] : others) {
    if (mode == cri::NamespaceMode::NODE) {
      return absl::InvalidArgumentError(
          absl::StrCat(namespaces_field, ".", name,
                       ": NODE cannot go with a pod user namespace (userns_options mode POD): "
                       "the host's namespace is not owned by it"));
    }
  }
  return mappings;
}

absl::Status CheckContainerUserNamespace(const cri::NamespaceOption& container,
                                         const std::optional<UserNamespaceMappings>& pod,
                                         absl::string_view namespaces_field) {
  if (!container.has_userns_options()) return absl::OkStatus();  // the pod's
  std::string field = absl::StrCat(namespaces_field, ".userns_options");
  absl::StatusOr<std::optional<UserNamespaceMappings>> asked =
      RequestedUserNamespace(container, field);
  if (!asked.ok()) return asked.status();
  if (*asked == pod) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": differs from the pod's user namespace (",
                   pod ? "mode POD with its mappings" : "the host's",
                   "); a container runs in its pod's user namespace"));
}

absl::StatusOr<std::optional<UserNamespaceMappings>> MountIdMappings(const cri::Mount& mount,
                                                                     absl::string_view field) {
  if (mount.uidmappings().empty() && mount.gidmappings().empty()) return std::nullopt;
  const std::string uids_field = absl::StrCat(field, ".uidMappings");
  const std::string gids_field = absl::StrCat(field, ".gidMappings");
  constexpr char kBoth[] = "an idmapped mount needs both uidMappings and gidMappings";
  absl::StatusOr<std::vector<IdMapping>> uids = Mappings(mount.uidmappings(), uids_field, kBoth);
  if (!uids.ok()) return uids.status();
  absl::StatusOr<std::vector<IdMapping>> gids = Mappings(mount.gidmappings(), gids_field, kBoth);
  if (!gids.ok()) return gids.status();
  return UserNamespaceMappings{std::move(*uids), std::move(*gids)};
}

std::string IdMapText(const std::vector<IdMapping>& mappings) {
  std::string text;
  for (const IdMapping& m : mappings) {
    absl::StrAppend(&text, m.container_id, " ", m.host_id, " ", m.length, "\n");
  }
  return text;
}

std::optional<uint32_t> HostIdOf(const std::vector<IdMapping>& mappings, uint32_t container_id) {
  for (const IdMapping& m : mappings) {
    if (container_id >= m.container_id && container_id - m.container_id < m.length) {
      return m.host_id + (container_id - m.container_id);
    }
  }
  return std::nullopt;
}

}  // namespace ocid
