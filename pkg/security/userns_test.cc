#include "pkg/security/userns.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr char kField[] = "config.linux.security_context.namespace_options.userns_options";

cri::NamespaceOption PodMode(uint32_t host_id, uint32_t length) {
  cri::NamespaceOption options;
  cri::UserNamespace& userns = *options.mutable_userns_options();
  userns.set_mode(cri::NamespaceMode::POD);
  for (auto* mapping : {userns.add_uids(), userns.add_gids()}) {
    mapping->set_container_id(0);
    mapping->set_host_id(host_id);
    mapping->set_length(length);
  }
  return options;
}

TEST(RequestedUserNamespace, NoneAndNodeAreTheHostsAndPodGivesItsMappings) {
  cri::NamespaceOption options;
  ASSERT_TRUE(RequestedUserNamespace(options, kField).ok());
  EXPECT_FALSE(RequestedUserNamespace(options, kField)->has_value()) << "none asked";
  options.mutable_userns_options()->set_mode(cri::NamespaceMode::NODE);
  EXPECT_FALSE(RequestedUserNamespace(options, kField)->has_value()) << "NODE";

  absl::StatusOr<std::optional<UserNamespaceMappings>> pod =
      RequestedUserNamespace(PodMode(65536, 65536), kField);
  ASSERT_TRUE(pod.ok()) << pod.status();
  ASSERT_TRUE(pod->has_value());
  EXPECT_EQ((*pod)->uids, (std::vector<IdMapping>{{0, 65536, 65536}}));
  EXPECT_EQ((*pod)->gids, (std::vector<IdMapping>{{0, 65536, 65536}}));
  EXPECT_EQ(IdMapText((*pod)->uids), "0 65536 65536\n");
  EXPECT_EQ(HostIdOf((*pod)->uids, 0), 65536u);
  EXPECT_EQ(HostIdOf((*pod)->uids, 65535), 131071u);
  EXPECT_FALSE(HostIdOf((*pod)->uids, 65536).has_value());
}

// Each bad request is InvalidArgument and its message starts with the field.
void ExpectRefused(const cri::NamespaceOption& options, const std::string& field,
                   const std::string& words) {
  absl::StatusOr<std::optional<UserNamespaceMappings>> got =
      RequestedUserNamespace(options, kField);
  ASSERT_FALSE(got.ok()) << field;
  EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << got.status();
  EXPECT_TRUE(absl::StartsWith(got.status().message(), field)) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), words)) << got.status();
}

TEST(RequestedUserNamespace, BadMappingsAreRefusedNamingTheField) {
  const std::string f = kField;
  cri::NamespaceOption no_uids = PodMode(65536, 65536);
  no_uids.mutable_userns_options()->clear_uids();
  ExpectRefused(no_uids, f + ".uids: ", "at least one");
  cri::NamespaceOption no_gids = PodMode(65536, 65536);
  no_gids.mutable_userns_options()->clear_gids();
  ExpectRefused(no_gids, f + ".gids: ", "at least one");
  ExpectRefused(PodMode(65536, 0), f + ".uids[0].length", "0");
  ExpectRefused(PodMode(4294901760u, 65536), f + ".uids[0]: ", "past the last id");
  cri::NamespaceOption last_ok = PodMode(4294901760u, 65535);
  EXPECT_TRUE(RequestedUserNamespace(last_ok, kField).ok()) << "up to 4294967294 is an id";

  cri::NamespaceOption container_overlap = PodMode(65536, 65536);
  cri::IDMapping* second = container_overlap.mutable_userns_options()->add_uids();
  second->set_container_id(65535);
  second->set_host_id(1 << 20);
  second->set_length(10);
  ExpectRefused(container_overlap, f + ".uids[1]: ", "container ids overlap");
  cri::NamespaceOption host_overlap = PodMode(65536, 65536);
  second = host_overlap.mutable_userns_options()->add_gids();
  second->set_container_id(65536);
  second->set_host_id(131071);
  second->set_length(1);
  ExpectRefused(host_overlap, f + ".gids[1]: ", "host ids overlap");
  cri::NamespaceOption adjacent = PodMode(65536, 65536);
  second = adjacent.mutable_userns_options()->add_gids();
  second->set_container_id(65536);
  second->set_host_id(131072);
  second->set_length(1);
  EXPECT_TRUE(RequestedUserNamespace(adjacent, kField).ok()) << "adjacent ranges are fine";

  cri::NamespaceOption too_many = PodMode(0, 1);
  for (uint32_t i = 1; i <= kMaxIdMappings; ++i) {
    cri::IDMapping* m = too_many.mutable_userns_options()->add_uids();
    m->set_container_id(i);
    m->set_host_id(i);
    m->set_length(1);
  }
  ExpectRefused(too_many, f + ".uids: ", "at most 340");

  cri::NamespaceOption node_with_maps = PodMode(65536, 65536);
  node_with_maps.mutable_userns_options()->set_mode(cri::NamespaceMode::NODE);
  ExpectRefused(node_with_maps, f + ": ", "need mode POD");
  cri::NamespaceOption target;
  target.mutable_userns_options()->set_mode(cri::NamespaceMode::TARGET);
  ExpectRefused(target, f + ": ", "TARGET");
}

