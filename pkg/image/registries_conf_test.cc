#include "pkg/image/registries_conf.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kFile[] = "/etc/containers/registries.conf";

RegistriesConf MustParse(const std::string& text) {
  absl::StatusOr<RegistriesConf> conf = ParseRegistriesConf(text, kFile);
  EXPECT_TRUE(conf.ok()) << conf.status();
  return conf.ok() ? *conf : RegistriesConf();
}

std::vector<std::string> Strings(const std::vector<ImageReference>& refs) {
  std::vector<std::string> out;
  for (const ImageReference& ref : refs) out.push_back(ref.String());
  return out;
}

TEST(RegistriesConfTest, ParsesAllKeys) {
  RegistriesConf conf = MustParse(R"(
unqualified-search-registries = ["quay.io", "docker.io"]

[[registry]]
prefix = "example.com/foo"
location = "internal.example.com/bar"
insecure = true

[[registry.mirror]]
location = "mirror-1.local:5000/foo"
insecure = true

[[registry.mirror]]
location = "mirror-2.local"

[[registry]]
location = "bad.io"
blocked = true
)");
  EXPECT_THAT(conf.unqualified_search_registries, ElementsAre("quay.io", "docker.io"));
  ASSERT_EQ(conf.registries.size(), 2u);
  const RegistryConfig& first = conf.registries[0];
  EXPECT_EQ(first.prefix, "example.com/foo");
  EXPECT_EQ(first.location, "internal.example.com/bar");
  EXPECT_TRUE(first.insecure);
  EXPECT_FALSE(first.blocked);
  ASSERT_EQ(first.mirrors.size(), 2u);
  EXPECT_EQ(first.mirrors[0].location, "mirror-1.local:5000/foo");
  EXPECT_TRUE(first.mirrors[0].insecure);
  EXPECT_EQ(first.mirrors[1].location, "mirror-2.local");
  EXPECT_FALSE(first.mirrors[1].insecure);
  const RegistryConfig& second = conf.registries[1];
  EXPECT_EQ(second.prefix, "bad.io");  // an empty prefix means the location
  EXPECT_EQ(second.location, "bad.io");
  EXPECT_TRUE(second.blocked);
}

TEST(RegistriesConfTest, LocationDefaultsToPrefix) {
  RegistriesConf conf = MustParse("[[registry]]\nprefix = \"quay.io\"\ninsecure = true\n");
  ASSERT_EQ(conf.registries.size(), 1u);
  EXPECT_EQ(conf.registries[0].location, "quay.io");
}

TEST(RegistriesConfTest, EmptyTextSearchesDockerHub) {
  RegistriesConf conf = MustParse("");
  EXPECT_THAT(conf.unqualified_search_registries, ElementsAre("docker.io"));
  EXPECT_TRUE(conf.registries.empty());
  EXPECT_TRUE(
      MustParse("unqualified-search-registries = []\n").unqualified_search_registries.empty());
}

TEST(RegistriesConfTest, FindPicksTheLongestPrefixOnComponentBoundaries) {
  RegistriesConf conf = MustParse(R"(
[[registry]]
prefix = "quay.io"
location = "q1"
[[registry]]
prefix = "quay.io/a/b"
location = "q3"
[[registry]]
prefix = "quay.io/a"
location = "q2"
)");
  auto location = [&](absl::string_view name) -> std::string {
    const RegistryConfig* reg = conf.Find(name);
    return reg == nullptr ? "none" : reg->location;
  };
  EXPECT_EQ(location("quay.io/x"), "q1");
  EXPECT_EQ(location("quay.io/a"), "q2");
  EXPECT_EQ(location("quay.io/a/c"), "q2");
  EXPECT_EQ(location("quay.io/a/b"), "q3");
  EXPECT_EQ(location("quay.io/a/b/c"), "q3");
  EXPECT_EQ(location("quay.io/ab"), "q1");
  EXPECT_EQ(location("quay.iox/a"), "none");
  EXPECT_EQ(location("docker.io/library/busybox"), "none");
}

struct BadConf {
  std::string text;
  std::string error;  // a substring of the message
};

