#include "pkg/config/config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

std::string MakeTempDir() {
  std::string pattern = absl::StrCat(std::getenv("TEST_TMPDIR"), "/cfg.XXXXXX");
  return ::mkdtemp(pattern.data());
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ConfigTest, DefaultsAreValid) { EXPECT_TRUE(Validate(Config{}).ok()); }

TEST(ConfigTest, MergeSetsKnownKeysAndKeepsTheRest) {
  Config config;
  ASSERT_TRUE(MergeToml(R"(
[ocid]
root = "/srv/ocid"
[ocid.api]
listen = "/tmp/x.sock"
grpc_max_recv_msg_size = 1024
[ocid.runtime.runtimes.kata]
runtime_path = "/usr/bin/kata"
runtime_root = "/run/kata"
[ocid.network]
plugin_dirs = ["/a", "/b"]
)",
                        "test.conf", config)
                  .ok());
  EXPECT_EQ(config.root, "/srv/ocid");
  EXPECT_EQ(config.listen, "/tmp/x.sock");
  EXPECT_EQ(config.grpc_max_recv_msg_size, 1024);
  EXPECT_EQ(config.runroot, "/run/ocid");
  ASSERT_EQ(config.runtimes.size(), 3u);
  EXPECT_EQ(config.runtimes["kata"].path, "/usr/bin/kata");
  EXPECT_EQ(config.runtimes["runc"].path, "/usr/sbin/runc");
  EXPECT_EQ(config.plugin_dirs, (std::vector<std::string>{"/a", "/b"}));
}

TEST(ConfigTest, UnknownKeyNamesFileLineAndKey) {
  Config config;
  absl::Status status = MergeToml("[ocid]\nroot = \"/x\"\n[ocid.api]\nlisten_on = \"/y\"\n",
                                  "/etc/ocid/ocid.conf", config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("/etc/ocid/ocid.conf:4"));
  EXPECT_THAT(status.message(), HasSubstr("unknown key \"ocid.api.listen_on\""));
  EXPECT_EQ(config, Config{}) << "a failed merge must change nothing";
}

TEST(ConfigTest, WrongTypeNamesTheKey) {
  Config config;
  absl::Status status = MergeToml("[ocid]\n\nlog_level = 3\n", "a.conf", config);
  EXPECT_THAT(status.message(), HasSubstr("a.conf:3"));
  EXPECT_THAT(status.message(), HasSubstr("\"ocid.log_level\" must be a string"));
  status = MergeToml("[ocid.network]\nplugin_dirs = [\"/a\", 2]\n", "b.conf", config);
  EXPECT_THAT(status.message(), HasSubstr("\"ocid.network.plugin_dirs\" must be an array"));
  status = MergeToml("ocid = 1\n", "c.conf", config);
  EXPECT_THAT(status.message(), HasSubstr("\"ocid\" must be a table"));
}

TEST(ConfigTest, SyntaxErrorNamesFileAndLine) {
  Config config;
  absl::Status status = MergeToml("[ocid]\nroot = \n", "broken.conf", config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("broken.conf:2"));
}

TEST(ConfigTest, DropInsOverrideInLexicalOrder) {
  std::string dir = MakeTempDir();
  std::string dropins = dir + "/ocid.conf.d";
  ASSERT_EQ(::mkdir(dropins.c_str(), 0755), 0);
  WriteFile(dir + "/ocid.conf", "[ocid]\nroot = \"/main\"\nrunroot = \"/main-run\"\n");
  WriteFile(dropins + "/20-b.conf", "[ocid]\nroot = \"/from-b\"\n");
  WriteFile(dropins + "/10-a.conf", "[ocid]\nroot = \"/from-a\"\nlog_level = \"debug\"\n");
  WriteFile(dropins + "/30-ignored.toml", "[ocid]\nroot = \"/ignored\"\n");

  Config config;
  ASSERT_TRUE(MergeFiles(dir + "/ocid.conf", dropins, config).ok());
  EXPECT_EQ(config.root, "/from-b");
  EXPECT_EQ(config.runroot, "/main-run");
  EXPECT_EQ(config.log_level, "debug");
}

TEST(ConfigTest, MissingFilesAreFineButABadDropInIsNamed) {
  std::string dir = MakeTempDir();
  Config config;
  EXPECT_TRUE(MergeFiles(dir + "/none.conf", dir + "/none.d", config).ok());
  EXPECT_EQ(config, Config{});

  WriteFile(dir + "/bad.conf", "[ocid]\nrooot = \"/x\"\n");
  absl::Status status = MergeFiles(dir + "/none.conf", dir, config);
  EXPECT_THAT(status.message(), HasSubstr(dir + "/bad.conf:2"));
}

