#include "pkg/streaming/remote_command.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ocid::streaming {
namespace {

TEST(StatusJson, SuccessFailureAndExitCode) {
  nlohmann::json ok = nlohmann::json::parse(StatusJson(absl::OkStatus(), 0));
  EXPECT_EQ(ok["status"], "Success");
  EXPECT_TRUE(ok["metadata"].is_object());

  nlohmann::json exited = nlohmann::json::parse(StatusJson(absl::OkStatus(), 3));
  EXPECT_EQ(exited["status"], "Failure");
  EXPECT_EQ(exited["reason"], "NonZeroExitCode");
  EXPECT_EQ(exited["details"]["causes"][0]["reason"], "ExitCode");
  EXPECT_EQ(exited["details"]["causes"][0]["message"], "3");

  nlohmann::json failed =
      nlohmann::json::parse(StatusJson(absl::FailedPreconditionError("not running"), std::nullopt));
  EXPECT_EQ(failed["status"], "Failure");
  EXPECT_EQ(failed["message"], "not running");
  EXPECT_EQ(failed["reason"], "InternalError");

  // An attach has no exit code: success.
  EXPECT_EQ(nlohmann::json::parse(StatusJson(absl::OkStatus(), std::nullopt))["status"],
            "Success");
}

TEST(ParseResizeEvents, WholeEventsAreTakenAndPartsWait) {
  std::vector<std::pair<uint16_t, uint16_t>> sizes;
  auto record = [&](uint16_t w, uint16_t h) { sizes.emplace_back(w, h); };
  std::string buffer = "{\"Width\":80,\"Height\":24}\n{\"Width\":100,";
  ASSERT_TRUE(ParseResizeEvents(buffer, record).ok());
  ASSERT_EQ(sizes.size(), 1u);
  EXPECT_EQ(sizes[0], std::make_pair(uint16_t{80}, uint16_t{24}));
  EXPECT_EQ(buffer, "{\"Width\":100,");
  buffer += "\"Height\":50}";
  ASSERT_TRUE(ParseResizeEvents(buffer, record).ok());
  ASSERT_EQ(sizes.size(), 2u);
  EXPECT_EQ(sizes[1], std::make_pair(uint16_t{100}, uint16_t{50}));
  EXPECT_TRUE(buffer.empty());
}

TEST(ParseResizeEvents, BadEventsAreErrors) {
  auto ignore = [](uint16_t, uint16_t) {};
  std::string not_json = "{nope}";
  EXPECT_FALSE(ParseResizeEvents(not_json, ignore).ok());
  std::string negative = "{\"Width\":-1,\"Height\":2}";
  EXPECT_FALSE(ParseResizeEvents(negative, ignore).ok());
  std::string huge = "{\"Width\":70000,\"Height\":2}";
  EXPECT_FALSE(ParseResizeEvents(huge, ignore).ok());
  std::string endless(5000, ' ');
  endless[0] = '{';
  EXPECT_FALSE(ParseResizeEvents(endless, ignore).ok());
}

}  // namespace
}  // namespace ocid::streaming
