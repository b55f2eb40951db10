#include "pkg/sandbox/sandbox_record.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

// What Serialize wrote before records had a version (commit fa19ce9).
TEST(SandboxRecordTest, LoadsARecordInTheLayoutBeforeVersions) {
  absl::StatusOr<std::string> text =
      ReadFileToString("pkg/sandbox/testdata/sandbox_record_v0.json", 1 << 20);
  ASSERT_TRUE(text.ok()) << text.status();
  ASSERT_EQ(text->find("version"), std::string::npos);
  absl::StatusOr<SandboxRecord> r = SandboxRecord::Parse(*text);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "5e7a9c1b3d2f");
  EXPECT_EQ(r->name, "nginx");
  EXPECT_EQ(r->pod_namespace, "default");
  EXPECT_EQ(r->uid, "uid-1");
  EXPECT_EQ(r->attempt, 1u);
  EXPECT_FALSE(r->ready);
  EXPECT_FALSE(r->creating) << "a record from before intents were kept was made in full";
  EXPECT_TRUE(r->stopped) << "not ready meant stopped";
  EXPECT_EQ(r->created_at, 1700000000000000000);
  EXPECT_EQ(r->labels.at("app"), "nginx");
  EXPECT_EQ(r->annotations.at("note"), "y");
  EXPECT_EQ(r->runtime_handler, "runc");
  EXPECT_EQ(r->config_json, "{\"metadata\":{\"name\":\"nginx\"}}");
  EXPECT_EQ(r->namespaces.net, "/run/ocid/ns/net/5e7a9c1b3d2f");
  EXPECT_EQ(r->namespaces.ipc, "/run/ocid/ns/ipc/5e7a9c1b3d2f");
  EXPECT_EQ(r->namespaces.uts, "/run/ocid/ns/uts/5e7a9c1b3d2f");
  EXPECT_EQ(r->infra_pid, 777);
  EXPECT_EQ(r->infra_start_time, 0u);  // not kept then
  EXPECT_EQ(r->hostname, "nginx-host");
  EXPECT_EQ(r->files_dir, "/run/ocid/pods/5e7a9c1b3d2f");
  EXPECT_EQ(r->shm_path, "/run/ocid/pods/5e7a9c1b3d2f/shm");
  EXPECT_EQ(r->log_directory, "/var/log/pods/default_nginx_uid-1");
  EXPECT_EQ(r->cgroup_parent, "/kubepods/pod-uid-1");
  EXPECT_EQ(r->ips, std::vector<std::string>{"10.216.0.5"});
  EXPECT_EQ(r->namespaces.user, "") << "no user namespace then: the host's";
  EXPECT_FALSE(r->userns.has_value());
  EXPECT_EQ(r->selinux_mount_label, "") << "not kept then: unlabelled";
  EXPECT_EQ(nlohmann::json::parse(r->Serialize()).at("version"), 1);
  EXPECT_EQ(SandboxRecord::Parse(r->Serialize())->Serialize(), r->Serialize());
}

// Version 1 before the lifecycle keys: a ready pod made in full, not stopped.
TEST(SandboxRecordTest, ARecordWithoutLifecycleKeysLoadsAsCreated) {
  absl::StatusOr<SandboxRecord> r =
      SandboxRecord::Parse(R"({"version": 1, "id": "pod", "ready": true})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->creating);
  EXPECT_TRUE(r->ready);
  EXPECT_FALSE(r->stopped);
}

TEST(SandboxRecordTest, LifecycleKeysRoundTrip) {
  SandboxRecord pod;
  pod.id = "pod";
  pod.creating = true;
  pod.ready = false;  // its infra died, not stopped yet
  pod.stopped = false;
  absl::StatusOr<SandboxRecord> back = SandboxRecord::Parse(pod.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->creating);
  EXPECT_FALSE(back->ready);
  EXPECT_FALSE(back->stopped);
}

TEST(SandboxRecordTest, TheInfraIdentityRoundTrips) {
  SandboxRecord pod;
  pod.id = "pod";
  pod.infra_pid = 4242;
  pod.infra_start_time = 987654321;
  absl::StatusOr<SandboxRecord> back = SandboxRecord::Parse(pod.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Infra(), (ProcessIdentity{4242, 987654321}));
}

TEST(SandboxRecordTest, TheUserNamespaceRoundTrips) {
  SandboxRecord r;
  r.id = "p";
  r.namespaces.user = "/run/ocid/ns/user/p";
  r.userns = UserNamespaceMappings{{{0, 65536, 65536}, {65536, 1 << 20, 10}}, {{0, 131072, 65536}}};
  absl::StatusOr<SandboxRecord> back = SandboxRecord::Parse(r.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->namespaces.user, "/run/ocid/ns/user/p");
  ASSERT_TRUE(back->userns.has_value());
  EXPECT_EQ(*back->userns, *r.userns);

  SandboxRecord host;
  host.id = "h";
  EXPECT_EQ(nlohmann::json::parse(host.Serialize()).count("userns_uid_map"), 0u);
  EXPECT_FALSE(SandboxRecord::Parse(host.Serialize())->userns.has_value());

  nlohmann::json bad = nlohmann::json::parse(r.Serialize());
  bad["userns_gid_map"] = {0, 1};
  absl::StatusOr<SandboxRecord> broken = SandboxRecord::Parse(bad.dump());
  EXPECT_TRUE(absl::IsDataLoss(broken.status())) << broken.status();
  bad["userns_gid_map"] = {0, -1, 1};
  EXPECT_TRUE(absl::IsDataLoss(SandboxRecord::Parse(bad.dump()).status()));
}

TEST(SandboxRecordTest, TheSelinuxLabelsRoundTrip) {
  SandboxRecord pod;
  pod.id = "pod";
  pod.selinux_process_label = "system_u:system_r:container_t:s0:c1,c2";
  pod.selinux_mount_label = "system_u:object_r:container_file_t:s0:c1,c2";
  absl::StatusOr<SandboxRecord> back = SandboxRecord::Parse(pod.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->selinux_process_label, pod.selinux_process_label);
  EXPECT_EQ(back->selinux_mount_label, pod.selinux_mount_label);
}

TEST(SandboxRecordTest, ARecordWithOnlyAnIdLoadsWithDefaults) {
  absl::StatusOr<SandboxRecord> r = SandboxRecord::Parse(R"({"id": "pod"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "pod");
  EXPECT_TRUE(r->ready);
  EXPECT_EQ(r->infra_pid, 0);
  EXPECT_TRUE(r->ips.empty());
  EXPECT_EQ(r->hostname, "");
  EXPECT_EQ(SandboxRecord::Parse(R"({"name": "x"})").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SandboxRecordTest, AWrongTypedKeyIsDataLossNamingIt) {
  absl::StatusOr<SandboxRecord> r = SandboxRecord::Parse(R"({"id": "pod", "ips": "10.0.0.1"})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("\"ips\""), std::string::npos) << r.status();
}

}  // namespace
}  // namespace ocid