TEST(RegistriesConfTest, ErrorsNameFileLineAndKey) {
  const std::vector<BadConf> cases = {
      {"\n\nshort-name-mode = \"enforcing\"\n",
       "registries.conf:3: unknown key \"short-name-mode\""},
      {"[[registry]]\nlocation = \"a.io\"\nmirrors = []\n",
       "registries.conf:3: unknown key \"registry.mirrors\""},
      {"[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\nfoo = 1\n",
       "registries.conf:5: unknown key \"registry.mirror.foo\""},
      {"[registries.search]\nregistries = []\n", "version 1 format is not supported"},
      {"unqualified-search-registries = \"docker.io\"\n",
       "registries.conf:1: key \"unqualified-search-registries\" must be an array"},
      {"unqualified-search-registries = [\"quay\"]\n", "\"quay\", which is not a registry"},
      {"unqualified-search-registries = [\"quay.io/ns\"]\n", "not a registry host"},
      {"[[registry]]\nlocation = \"a.io\"\ninsecure = \"yes\"\n",
       "registries.conf:3: key \"registry.insecure\" must be a boolean"},
      {"[[registry]]\nprefix = 5\n", "key \"registry.prefix\" must be a string"},
      {"[registry]\nlocation = \"a.io\"\n", "must be an array of tables"},
      {"\n[[registry]]\ninsecure = true\n", "registries.conf:2: a [[registry]] needs a prefix"},
      {"[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\ninsecure = true\n",
       "a mirror needs a location"},
      {"[[registry]]\nprefix = \"*.example.com\"\n", "wildcard prefixes are not supported"},
      {"[[registry]]\nlocation = \"https://a.io\"\n", "must not have a scheme"},
      {"[[registry]]\nlocation = \"a.io\"\n[[registry]]\nprefix = \"a.io\"\n",
       "registries.conf:3: prefix \"a.io\" is configured twice"},
      {"unqualified-search-registries = [\n", "registries.conf:"},
  };
  for (const BadConf& c : cases) {
    absl::StatusOr<RegistriesConf> conf = ParseRegistriesConf(c.text, kFile);
    ASSERT_FALSE(conf.ok()) << c.text;
    EXPECT_EQ(conf.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(conf.status().message()), HasSubstr(kFile)) << c.text;
    EXPECT_THAT(std::string(conf.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(RegistriesConfTest, LoadReadsAFileAndTreatsAMissingOneAsDefaults) {
  std::string dir = std::getenv("TEST_TMPDIR");
  std::string path = dir + "/registries.conf";
  std::ofstream(path) << "unqualified-search-registries = [\"quay.io\"]\nbogus = 1\n";
  absl::StatusOr<RegistriesConf> conf = LoadRegistriesConf(path);
  ASSERT_FALSE(conf.ok());
  EXPECT_THAT(std::string(conf.status().message()), HasSubstr(path + ":2: unknown key \"bogus\""));

  std::ofstream(path) << "unqualified-search-registries = [\"quay.io\"]\n";
  conf = LoadRegistriesConf(path);
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_THAT(conf->unqualified_search_registries, ElementsAre("quay.io"));

  conf = LoadRegistriesConf(dir + "/does-not-exist.conf");
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_THAT(conf->unqualified_search_registries, ElementsAre("docker.io"));
  EXPECT_TRUE(conf->registries.empty());

  conf = LoadRegistriesConf(dir);  // a directory cannot be read
  EXPECT_FALSE(conf.ok());
}

TEST(RegistriesConfTest, ShortNamesTryEachSearchRegistryInOrder) {
  RegistriesConf conf = MustParse(
      "unqualified-search-registries = [\"quay.io\", \"docker.io\", \"localhost:5000\"]\n");
  absl::StatusOr<std::vector<ImageReference>> refs = ResolveCandidates("busybox:1.36", conf);
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(*refs), ElementsAre("quay.io/busybox:1.36", "docker.io/library/busybox:1.36",
                                          "localhost:5000/busybox:1.36"));
}

TEST(RegistriesConfTest, QualifiedNamesResolveToThemselves) {
  RegistriesConf conf = MustParse("unqualified-search-registries = [\"quay.io\"]\n");
  absl::StatusOr<std::vector<ImageReference>> refs = ResolveCandidates("docker.io/busybox", conf);
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(*refs), ElementsAre("docker.io/library/busybox:latest"));
}

TEST(RegistriesConfTest, BlockedRegistriesAreRefusedOrSkipped) {
  RegistriesConf conf = MustParse(R"(
unqualified-search-registries = ["bad.io", "docker.io"]
[[registry]]
location = "bad.io"
blocked = true
[[registry]]
prefix = "docker.io/library/evil"
blocked = true
)");
  absl::StatusOr<std::vector<ImageReference>> refs = ResolveCandidates("bad.io/x", conf);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refs.status().message()),
              HasSubstr("registry bad.io is blocked in registries.conf"));

  refs = ResolveCandidates("busybox", conf);
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(*refs), ElementsAre("docker.io/library/busybox:latest"));

  refs = ResolveCandidates("evil", conf);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refs.status().message()), HasSubstr("registry bad.io is blocked"));
}

TEST(RegistriesConfTest, ResolveErrors) {
  RegistriesConf none = MustParse("unqualified-search-registries = []\n");
  absl::StatusOr<std::vector<ImageReference>> refs = ResolveCandidates("busybox", none);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refs.status().message()), HasSubstr("short name \"busybox\""));

  refs = ResolveCandidates("Busybox", RegistriesConf());
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kInvalidArgument);

  RegistriesConf in_code;
  in_code.unqualified_search_registries = {"quay"};
  refs = ResolveCandidates("busybox", in_code);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refs.status().message()), HasSubstr("\"quay\" is not a registry host"));
}

}  // namespace
}  // namespace ocid
