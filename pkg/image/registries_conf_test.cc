#include "pkg/image/registries_conf.h"

#include <sys/stat.h>
#include <unistd.h>

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
      {"\n\nshort-name-mode = \"enforce\"\n",
       "registries.conf:3: key \"short-name-mode\" is \"enforce\"; it must be enforcing, "
       "permissive or disabled"},
      {"short-name-mode = true\n", "key \"short-name-mode\" must be a string"},
      {"credential-helpers = []\n", "registries.conf:1: unknown key \"credential-helpers\""},
      {"aliases = 1\n", "key \"aliases\" must be a table"},
      {"[aliases]\n\"quay.io/busybox\" = \"quay.io/busybox\"\n",
       "registries.conf:2: alias aliases.\"quay.io/busybox\" must be a short name"},
      {"[aliases]\n\"busybox:1\" = \"quay.io/busybox\"\n", "must be a short name"},
      {"[aliases]\n\"Busy\" = \"quay.io/busybox\"\n", "must be a short name"},
      {"[aliases]\n\"busybox\" = \"busybox\"\n",
       "alias aliases.\"busybox\" is \"busybox\"; it must be registry/repository"},
      {"[aliases]\n\"busybox\" = \"quay.io/busybox:1\"\n", "must be registry/repository"},
      {"[aliases]\n\"busybox\" = \"\"\n", "must be registry/repository"},
      {"[aliases]\n\"busybox\" = 3\n", "alias aliases.\"busybox\" must be a string"},
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

TEST(RegistriesConfTest, PermissiveAndDisabledTryEachSearchRegistryInOrder) {
  for (const char* mode : {"permissive", "disabled"}) {
    RegistriesConf conf = MustParse(absl::StrCat(
        "short-name-mode = \"", mode, "\"\n",
        "unqualified-search-registries = [\"quay.io\", \"docker.io\", \"localhost:5000\"]\n"));
    absl::StatusOr<ResolvedName> refs = ResolveCandidates("busybox:1.36", conf);
    ASSERT_TRUE(refs.ok()) << refs.status();
    EXPECT_THAT(Strings(refs->candidates),
                ElementsAre("quay.io/busybox:1.36", "docker.io/library/busybox:1.36",
                            "localhost:5000/busybox:1.36"));
    // Permissive records the one that pulls; disabled never records.
    EXPECT_EQ(refs->record_alias, std::string(mode) == "permissive" ? "busybox" : "") << mode;
  }
}

TEST(RegistriesConfTest, EnforcingRefusesAnAmbiguousShortNameListingTheCandidates) {
  RegistriesConf conf = MustParse("unqualified-search-registries = [\"quay.io\", \"docker.io\"]\n");
  EXPECT_EQ(conf.short_name_mode, ShortNameMode::kEnforcing);  // the default
  absl::StatusOr<ResolvedName> refs = ResolveCandidates("busybox", conf);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refs.status().message()),
              HasSubstr("short name \"busybox\" is ambiguous: it may be quay.io/busybox:latest, "
                        "docker.io/library/busybox:latest"));
  EXPECT_THAT(std::string(refs.status().message()), HasSubstr("short-name-mode is enforcing"));

  // One search registry is no question: it is used, and recorded.
  conf =
      MustParse("short-name-mode = \"enforcing\"\nunqualified-search-registries = [\"quay.io\"]\n");
  refs = ResolveCandidates("busybox", conf);
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(refs->candidates), ElementsAre("quay.io/busybox:latest"));
  EXPECT_EQ(refs->record_alias, "busybox");
}

TEST(RegistriesConfTest, AliasesResolveFirstConfigOverCacheWithTheTagOrDigestGiven) {
  RegistriesConf conf = MustParse(R"(
unqualified-search-registries = ["quay.io", "docker.io"]
[aliases]
"busybox" = "docker.io/busybox"
"ns/app" = "localhost:5000/team/app"
)");
  EXPECT_EQ(conf.aliases.at("busybox"), "docker.io/library/busybox");  // normalized
  const std::string digest = "sha256:" + std::string(64, 'a');
  const std::map<std::string, std::string> cache = {{"busybox", "quay.io/cached/busybox"},
                                                    {"nginx", "quay.io/cached/nginx"}};
  absl::StatusOr<ResolvedName> refs = ResolveCandidates("busybox:1.36", conf, cache);
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(refs->candidates), ElementsAre("docker.io/library/busybox:1.36"));
  EXPECT_EQ(refs->record_alias, "");  // already aliased

  refs = ResolveCandidates("ns/app@" + digest, conf, cache);
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(refs->candidates), ElementsAre("localhost:5000/team/app@" + digest));

  refs = ResolveCandidates("nginx", conf, cache);  // from the cache; enforcing is satisfied
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(refs->candidates), ElementsAre("quay.io/cached/nginx:latest"));

  // An alias into a blocked registry is blocked, not searched around.
  RegistriesConf blocked = MustParse(
      "[aliases]\n\"busybox\" = \"bad.io/busybox\"\n[[registry]]\nlocation = \"bad.io\"\n"
      "blocked = true\n");
  refs = ResolveCandidates("busybox", blocked);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refs.status().message()), HasSubstr("bad.io is blocked"));
}