TEST(PodUserNamespace, NeedsThePodsOwnNetworkIpcAndPid) {
  const std::string ns = "config.linux.security_context.namespace_options";
  EXPECT_TRUE(PodUserNamespace(PodMode(65536, 65536), ns).ok());
  for (int which = 0; which < 3; ++which) {
    cri::NamespaceOption options = PodMode(65536, 65536);
    const char* name = which == 0 ? "network" : which == 1 ? "ipc" : "pid";
    if (which == 0) options.set_network(cri::NamespaceMode::NODE);
    if (which == 1) options.set_ipc(cri::NamespaceMode::NODE);
    if (which == 2) options.set_pid(cri::NamespaceMode::NODE);
    absl::StatusOr<std::optional<UserNamespaceMappings>> got = PodUserNamespace(options, ns);
    ASSERT_FALSE(got.ok()) << name;
    EXPECT_TRUE(absl::IsInvalidArgument(got.status()));
    EXPECT_TRUE(absl::StartsWith(got.status().message(), ns + "." + name + ": ")) << got.status();
  }
  cri::NamespaceOption host_network;
  host_network.set_network(cri::NamespaceMode::NODE);
  EXPECT_TRUE(PodUserNamespace(host_network, ns).ok()) << "no user namespace asked";
}

TEST(CheckContainerUserNamespace, NoneInheritsTheSameIsFineAnotherIsRefused) {
  const std::string ns = "config.linux.security_context.namespace_options";
  UserNamespaceMappings pod{{{0, 65536, 65536}}, {{0, 65536, 65536}}};
  cri::NamespaceOption none;
  EXPECT_TRUE(CheckContainerUserNamespace(none, pod, ns).ok());
  EXPECT_TRUE(CheckContainerUserNamespace(none, std::nullopt, ns).ok());
  EXPECT_TRUE(CheckContainerUserNamespace(PodMode(65536, 65536), pod, ns).ok());
  absl::Status other = CheckContainerUserNamespace(PodMode(131072, 65536), pod, ns);
  EXPECT_TRUE(absl::IsInvalidArgument(other));
  EXPECT_TRUE(absl::StartsWith(other.message(), ns + ".userns_options: differs")) << other;
  EXPECT_TRUE(
      absl::IsInvalidArgument(CheckContainerUserNamespace(PodMode(65536, 65536), std::nullopt, ns)))
      << "a host-namespace pod's container cannot ask for one";
  cri::NamespaceOption node;
  node.mutable_userns_options()->set_mode(cri::NamespaceMode::NODE);
  EXPECT_TRUE(CheckContainerUserNamespace(node, std::nullopt, ns).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckContainerUserNamespace(node, pod, ns)));
}

cri::Mount MappedMount(uint32_t host_id, uint32_t length) {
  cri::Mount mount;
  mount.set_host_path("/data");
  mount.set_container_path("/data");
  for (auto* mapping : {mount.add_uidmappings(), mount.add_gidmappings()}) {
    mapping->set_container_id(0);
    mapping->set_host_id(host_id);
    mapping->set_length(length);
  }
  return mount;
}

void ExpectMountRefused(const cri::Mount& mount, const std::string& field,
                        const std::string& words) {
  absl::StatusOr<std::optional<UserNamespaceMappings>> got =
      MountIdMappings(mount, "config.mounts[2]");
  ASSERT_FALSE(got.ok()) << field;
  EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << got.status();
  EXPECT_TRUE(absl::StartsWith(got.status().message(), field)) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), words)) << got.status();
}

TEST(MountIdMappings, NoneIsAPlainBindAndBothGiveTheMappings) {
  cri::Mount plain;
  plain.set_host_path("/data");
  absl::StatusOr<std::optional<UserNamespaceMappings>> none = MountIdMappings(plain, "m");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  absl::StatusOr<std::optional<UserNamespaceMappings>> mapped =
      MountIdMappings(MappedMount(1 << 20, 65536), "m");
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  ASSERT_TRUE(mapped->has_value());
  EXPECT_EQ((*mapped)->uids, (std::vector<IdMapping>{{0, 1 << 20, 65536}}));
  EXPECT_EQ((*mapped)->gids, (std::vector<IdMapping>{{0, 1 << 20, 65536}}));
}

TEST(MountIdMappings, BadMappingsAreRefusedNamingTheMountsField) {
  const std::string f = "config.mounts[2]";
  cri::Mount no_gids = MappedMount(65536, 65536);
  no_gids.clear_gidmappings();
  ExpectMountRefused(no_gids, f + ".gidMappings: ", "both uidMappings and gidMappings");
  cri::Mount no_uids = MappedMount(65536, 65536);
  no_uids.clear_uidmappings();
  ExpectMountRefused(no_uids, f + ".uidMappings: ", "both uidMappings and gidMappings");
  ExpectMountRefused(MappedMount(65536, 0), f + ".uidMappings[0].length", "0");
  ExpectMountRefused(MappedMount(4294901760u, 65536), f + ".uidMappings[0]: ", "past the last id");

  cri::Mount overlap = MappedMount(65536, 65536);
  cri::IDMapping* second = overlap.add_gidmappings();
  second->set_container_id(100);
  second->set_host_id(1 << 24);
  second->set_length(1);
  ExpectMountRefused(overlap, f + ".gidMappings[1]: ", "container ids overlap");
  cri::Mount host_overlap = MappedMount(65536, 65536);
  second = host_overlap.add_uidmappings();
  second->set_container_id(65536);
  second->set_host_id(65537);
  second->set_length(1);
  ExpectMountRefused(host_overlap, f + ".uidMappings[1]: ", "host ids overlap");
}

}  // namespace
}  // namespace ocid
