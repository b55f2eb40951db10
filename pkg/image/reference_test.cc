#include "pkg/image/reference.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

const std::string kHex(64, 'a');
const std::string kDigest = "sha256:" + kHex;

struct GoodCase {
  std::string input;
  std::string want;  // String() of the parsed reference
};

TEST(ReferenceTest, NormalizesGoodReferences) {
  const std::vector<GoodCase> cases = {
      {"busybox", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io/library/busybox:1.36"},
      {"library/busybox", "docker.io/library/busybox:latest"},
      {"docker.io/busybox", "docker.io/library/busybox:latest"},
      {"docker.io/library/busybox:latest", "docker.io/library/busybox:latest"},
      {"index.docker.io/library/busybox", "docker.io/library/busybox:latest"},
      {"index.docker.io/busybox", "docker.io/library/busybox:latest"},
      {"someuser/app:v2", "docker.io/someuser/app:v2"},
      {"localhost/foo", "localhost/foo:latest"},
      {"localhost:5000/foo/bar:tag", "localhost:5000/foo/bar:tag"},
      {"127.0.0.1:5000/busybox@" + kDigest, "127.0.0.1:5000/busybox@" + kDigest},
      {"[::1]:5000/x", "[::1]:5000/x:latest"},
      {"[fe80::1]/x:1", "[fe80::1]/x:1"},
      {"quay.io/a/b:tag@" + kDigest, "quay.io/a/b:tag@" + kDigest},
      {"busybox@" + kDigest, "docker.io/library/busybox@" + kDigest},
      {"quay.io/a_b/c__d/e-f/g--h/i.j:T_a.g-1", "quay.io/a_b/c__d/e-f/g--h/i.j:T_a.g-1"},
      {"my-registry.example.com/x", "my-registry.example.com/x:latest"},
      {"localhost:5000", "docker.io/library/localhost:5000"},  // a tag, not a port
      {"quay.io", "docker.io/library/quay.io:latest"},         // no '/': not a registry
      {"a:" + std::string(128, 'x'), "docker.io/library/a:" + std::string(128, 'x')},
  };
  for (const GoodCase& c : cases) {
    absl::StatusOr<ImageReference> ref = ParseImageReference(c.input);
    ASSERT_TRUE(ref.ok()) << c.input << ": " << ref.status();
    EXPECT_EQ(ref->String(), c.want) << c.input;
    absl::StatusOr<ImageReference> again = ParseImageReference(ref->String());
    ASSERT_TRUE(again.ok()) << ref->String() << ": " << again.status();
    EXPECT_EQ(*again, *ref) << c.input;
  }
}

TEST(ReferenceTest, SplitsIntoFields) {
  absl::StatusOr<ImageReference> ref = ParseImageReference("localhost:5000/foo/bar:tag@" + kDigest);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->registry, "localhost:5000");
  EXPECT_EQ(ref->repository, "foo/bar");
  EXPECT_EQ(ref->tag, "tag");
  EXPECT_EQ(ref->digest, kDigest);
  EXPECT_EQ(ref->Name(), "localhost:5000/foo/bar");
}

TEST(ReferenceTest, DigestOnlyHasNoTag) {
  absl::StatusOr<ImageReference> ref = ParseImageReference("busybox@" + kDigest);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->tag, "");
  EXPECT_EQ(ref->digest, kDigest);
}

struct BadCase {
  std::string input;
  std::string problem;  // a substring of the error message
};