TEST(RegistriesConfTest, DropInsMergeInLexicalOrderOverTheMainFile) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/dropins";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  std::string path = dir + "/registries.conf";
  std::ofstream(path) << R"(
unqualified-search-registries = ["quay.io"]
short-name-mode = "permissive"
[aliases]
"a" = "quay.io/a"
"b" = "quay.io/b"
[[registry]]
prefix = "quay.io"
location = "main.local"
[[registry]]
prefix = "gcr.io"
location = "gcr.local"
)";
  ASSERT_EQ(mkdir((path + ".d").c_str(), 0755), 0);
  // Applied 10-, then 20-; not-a-conf.txt is not read.
  std::ofstream(path + ".d/20-late.conf") << R"(
short-name-mode = "disabled"
[aliases]
"b" = "docker.io/late/b"
)";
  std::ofstream(path + ".d/10-early.conf") << R"(
short-name-mode = "enforcing"
unqualified-search-registries = ["docker.io", "quay.io"]
[aliases]
"b" = "docker.io/early/b"
"c" = "docker.io/c"
[[registry]]
prefix = "quay.io"
location = "dropin.local"
)";
  std::ofstream(path + ".d/not-a-conf.txt") << "bogus = 1\n";
  absl::StatusOr<RegistriesConf> conf = LoadRegistriesConf(path);
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_THAT(conf->unqualified_search_registries, ElementsAre("docker.io", "quay.io"));
  EXPECT_EQ(conf->short_name_mode, ShortNameMode::kDisabled);
  EXPECT_EQ(conf->aliases.size(), 3u);
  EXPECT_EQ(conf->aliases.at("a"), "quay.io/a");
  EXPECT_EQ(conf->aliases.at("b"), "docker.io/late/b");
  EXPECT_EQ(conf->aliases.at("c"), "docker.io/library/c");
  ASSERT_EQ(conf->registries.size(), 2u);
  EXPECT_EQ(conf->Find("quay.io/x")->location, "dropin.local");
  EXPECT_EQ(conf->Find("gcr.io/x")->location, "gcr.local");

  // A broken drop-in fails the load naming it.
  std::ofstream(path + ".d/30-bad.conf") << "\nshort-name-mode = \"sometimes\"\n";
  conf = LoadRegistriesConf(path);
  ASSERT_FALSE(conf.ok());
  EXPECT_THAT(std::string(conf.status().message()),
              HasSubstr(path + ".d/30-bad.conf:2: key \"short-name-mode\" is \"sometimes\""));

  // Drop-ins apply with no main file too.
  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_EQ(unlink((path + ".d/30-bad.conf").c_str()), 0);
  conf = LoadRegistriesConf(path);
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_THAT(conf->unqualified_search_registries, ElementsAre("docker.io", "quay.io"));
  EXPECT_EQ(conf->aliases.at("b"), "docker.io/late/b");
}

TEST(RegistriesConfTest, MergeLeavesTheConfUnchangedOnError) {
  RegistriesConf conf = MustParse("[aliases]\n\"a\" = \"quay.io/a\"\n");
  absl::Status merged =
      MergeRegistriesConf("[aliases]\n\"b\" = \"quay.io/b\"\n\"c\" = \"c\"\n", "x.conf", conf);
  EXPECT_FALSE(merged.ok());
  EXPECT_EQ(conf.aliases.size(), 1u);
  EXPECT_TRUE(MergeRegistriesConf("short-name-mode = \"permissive\"\n", "y.conf", conf).ok());
  EXPECT_EQ(conf.short_name_mode, ShortNameMode::kPermissive);
  EXPECT_EQ(conf.aliases.size(), 1u);  // a drop-in without [aliases] keeps them
}

TEST(RegistriesConfTest, QualifiedNamesResolveToThemselves) {
  RegistriesConf conf = MustParse("unqualified-search-registries = [\"quay.io\"]\n");
  absl::StatusOr<ResolvedName> refs = ResolveCandidates("docker.io/busybox", conf);
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(refs->candidates), ElementsAre("docker.io/library/busybox:latest"));
  EXPECT_EQ(refs->record_alias, "");
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
  absl::StatusOr<ResolvedName> refs = ResolveCandidates("bad.io/x", conf);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refs.status().message()),
              HasSubstr("registry bad.io is blocked in registries.conf"));

  refs = ResolveCandidates("busybox", conf);  // one unblocked candidate: not ambiguous
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(Strings(refs->candidates), ElementsAre("docker.io/library/busybox:latest"));

  refs = ResolveCandidates("evil", conf);
  EXPECT_EQ(refs.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refs.status().message()), HasSubstr("registry bad.io is blocked"));
}

TEST(RegistriesConfTest, ResolveErrors) {
  RegistriesConf none = MustParse("unqualified-search-registries = []\n");
  absl::StatusOr<ResolvedName> refs = ResolveCandidates("busybox", none);
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
