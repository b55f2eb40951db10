#include "pkg/server/stream_batches.h"

#include "gtest/gtest.h"

namespace ocid {
namespace {

struct FakeResponse {
  std::vector<std::string> items;
};

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(std::to_string(i));
  return keys;
}

std::vector<size_t> BatchSizes(int keys) {
  std::vector<size_t> sizes;
  absl::Status status = WriteInBatchesTo<FakeResponse, std::string>(
      [&](const FakeResponse& response) {
        sizes.push_back(response.items.size());
        return true;
      },
      Keys(keys),
      [](const std::string& key, FakeResponse& response) { response.items.push_back(key); });
  EXPECT_TRUE(status.ok()) << status;
  return sizes;
}

TEST(StreamBatchesTest, AtMostOneHundredItemsPerMessage) {
  EXPECT_EQ(BatchSizes(0), std::vector<size_t>{}) << "nothing to send: no message";
  EXPECT_EQ(BatchSizes(1), std::vector<size_t>{1});
  EXPECT_EQ(BatchSizes(100), std::vector<size_t>{100});
  EXPECT_EQ(BatchSizes(250), (std::vector<size_t>{100, 100, 50}));
}

TEST(StreamBatchesTest, KeysGoneMeanwhileAreLeftOutAndAClientThatLeftStopsIt) {
  int writes = 0;
  absl::Status status = WriteInBatchesTo<FakeResponse, std::string>(
      [&](const FakeResponse& response) {
        EXPECT_EQ(response.items.size(), 50u) << "the odd keys are gone";
        return ++writes < 2;  // the client leaves after the second message
      },
      Keys(400),
      [](const std::string& key, FakeResponse& response) {
        if (std::stoi(key) % 2 == 0) response.items.push_back(key);
      });
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
  EXPECT_EQ(writes, 2) << "nothing built or sent after the client left";
}

}  // namespace
}  // namespace ocid
