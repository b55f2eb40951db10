#include "pkg/base/record_json.h"

#include "gtest/gtest.h"

namespace ocid {
namespace {

struct Fields {
  std::string id, name = "unset";
  bool ready = true;
  int64_t big = -1;
  int32_t small = -1;
  uint32_t count = 7;
  std::vector<std::string> list = {"default"};
  std::map<std::string, std::string> map = {{"k", "default"}};
};

absl::StatusOr<Fields> Read(const std::string& text) {
  absl::StatusOr<RecordReader> in = RecordReader::Parse(text, "test");
  if (!in.ok()) return in.status();
  Fields f;
  in->Require("id", f.id);
  in->Read("name", f.name);
  in->Read("ready", f.ready);
  in->Read("big", f.big);
  in->Read("small", f.small);
  in->Read("count", f.count);
  in->Read("list", f.list);
  in->Read("map", f.map);
  if (!in->status().ok()) return in->status();
  return f;
}

TEST(RecordReaderTest, MissingKeysKeepTheirDefaults) {
  absl::StatusOr<Fields> f = Read(R"({"id": "a"})");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->id, "a");
  EXPECT_EQ(f->name, "unset");
  EXPECT_TRUE(f->ready);
  EXPECT_EQ(f->big, -1);
  EXPECT_EQ(f->count, 7u);
  EXPECT_EQ(f->list, std::vector<std::string>{"default"});
  EXPECT_EQ(f->map.at("k"), "default");
}

TEST(RecordReaderTest, PresentKeysAreRead) {
  absl::StatusOr<Fields> f = Read(
      R"({"id": "a", "name": "n", "ready": false, "big": -9000000000, "small": -5,
          "count": 4294967295, "list": [], "map": {"x": "y"}})");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->name, "n");
  EXPECT_FALSE(f->ready);
  EXPECT_EQ(f->big, -9000000000);
  EXPECT_EQ(f->small, -5);
  EXPECT_EQ(f->count, 4294967295u);
  EXPECT_TRUE(f->list.empty());
  EXPECT_EQ(f->map, (std::map<std::string, std::string>{{"x", "y"}}));
}

TEST(RecordReaderTest, AWrongTypedKeyIsDataLossNamingIt) {
  struct Case {
    const char* json;
    const char* key;
  } cases[] = {
      {R"({"id": 3})", "\"id\""},
      {R"({"id": "a", "name": 1})", "\"name\""},
      {R"({"id": "a", "ready": 1})", "\"ready\""},
      {R"({"id": "a", "big": "1"})", "\"big\""},
      {R"({"id": "a", "big": 1.5})", "\"big\""},
      {R"({"id": "a", "small": 4294967296})", "\"small\""},
      {R"({"id": "a", "count": -1})", "\"count\""},
      {R"({"id": "a", "list": ["x", 1]})", "\"list\""},
      {R"({"id": "a", "map": {"x": 1}})", "\"map\""},
      {R"({"id": "a", "map": [["x", "y"]]})", "\"map\""},
      {R"({"id": "a", "version": "1"})", "\"version\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Fields> f = Read(c.json);
    EXPECT_EQ(f.status().code(), absl::StatusCode::kDataLoss) << c.json;
    EXPECT_NE(f.status().message().find(c.key), std::string::npos) << f.status();
  }
}

TEST(RecordReaderTest, TheIdIsRequiredAndTheTextMustBeAnObject) {
  EXPECT_EQ(Read(R"({"name": "n"})").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Read("[]").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Read("{").status().code(), absl::StatusCode::kDataLoss);
}

TEST(RecordReaderTest, VersionIsZeroWhenMissingAndANewerOneStillLoads) {
  EXPECT_EQ(RecordReader::Parse("{}", "test")->version(), 0);
  EXPECT_EQ(RecordReader::Parse(R"({"version": 1})", "test")->version(), 1);
  absl::StatusOr<Fields> f = Read(R"({"version": 99, "id": "a", "name": "n", "later": {}})");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->name, "n");
}

}  // namespace
}  // namespace ocid
