#include <cstdlib>

#include "api/runtime/v1/api.pb.h"
#include "cmd/ocic/args.h"
#include "cmd/ocic/client.h"
#include "cmd/ocic/commands.h"
#include "cmd/ocic/output.h"
#include "gtest/gtest.h"

namespace ocid::ocic {
namespace {

TEST(ArgsTest, WordsFlagsAndTheCommandAfterDashes) {
  auto args = ParseArgs({"--connect", "/x.sock", "ctr", "exec", "--id=abc", "--verbose", "--",
                         "ls", "-l", "/"});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->words, (std::vector<std::string>{"ctr", "exec"}));
  EXPECT_EQ(args->Flag("connect"), "/x.sock");
  EXPECT_EQ(args->Flag("id"), "abc");
  EXPECT_TRUE(args->Has("verbose"));
  EXPECT_EQ(args->rest, (std::vector<std::string>{"ls", "-l", "/"}));
  EXPECT_FALSE(args->Flag("pod").has_value());
}

TEST(ArgsTest, RepeatedFlagsKeepOrderAndMissingValuesAreNamed) {
  auto args = ParseArgs({"pod", "list", "--label", "a=1", "--label=b=2"});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->Flags("label"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(ParseArgs({"pod", "status", "--id"}).status().message(), "flag --id needs a value");
  EXPECT_EQ(ParseArgs({"--quiet=yes"}).status().message(), "flag --quiet takes no value");
}

TEST(ArgsTest, InteractiveAndTtyFlagsTakeNoValue) {
  auto args = ParseArgs({"ctr", "exec", "-it", "--id", "abc", "--", "sh"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->Flag("id"), "abc") << "-it must not swallow --id";
  EXPECT_TRUE(args->Has("it"));
  EXPECT_EQ(args->rest, (std::vector<std::string>{"sh"}));
  args = ParseArgs({"ctr", "attach", "-i", "-t", "--id", "x"});
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->Has("i") && args->Has("t"));
  EXPECT_EQ(args->Flag("id"), "x");
}

TEST(CommandsTest, EverySeedCommandExists) {
  for (const char* name :
       {"version", "info", "pod run", "pod status", "pod stop", "pod remove", "pod list",
        "pod stats", "ctr create", "ctr start", "ctr status", "ctr stop", "ctr remove",
        "ctr list", "ctr exec", "ctr logs", "ctr stats", "image pull", "image list",
        "image status", "image remove", "ctr attach", "pod port-forward"}) {
    std::vector<std::string> words;
    for (const char* at = name; *at;) {
      const char* space = strchr(at, ' ');
      words.emplace_back(at, space ? space - at : strlen(at));
      at = space ? space + 1 : at + strlen(at);
    }
    words.push_back("operand");
    size_t used = 0;
    const Command* command = FindCommand(words, used);
    ASSERT_NE(command, nullptr) << name;
    EXPECT_EQ(command->name, name);
    EXPECT_EQ(used, words.size() - 1) << name;
  }
  size_t used = 0;
  EXPECT_EQ(FindCommand({"pod", "explode"}, used), nullptr);
}

TEST(CommandsTest, ReadsCrictlStyleConfigs) {
  runtime::v1::PodSandboxConfig pod;
  absl::Status loaded = LoadJsonConfig("config", "e2e/testdata/sandbox_config.json", pod);
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_EQ(pod.metadata().name(), "podsandbox1");
  EXPECT_EQ(pod.metadata().namespace_(), "redhat.test.ocid");
  EXPECT_EQ(pod.metadata().attempt(), 1u);
  EXPECT_EQ(pod.log_directory(), "/var/log/ocid/pods/redhat-test-ocid");
  EXPECT_EQ(pod.linux().security_context().namespace_options().pid(),
            runtime::v1::NamespaceMode::CONTAINER);
  EXPECT_EQ(pod.labels().at("group"), "test");

  runtime::v1::ContainerConfig container;
  loaded = LoadJsonConfig("config", "e2e/testdata/container_busybox.json", container);
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_EQ(container.image().image(), "busybox:latest");
  EXPECT_EQ(container.linux().resources().memory_limit_in_bytes(), 67108864);
  EXPECT_EQ(container.envs(1).value(), "hello from ocid");

  // camelCase (proto3 JSON) and unknown fields are accepted too.
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/camel.json";
  FILE* file = fopen(path.c_str(), "w");
  fputs(R"({"metadata":{"name":"x"},"logDirectory":"/l","futureField":{"a":1}})", file);
  fclose(file);
  runtime::v1::PodSandboxConfig camel;
  ASSERT_TRUE(LoadJsonConfig("config", path, camel).ok());
  EXPECT_EQ(camel.log_directory(), "/l");

  absl::Status missing = LoadJsonConfig("config", "/no/such.json", camel);
  EXPECT_EQ(missing.message(), "--config: cannot read /no/such.json");
  file = fopen(path.c_str(), "w");
  fputs(R"({"metadata": 7})", file);
  fclose(file);
  EXPECT_EQ(LoadJsonConfig("pod-config", path, camel).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CommandsTest, LabelsMustBeKeyValue) {
  google::protobuf::Map<std::string, std::string> selector;
  EXPECT_TRUE(ParseLabels({"a=1", "b="}, selector).ok());
  EXPECT_EQ(selector.at("a"), "1");
  EXPECT_EQ(selector.at("b"), "");
  EXPECT_EQ(ParseLabels({"=x"}, selector).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLabels({"novalue"}, selector).code(), absl::StatusCode::kInvalidArgument);
}

TEST(OutputTest, TablesTimesAndEndpoints) {
  Table table({"ID", "NAME"});
  table.AddRow({"abcdef", "x"});
  EXPECT_EQ(table.Render(), "ID       NAME\nabcdef   x\n");
  EXPECT_EQ(FormatNanos(0), "");
  EXPECT_EQ(FormatNanos(1500000000LL * 1000000000LL + 5), "2017-07-14T02:40:00.000000005Z");
  EXPECT_EQ(FormatBytes(999), "999B");
  EXPECT_EQ(FormatBytes(1500000), "1.5MB");
  EXPECT_EQ(ShortId("0123456789abcdef"), "0123456789abc");
  EXPECT_EQ(FormatPullProgress(3, 9, 105000000, 210000000, 2.0),
            "[##########----------] 3/9 layers  105MB/210MB  52.5MB/s");
  EXPECT_EQ(FormatPullProgress(0, 0, 0, 0, 0), "[--------------------] 0/0 layers  0B/0B  0B/s");

  EXPECT_EQ(*SocketPathOf("unix:///run/ocid/ocid.sock"), "/run/ocid/ocid.sock");
  EXPECT_EQ(*SocketPathOf("/run/x.sock"), "/run/x.sock");
  EXPECT_FALSE(SocketPathOf("tcp://1.2.3.4:5").ok());
}

}  // namespace
}  // namespace ocid::ocic
