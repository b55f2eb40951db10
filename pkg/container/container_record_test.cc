#include "pkg/container/container_record.h"

#include <cstdlib>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/record_store.h"

namespace ocid {
namespace {

TEST(ContainerRecordTest, RoundTripsThroughAStoreAndItsFiles) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/records";
  RecordStore<ContainerRecord> store(dir);
  ASSERT_TRUE(store.Load().ok());
  ContainerRecord record;
  record.id = "abc123";
  record.sandbox_id = "pod1";
  record.name = "web";
  record.labels = {{"tier", "backend"}};
  record.state = ContainerState::kRunning;
  record.exit_code = 137;
  ASSERT_TRUE(store.Add(record).ok());
  EXPECT_EQ(store.Add(record).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(
      store.Update("abc123", [](ContainerRecord& r) { r.state = ContainerState::kExited; }).ok());
  EXPECT_EQ(store.Update("nope", [](ContainerRecord&) {}).status().code(),
            absl::StatusCode::kNotFound);

  RecordStore<ContainerRecord> reloaded(dir);
  ASSERT_TRUE(reloaded.Load().ok());
  auto loaded = reloaded.Get("abc");  // unique prefix
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->state, ContainerState::kExited);
  EXPECT_EQ(loaded->labels.at("tier"), "backend");
  EXPECT_EQ(loaded->exit_code, 137);
  EXPECT_TRUE(reloaded.WaitFor(
      "abc123", [](const ContainerRecord& r) { return r.state == ContainerState::kExited; },
      absl::Milliseconds(10)));
  ASSERT_TRUE(reloaded.Remove("abc123").ok());
  EXPECT_TRUE(reloaded.Remove("abc123").ok());
  EXPECT_FALSE(reloaded.Get("abc").has_value());
  EXPECT_FALSE(ContainerRecord::Parse("{\"id\": 3}").ok());
}

// What Serialize wrote before records had a version (commit fa19ce9).
TEST(ContainerRecordTest, LoadsARecordInTheLayoutBeforeVersions) {
  absl::StatusOr<std::string> text =
      ReadFileToString("pkg/container/testdata/container_record_v0.json", 1 << 20);
  ASSERT_TRUE(text.ok()) << text.status();
  ASSERT_EQ(text->find("version"), std::string::npos);
  absl::StatusOr<ContainerRecord> r = ContainerRecord::Parse(*text);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "8f1c0d2e4b6a");
  EXPECT_EQ(r->sandbox_id, "5e7a9c1b3d2f");
  EXPECT_EQ(r->name, "web");
  EXPECT_EQ(r->attempt, 2u);
  EXPECT_EQ(r->state, ContainerState::kExited);
  EXPECT_FALSE(r->creating) << "a record from before intents were kept was made in full";
  EXPECT_EQ(r->created_at, 1700000000000000000);
  EXPECT_EQ(r->started_at, 1700000001000000000);
  EXPECT_EQ(r->finished_at, 1700000002000000000);
  EXPECT_EQ(r->exit_code, 137);
  EXPECT_EQ(r->reason, "Error");
  EXPECT_EQ(r->message, "killed");
  EXPECT_EQ(r->labels.at("tier"), "backend");
  EXPECT_EQ(r->annotations.at("note"), "x");
  EXPECT_EQ(r->config_json, "{\"metadata\":{\"name\":\"web\",\"attempt\":2}}");
  EXPECT_EQ(r->image_id, "sha256:aaaa");
  EXPECT_EQ(r->image_name, "docker.io/library/busybox:latest");
  EXPECT_EQ(r->image_ref, "docker.io/library/busybox@sha256:bbbb");
  EXPECT_EQ(r->runtime_handler, "runc");
  EXPECT_EQ(r->bundle, "/run/ocid/containers/8f1c0d2e4b6a");
  EXPECT_EQ(r->rootfs, "/var/lib/ocid/overlay/8f1c0d2e4b6a/merged");
  EXPECT_EQ(r->overlay_dir, "/var/lib/ocid/overlay/8f1c0d2e4b6a");
  EXPECT_EQ(r->log_path, "/var/log/pods/web_2.log");
  EXPECT_EQ(r->exit_dir, "/run/ocid/exits");
  EXPECT_EQ(r->persist_dir, "/var/lib/ocid/containers/8f1c0d2e4b6a");
  EXPECT_EQ(r->conmon_pid, 4242);
  EXPECT_EQ(r->pid, 4243);
  EXPECT_EQ(r->stop_signal, "SIGTERM");
  // Written back, it carries the version and reads the same.
  EXPECT_EQ(nlohmann::json::parse(r->Serialize()).at("version"), 1);
  EXPECT_EQ(ContainerRecord::Parse(r->Serialize())->Serialize(), r->Serialize());
}

TEST(ContainerRecordTest, ARecordWithOnlyAnIdLoadsWithDefaults) {
  absl::StatusOr<ContainerRecord> r = ContainerRecord::Parse(R"({"id": "abc"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "abc");
  EXPECT_EQ(r->state, ContainerState::kCreated);
  EXPECT_EQ(r->conmon_pid, 0);
  EXPECT_TRUE(r->labels.empty());
  EXPECT_EQ(ContainerRecord::Parse("{}").status().code(), absl::StatusCode::kDataLoss);
}

TEST(ContainerRecordTest, TheUserRoundTripsAndIsUnknownWhenMissing) {
  ContainerRecord c;
  c.id = "c1";
  c.uid = 1000;
  c.gid = 2000;
  c.supplemental_groups = {3000, 4000};
  absl::StatusOr<ContainerRecord> back = ContainerRecord::Parse(c.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->uid, 1000);
  EXPECT_EQ(back->gid, 2000);
  EXPECT_EQ(back->supplemental_groups, (std::vector<int64_t>{3000, 4000}));
  absl::StatusOr<ContainerRecord> old = ContainerRecord::Parse(R"({"id": "c2"})");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->uid, -1) << "a record from before the user was kept";
  EXPECT_FALSE(ContainerRecord::Parse(R"({"id": "c3", "supplemental_groups": ["x"]})").ok());
}

TEST(ContainerRecordTest, AWrongTypedKeyIsDataLossNamingIt) {
  absl::StatusOr<ContainerRecord> r =
      ContainerRecord::Parse(R"({"id": "abc", "exit_code": "137"})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("\"exit_code\""), std::string::npos) << r.status();
  r = ContainerRecord::Parse(R"({"id": "abc", "state": 9})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("\"state\""), std::string::npos) << r.status();
}

TEST(ContainerRecordTest, CreatingRoundTripsAndIsFalseWhenMissing) {
  ContainerRecord record;
  record.id = "c";
  record.creating = true;
  absl::StatusOr<ContainerRecord> back = ContainerRecord::Parse(record.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->creating);
  absl::StatusOr<ContainerRecord> old =
      ContainerRecord::Parse(R"({"version": 1, "id": "c", "state": 1})");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->creating);
  EXPECT_EQ(old->state, ContainerState::kRunning);
}

}  // namespace
}  // namespace ocid
