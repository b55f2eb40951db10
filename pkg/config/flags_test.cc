#include "pkg/config/flags.h"

#include "gtest/gtest.h"

namespace ocid {
namespace {

TEST(FlagsTest, OverridesApplyAfterFilesInOrder) {
  auto command_line = ParseCommandLine({"--root=/r", "--listen", "/s.sock", "--debug",
                                        "--cni-plugin-dir", "/p1", "--cni-plugin-dir=/p2",
                                        "--runtime", "/opt/runc", "config"});
  ASSERT_TRUE(command_line.ok()) << command_line.status();
  EXPECT_EQ(command_line->positional, std::vector<std::string>{"config"});

  Config config;
  ASSERT_TRUE(ApplyOverrides(*command_line, config).ok());
  EXPECT_EQ(config.root, "/r");
  EXPECT_EQ(config.listen, "/s.sock");
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.plugin_dirs, (std::vector<std::string>{"/p1", "/p2"}));
  EXPECT_EQ(config.runtimes["runc"].path, "/opt/runc");
}

TEST(FlagsTest, RuntimePathGoesToTheDefaultHandlerWhereverItStands) {
  auto command_line = ParseCommandLine({"--runtime", "/opt/crun", "--default-runtime", "crun"});
  ASSERT_TRUE(command_line.ok());
  Config config;
  ASSERT_TRUE(ApplyOverrides(*command_line, config).ok());
  EXPECT_EQ(config.runtimes["crun"].path, "/opt/crun");
  EXPECT_EQ(config.runtimes["runc"].path, "/usr/sbin/runc");
}

TEST(FlagsTest, ConfigLocationFlagsAreNotOverrides) {
  auto command_line = ParseCommandLine({"--config", "/x.conf", "--config-dir=/x.d"});
  ASSERT_TRUE(command_line.ok());
  EXPECT_EQ(command_line->config_file, "/x.conf");
  EXPECT_EQ(command_line->config_dir, "/x.d");
  EXPECT_TRUE(command_line->overrides.empty());

  command_line = ParseCommandLine({});
  EXPECT_EQ(command_line->config_file, kDefaultConfigFile);
}

TEST(FlagsTest, BadFlagsAreNamed) {
  EXPECT_EQ(ParseCommandLine({"--no-such-flag"}).status().message(),
            "unknown flag --no-such-flag");
  EXPECT_EQ(ParseCommandLine({"--listen"}).status().message(), "flag --listen needs a value");
  EXPECT_EQ(ParseCommandLine({"--debug=loud"}).status().message(),
            "flag --debug takes no value (got \"loud\")");
}

TEST(FlagsTest, IntegerFlagsTakeOnlyIntegers) {
  auto command_line = ParseCommandLine({"--grpc-max-recv-msg-size=1024"});
  ASSERT_TRUE(command_line.ok());
  Config config;
  ASSERT_TRUE(ApplyOverrides(*command_line, config).ok());
  EXPECT_EQ(config.grpc_max_recv_msg_size, 1024);

  command_line = ParseCommandLine({"--grpc-max-send-msg-size", "16M"});
  ASSERT_TRUE(command_line.ok());
  EXPECT_EQ(ApplyOverrides(*command_line, config).message(),
            "flag --grpc-max-send-msg-size: \"16M\" is not an integer");
  EXPECT_EQ(config.grpc_max_send_msg_size, Config{}.grpc_max_send_msg_size);
}

TEST(FlagsTest, HelpAndVersion) {
  auto command_line = ParseCommandLine({"--help", "-version"});
  ASSERT_TRUE(command_line.ok());
  EXPECT_TRUE(command_line->help);
  EXPECT_TRUE(command_line->version);
  EXPECT_NE(FlagUsage().find("--cni-config-dir"), std::string::npos);
}

TEST(FlagsTest, BooleanFlagsAloneMeanTrueAndAMetricsPortTurnsMetricsOn) {
  Config config;
  auto command_line = ParseCommandLine({"--enable-metrics", "--metrics-required"});
  ASSERT_TRUE(command_line.ok()) << command_line.status();
  ASSERT_TRUE(ApplyOverrides(*command_line, config).ok());
  EXPECT_TRUE(config.enable_metrics);
  EXPECT_TRUE(config.metrics_required);

  command_line = ParseCommandLine({"--enable-metrics=false"});  // over a file's true
  ASSERT_TRUE(command_line.ok()) << command_line.status();
  ASSERT_TRUE(ApplyOverrides(*command_line, config).ok());
  EXPECT_FALSE(config.enable_metrics);

  command_line = ParseCommandLine({"--metrics-port", "9191"});
  ASSERT_TRUE(command_line.ok()) << command_line.status();
  ASSERT_TRUE(ApplyOverrides(*command_line, config).ok());
  EXPECT_TRUE(config.enable_metrics) << "the port alone asks for metrics";
  EXPECT_EQ(config.metrics_port, 9191);

  EXPECT_EQ(ParseCommandLine({"--enable-metrics=yes"}).status().message(),
            "flag --enable-metrics takes no value (got \"yes\")");
}

}  // namespace
}  // namespace ocid
