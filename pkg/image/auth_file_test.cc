#include "pkg/image/auth_file.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

std::string Auth(const std::string& user_and_password) {
  return absl::Base64Escape(user_and_password);
}

class AuthFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = absl::StrCat(std::getenv("TEST_TMPDIR"), "/auth.XXXXXX");
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    path_ = pattern + "/auth.json";
  }

  void Write(const std::string& text) { std::ofstream(path_) << text; }

  RegistryCredentials MustLookup(absl::string_view registry, absl::string_view repository) {
    absl::StatusOr<RegistryCredentials> creds = LookupAuthFile(path_, registry, repository);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return creds.ok() ? *creds : RegistryCredentials();
  }

  std::string path_;
};

TEST_F(AuthFileTest, MostSpecificKeyWins) {
  Write(absl::StrCat(R"({"auths": {
    "quay.io": {"auth": ")",
                     Auth("reg:r"), R"("},
    "quay.io/ns": {"auth": ")",
                     Auth("ns:n"), R"("},
    "quay.io/ns/repo": {"auth": ")",
                     Auth("repo:p:with:colons"), R"("}
  }})"));
  RegistryCredentials repo = MustLookup("quay.io", "ns/repo");
  EXPECT_EQ(repo.username, "repo");
  EXPECT_EQ(repo.password, "p:with:colons");
  EXPECT_EQ(MustLookup("quay.io", "ns/other").username, "ns");
  EXPECT_EQ(MustLookup("quay.io", "ns/repo/deeper").username, "repo");
  EXPECT_EQ(MustLookup("quay.io", "nsx/repo").username, "reg");
  EXPECT_EQ(MustLookup("quay.io", "other").username, "reg");
  EXPECT_TRUE(MustLookup("quay.iox", "ns/repo").empty());
  EXPECT_TRUE(MustLookup("example.com", "a").empty());
}

TEST_F(AuthFileTest, UrlAndLegacyDockerKeys) {
  Write(absl::StrCat(R"({"auths": {
    "https://index.docker.io/v1/": {"auth": ")",
                     Auth("hub:h"), R"("},
    "http://localhost:5000/v2/": {"auth": ")",
                     Auth("local:l"), R"("}
  }})"));
  EXPECT_EQ(MustLookup("docker.io", "library/busybox").username, "hub");
  EXPECT_EQ(MustLookup("localhost:5000", "a/b").password, "l");
  EXPECT_TRUE(MustLookup("localhost", "a").empty());
}

TEST_F(AuthFileTest, BareLegacyDockerKeyAndNormalFormPreferred) {
  Write(absl::StrCat(R"({"auths": {
    "index.docker.io/v1/": {"auth": ")",
                     Auth("legacy:x"), R"("},
    "registry-1.docker.io/library": {"auth": ")",
                     Auth("lib:x"), R"("}
  }})"));
  EXPECT_EQ(MustLookup("docker.io", "someone/app").username, "legacy");
  EXPECT_EQ(MustLookup("docker.io", "library/busybox").username, "lib");

  Write(absl::StrCat(R"({"auths": {
    "https://index.docker.io/v1/": {"auth": ")",
                     Auth("old:x"), R"("},
    "docker.io": {"auth": ")",
                     Auth("new:x"), R"("}
  }})"));
  EXPECT_EQ(MustLookup("docker.io", "library/busybox").username, "new");
}

TEST_F(AuthFileTest, TokensAndEmptyEntries) {
  Write(absl::StrCat(R"({"auths": {
    "quay.io": {"auth": ")",
                     Auth("<token>:"), R"(", "identitytoken": "refresh-me"},
    "ghcr.io": {"registrytoken": "bearer-me", "email": "ignored@example.com"},
    "empty.io": {}
  }, "credHelpers": {"gcr.io": "gcloud"}})"));
  RegistryCredentials quay = MustLookup("quay.io", "a");
  EXPECT_EQ(quay.username, "<token>");
  EXPECT_EQ(quay.password, "");
  EXPECT_EQ(quay.identity_token, "refresh-me");
  EXPECT_EQ(MustLookup("ghcr.io", "a").registry_token, "bearer-me");
  EXPECT_FALSE(MustLookup("ghcr.io", "a").empty());
  EXPECT_TRUE(MustLookup("empty.io", "a").empty());
}

TEST_F(AuthFileTest, MissingFileOrSectionMeansNoCredentials) {
  EXPECT_TRUE(MustLookup("quay.io", "a").empty());
  Write(R"({"credsStore": "desktop"})");
  EXPECT_TRUE(MustLookup("quay.io", "a").empty());
}

TEST_F(AuthFileTest, MalformedFilesNameTheFile) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"auths\": {", "malformed JSON"},
      {"", "malformed JSON"},
      {"[]", "top level must be an object"},
      {R"({"auths": []})", "\"auths\" must be an object"},
      {R"({"auths": {"quay.io": "x"}})", "\"quay.io\" is not an object"},
      {R"({"auths": {"quay.io": {"auth": 5}}})", "\"quay.io\".auth must be a string"},
      {R"({"auths": {"quay.io": {"auth": "%%%"}}})", "\"quay.io\".auth is not base64"},
      {absl::StrCat(R"({"auths": {"quay.io": {"auth": ")", Auth("nocolon"), R"("}}})"),
       "user:password"},
      {R"({"auths": {"quay.io": {"identitytoken": true}}})", "identitytoken must be a string"},
  };
  for (const auto& [text, problem] : cases) {
    Write(text);
    absl::StatusOr<RegistryCredentials> creds = LookupAuthFile(path_, "quay.io", "a/b");
    ASSERT_FALSE(creds.ok()) << text;
    EXPECT_EQ(creds.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(creds.status().message()), HasSubstr("auth file " + path_)) << text;
    EXPECT_THAT(std::string(creds.status().message()), HasSubstr(problem)) << text;
  }
}

TEST_F(AuthFileTest, UnreadableFileCarriesErrno) {
  std::string dir = path_.substr(0, path_.rfind('/'));
  absl::StatusOr<RegistryCredentials> creds = LookupAuthFile(dir, "quay.io", "a");
  ASSERT_FALSE(creds.ok());
  EXPECT_THAT(std::string(creds.status().message()), HasSubstr("read " + dir));
}

}  // namespace
}  // namespace ocid