TEST(ReferenceTest, RejectsBadReferences) {
  const std::vector<BadCase> cases = {
      {"", "empty"},
      {"UPPER", "repository must be lowercase"},
      {"Busybox", "\"Busybox\": repository must be lowercase"},
      {"docker.io/Library/busybox", "must be lowercase"},
      {"a//b", "empty path component"},
      {"a/", "empty path component"},
      {"/a", "empty path component"},
      {"quay.io/", "repository name is missing"},
      {"a:", "tag is empty"},
      {":tag", "repository name is missing"},
      {"a:-x", "tag \"-x\" is invalid"},
      {"a:" + std::string(129, 'x'), "is invalid"},
      {"foo@sha256:short", "not 64 lowercase hex"},
      {"foo@md5:" + kHex, "not sha256"},
      {"foo@", "digest"},
      {"foo@sha256:" + std::string(64, 'A'), "not 64 lowercase hex"},
      {"a/" + std::string(250, 'b'), "longer than 255"},
      {"-a", "path component \"-a\" is invalid"},
      {"a_-b", "is invalid"},
      {"a___b", "is invalid"},
      {"a..b", "is invalid"},
      {"-bad.io/x", "registry \"-bad.io\""},
      {"bad_host.io/x", "is not a host name"},
      {"localhost:99999/x", "port \"99999\" is out of range"},
      {"[zz::1]/x", "registry"},
      {"a b", "is invalid"},
      {"a@b@" + kDigest, "digest"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<ImageReference> ref = ParseImageReference(c.input);
    ASSERT_FALSE(ref.ok()) << c.input << " parsed as " << ref->String();
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument) << c.input;
    EXPECT_THAT(std::string(ref.status().message()), HasSubstr("invalid image reference \""))
        << c.input;
    EXPECT_THAT(std::string(ref.status().message()), HasSubstr(c.problem)) << c.input;
  }
}

TEST(ReferenceTest, LengthLimitAppliesToTheNormalizedName) {
  // "a/" plus 244 characters fits as typed, but "docker.io/a/..." is 256.
  EXPECT_TRUE(ParseImageReference("a/" + std::string(243, 'b')).ok());
  EXPECT_FALSE(ParseImageReference("a/" + std::string(244, 'b')).ok());
}

TEST(ReferenceTest, ErrorsEscapeUnprintableInput) {
  absl::StatusOr<ImageReference> ref = ParseImageReference("a\nb");
  ASSERT_FALSE(ref.ok());
  EXPECT_THAT(std::string(ref.status().message()), HasSubstr("\"a\\nb\""));
}

TEST(ReferenceTest, ShortNames) {
  EXPECT_TRUE(IsShortName("busybox"));
  EXPECT_TRUE(IsShortName("busybox:1.36"));
  EXPECT_TRUE(IsShortName("library/busybox"));
  EXPECT_TRUE(IsShortName("busybox@" + kDigest));
  EXPECT_FALSE(IsShortName("docker.io/busybox"));
  EXPECT_FALSE(IsShortName("localhost/foo"));
  EXPECT_FALSE(IsShortName("localhost:5000/foo"));
  EXPECT_FALSE(IsShortName("[::1]/foo"));
  EXPECT_FALSE(IsShortName("quay.io/a/b@" + kDigest));
}

TEST(ReferenceTest, RepositoryAsTypedDropsTagAndDigestOnly) {
  const std::string digest = "sha256:" + std::string(64, 'b');
  EXPECT_EQ(RepositoryAsTyped("busybox"), "busybox");
  EXPECT_EQ(RepositoryAsTyped("library/busybox:1.36"), "library/busybox");
  EXPECT_EQ(RepositoryAsTyped("ns/app:1@" + digest), "ns/app");
  EXPECT_EQ(RepositoryAsTyped("localhost:5000/app:2"), "localhost:5000/app");
  EXPECT_FALSE(TypedWithTagOrDigest("busybox"));
  EXPECT_FALSE(TypedWithTagOrDigest("localhost:5000/app"));
  EXPECT_TRUE(TypedWithTagOrDigest("busybox:1"));
  EXPECT_TRUE(TypedWithTagOrDigest("busybox@" + digest));
  EXPECT_TRUE(TypedWithTagOrDigest("busybox:"));
}

}  // namespace
}  // namespace ocid
