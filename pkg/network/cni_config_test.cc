#include "pkg/network/cni_config.h"

#include <stdlib.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

class CniConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = absl::StrCat(getenv("TEST_TMPDIR"), "/cni.XXXXXX");
    dir_ = mkdtemp(pattern.data());
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(CniConfigTest, FirstValidConfigInLexicalOrderWins) {
  Write("30-list.conflist",
        R"({"cniVersion":"1.0.0","name":"listnet","plugins":[{"type":"bridge"}]})");
  Write("20-broken.conf", "{ not json");
  Write("25-noname.conf", R"({"type":"bridge"})");
  Write("40-plain.conf", R"({"cniVersion":"0.4.0","name":"plain","type":"bridge"})");
  Write("README", "not a config");

  auto scan = ScanCniConfigDir(dir_);
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->networks.size(), 2u);
  EXPECT_EQ(scan->networks[0].name, "listnet");
  EXPECT_EQ(scan->networks[0].cni_version, "1.0.0");
  EXPECT_EQ(scan->skipped.size(), 2u);

  auto network = FindDefaultNetwork(dir_, "");
  ASSERT_TRUE(network.ok());
  EXPECT_EQ(network->name, "listnet");
  EXPECT_EQ(FindDefaultNetwork(dir_, "plain")->file, dir_ + "/40-plain.conf");
}

TEST_F(CniConfigTest, NoValidConfigNamesDirAndReasons) {
  Write("10-empty.conflist", R"({"name":"x","plugins":[]})");
  auto network = FindDefaultNetwork(dir_, "");
  EXPECT_EQ(network.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(network.status().message(), HasSubstr(dir_));
  EXPECT_THAT(network.status().message(), HasSubstr("10-empty.conflist: no \"plugins\" list"));

  EXPECT_EQ(FindDefaultNetwork(dir_ + "/missing", "").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ocid