TEST(ConfigTest, ValidateNamesTheKeyAtFault) {
  Config config;
  config.default_runtime = "kata";
  EXPECT_THAT(Validate(config).message(),
              HasSubstr("ocid.runtime.default_runtime: \"kata\" is not a configured runtime"));
  config = Config{};
  config.root = "relative/dir";
  EXPECT_THAT(Validate(config).message(), HasSubstr("ocid.root"));
  config = Config{};
  config.cgroup_manager = "cgroupv3";
  EXPECT_THAT(Validate(config).message(), HasSubstr("ocid.runtime.cgroup_manager"));
  config = Config{};
  config.log_level = "chatty";
  EXPECT_THAT(Validate(config).message(), HasSubstr("ocid.log_level: log level \"chatty\""));
  config = Config{};
  config.runtimes["runc"].type = "vm";
  EXPECT_THAT(Validate(config).message(), HasSubstr("ocid.runtime.runtimes.runc.runtime_type"));
  config = Config{};
  config.signature_policy_dir = "policies";
  EXPECT_THAT(Validate(config).message(), HasSubstr("ocid.image.signature_policy_dir"));
  config.signature_policy_dir = "";  // none
  EXPECT_TRUE(Validate(config).ok());
  config = Config{};
  config.stream_port = 70000;
  EXPECT_THAT(Validate(config).message(), HasSubstr("ocid.api.stream_port: 70000"));
  config = Config{};
  config.stream_idle_timeout = "forever";
  EXPECT_THAT(Validate(config).message(), HasSubstr("ocid.api.stream_idle_timeout: \"forever\""));
  config.stream_idle_timeout = "30m";
  EXPECT_TRUE(Validate(config).ok());
  config.stream_tls_cert = "/etc/ocid/stream.crt";
  EXPECT_THAT(Validate(config).message(), HasSubstr("stream_tls_cert and stream_tls_key"));
}

TEST(ConfigTest, ToTomlReadsBackToTheSameConfig) {
  Config config;
  config.root = "/srv/\"quoted\" dir";
  config.plugin_dirs = {"/x", "/y"};
  config.runtimes["kata"] = {"/usr/bin/kata", "/run/kata", "oci"};
  config.default_network = "ocid-test";
  config.global_auth_file = "/etc/ocid/auth.json";
  config.signature_policy_dir = "/etc/ocid/namespace-policies";

  Config read_back;
  read_back.runtimes.clear();
  ASSERT_TRUE(MergeToml(ToToml(config), "printed", read_back).ok()) << ToToml(config);
  EXPECT_EQ(read_back, config);
}

// Found by config_fuzzer: handler names that are no bare TOML key were
// printed unquoted ("kata.v2" read back as a nested table, "my runtime" not
// at all), and DEL was printed raw, which TOML forbids in a string.
TEST(ConfigTest, ToTomlQuotesWhatTomlWantsQuoted) {
  Config config;
  config.runtimes["kata.v2"] = {"/usr/bin/kata", "/run/kata", "oci"};
  config.runtimes["my runtime"] = {"/usr/bin/x", "/run/x", "oci"};
  config.root = "/srv/del\x7f";

  Config read_back;
  read_back.runtimes.clear();
  absl::Status status = MergeToml(ToToml(config), "printed", read_back);
  ASSERT_TRUE(status.ok()) << status << "\n" << ToToml(config);
  EXPECT_EQ(read_back, config);
  EXPECT_THAT(ToToml(config), HasSubstr("[ocid.runtime.runtimes.\"kata.v2\"]"));
}

}  // namespace
}  // namespace ocid

namespace ocid {
namespace {

TEST(ConfigTest, ChangedKeysNamesWhatDiffers) {
  Config a, b;
  EXPECT_TRUE(ChangedKeys(a, b).empty());
  b.log_level = "debug";
  b.pinned_images = {"registry.k8s.io/pause*"};
  b.runtimes["kata"].path = "/usr/bin/kata-runtime";
  EXPECT_EQ(ChangedKeys(a, b),
            (std::vector<std::string>{"ocid.log_level", "ocid.image.pinned_images",
                                      "ocid.runtime.runtimes"}));
}

}  // namespace
}  // namespace ocid
