#include "pkg/container/container_record.h"

#include <cstdlib>

#include "gtest/gtest.h"
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
  ASSERT_TRUE(store.Update("abc123", [](ContainerRecord& r) {
                     r.state = ContainerState::kExited;
                   }).ok());
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

}  // namespace
}  // namespace ocid
