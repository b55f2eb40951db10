#include "pkg/image/image_lookup.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kSearch = {"127.0.0.1:5000", "quay.io", "docker.io"};

TEST(LookupNamesTest, QualifiedNamesAreNormalizedOnly) {
  EXPECT_THAT(LookupNames("docker.io/busybox", kSearch),
              ElementsAre("docker.io/library/busybox:latest"));
  EXPECT_THAT(LookupNames("index.docker.io/library/busybox:1", kSearch),
              ElementsAre("docker.io/library/busybox:1"));
  EXPECT_THAT(LookupNames("127.0.0.1:5000/busybox:latest", kSearch),
              ElementsAre("127.0.0.1:5000/busybox:latest"));
  EXPECT_THAT(LookupNames("localhost/app", kSearch), ElementsAre("localhost/app:latest"));
}

TEST(LookupNamesTest, ShortNamesTryDockerHubThenEachSearchRegistry) {
  EXPECT_THAT(LookupNames("busybox", kSearch),
              ElementsAre("docker.io/library/busybox:latest", "127.0.0.1:5000/busybox:latest",
                          "quay.io/busybox:latest"));
  EXPECT_THAT(LookupNames("library/busybox:1.36", kSearch),
              ElementsAre("docker.io/library/busybox:1.36", "127.0.0.1:5000/library/busybox:1.36",
                          "quay.io/library/busybox:1.36"));
  EXPECT_THAT(LookupNames("busybox", {}), ElementsAre("docker.io/library/busybox:latest"));
}

TEST(LookupNamesTest, AnAliasedShortNameMeansItsAliasAlone) {
  ShortNameSources sources(kSearch);
  sources.aliases = {{"busybox", "quay.io/team/busybox"}, {"ns/app", "docker.io/ns/app"}};
  const std::string digest = "sha256:" + std::string(64, 'c');
  EXPECT_THAT(LookupNames("busybox", sources), ElementsAre("quay.io/team/busybox:latest"));
  EXPECT_THAT(LookupNames("busybox:1.36", sources), ElementsAre("quay.io/team/busybox:1.36"));
  EXPECT_THAT(LookupNames("ns/app@" + digest, sources), ElementsAre("docker.io/ns/app@" + digest));
  // Not the alias's key as typed, or qualified: not aliased.
  EXPECT_THAT(
      LookupNames("library/busybox", sources),
      ElementsAre("docker.io/library/busybox:latest", "127.0.0.1:5000/library/busybox:latest",
                  "quay.io/library/busybox:latest"));
  EXPECT_THAT(LookupNames("docker.io/busybox", sources),
              ElementsAre("docker.io/library/busybox:latest"));
}

TEST(LookupNamesTest, ADigestWinsOverATag) {
  const std::string digest = "sha256:" + std::string(64, 'a');
  EXPECT_THAT(LookupNames("busybox:1@" + digest, std::vector<std::string>{"quay.io"}),
              ElementsAre("docker.io/library/busybox@" + digest, "quay.io/busybox@" + digest));
}

TEST(LookupNamesTest, InvalidInputHasNoNames) {
  EXPECT_TRUE(LookupNames("Not/Valid", kSearch).empty());
  EXPECT_TRUE(LookupNames("", kSearch).empty());
}

class LookupImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/lookup-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
    store_ = std::move(*ImageStore::Open(root));
  }

  ImageRecord Put(const std::string& seed, std::vector<std::string> tags) {
    ImageRecord image;
    image.id = Sha256Of("config-" + seed);
    image.manifest_digest = Sha256Of("manifest-" + seed);
    for (const std::string& tag : tags) {
      image.repo_digests.push_back(tag.substr(0, tag.rfind(':')) + "@" +
                                   image.manifest_digest.String());
    }
    image.repo_tags = std::move(tags);
    EXPECT_TRUE(store_->Put(image).ok());
    return image;
  }

  // The lookup, which must not fail.
  std::optional<ImageMatch> Found(const ShortNameSources& search, const std::string& name) {
    absl::StatusOr<std::optional<ImageMatch>> match = LookupImage(*store_, search, name);
    EXPECT_TRUE(match.ok()) << match.status();
    return match.ok() ? *std::move(match) : std::nullopt;
  }

  std::unique_ptr<ImageStore> store_;
};

TEST_F(LookupImageTest, ShortNamePulledFromASearchRegistryIsFoundByIt) {
  ImageRecord busybox = Put("busybox", {"127.0.0.1:5000/busybox:latest"});
  for (const char* name : {"busybox", "busybox:latest", "127.0.0.1:5000/busybox"}) {
    std::optional<ImageMatch> match = Found(kSearch, name);
    ASSERT_TRUE(match.has_value()) << name;
    EXPECT_EQ(match->image.id, busybox.id);
    EXPECT_EQ(match->name, "127.0.0.1:5000/busybox:latest");
    EXPECT_TRUE(match->by_tag);
  }
  // Without that search registry the short name means Docker Hub's only.
  EXPECT_FALSE(Found(std::vector<std::string>{"docker.io"}, "busybox:latest").has_value());
  EXPECT_FALSE(Found(kSearch, "busybox:other").has_value());
  EXPECT_FALSE(Found(kSearch, "quay.io/busybox").has_value());
}

TEST_F(LookupImageTest, LeaseImageHoldsWhatItFoundUntilTheLeaseEnds) {
  ImageRecord busybox = Put("busybox", {"127.0.0.1:5000/busybox:latest"});
  absl::StatusOr<std::optional<ImageMatch>> match = LeaseImage(*store_, kSearch, "busybox");
  ASSERT_TRUE(match.ok()) << match.status();
  ASSERT_TRUE(match->has_value());
  EXPECT_EQ((*match)->image.id, busybox.id);
  EXPECT_EQ((*match)->name, "127.0.0.1:5000/busybox:latest");
  EXPECT_TRUE((*match)->lease.held());
  std::optional<ImageMatch> unleased = Found(kSearch, "busybox");
  ASSERT_TRUE(unleased.has_value());
  EXPECT_FALSE(unleased->lease.held()) << "LookupImage takes no lease";
  EXPECT_EQ(store_->Remove(busybox.id.String()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  (*match)->lease.Reset();
  ASSERT_TRUE(store_->Remove(busybox.id.String()).ok());
  match = LeaseImage(*store_, kSearch, "busybox");
  ASSERT_TRUE(match.ok());
  EXPECT_FALSE(match->has_value()) << "removed: nothing to lease";
}

TEST_F(LookupImageTest, DockerHubFormComesFirst) {
  ImageRecord hub = Put("hub", {"docker.io/library/busybox:latest"});
  ImageRecord local = Put("local", {"127.0.0.1:5000/busybox:latest"});
  EXPECT_EQ(Found(kSearch, "busybox")->image.id, hub.id);
  EXPECT_EQ(Found(kSearch, "library/busybox")->image.id, hub.id);
  EXPECT_EQ(Found(kSearch, "docker.io/busybox")->image.id, hub.id);
  EXPECT_EQ(Found(kSearch, "127.0.0.1:5000/busybox")->image.id, local.id);
}

TEST_F(LookupImageTest, AnAliasWinsOverDockerHubAndTheSearchRegistries) {
  Put("hub", {"docker.io/library/busybox:latest"});
  ImageRecord aliased = Put("aliased", {"quay.io/team/busybox:latest"});
  ShortNameSources sources(kSearch);
  sources.aliases["busybox"] = "quay.io/team/busybox";
  std::optional<ImageMatch> match = Found(sources, "busybox");
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->image.id, aliased.id);
  EXPECT_EQ(match->name, "quay.io/team/busybox:latest");
  sources.aliases["busybox"] = "quay.io/other/busybox";  // aliased elsewhere: not pulled
  EXPECT_FALSE(Found(sources, "busybox").has_value());
}

TEST_F(LookupImageTest, TrustNamesPreferTheUserSpecifiedImageThenTheMatchedName) {
  ImageRecord image = Put("multi", {"quay.io/a/app:1", "docker.io/library/app:latest"});
  std::optional<ImageMatch> by_id = Found(kSearch, image.id.String());
  ASSERT_TRUE(by_id.has_value());
  // kubelet: the image by ID, the pod spec's name beside it.
  EXPECT_THAT(TrustNames(*by_id, "app", kSearch), ElementsAre("docker.io/library/app:latest"));
  EXPECT_THAT(TrustNames(*by_id, "quay.io/a/app:1", kSearch), ElementsAre("quay.io/a/app:1"));
  // A name not of this image, or none: every name.
  const std::vector<std::string> all = {"quay.io/a/app:1", "docker.io/library/app:latest",
                                        image.repo_digests[0], image.repo_digests[1]};
  EXPECT_EQ(TrustNames(*by_id, "quay.io/other:1", kSearch), all);
  EXPECT_EQ(TrustNames(*by_id, "", kSearch), all);
  std::optional<ImageMatch> by_name = Found(kSearch, "quay.io/a/app:1");
  ASSERT_TRUE(by_name.has_value());
  EXPECT_THAT(TrustNames(*by_name, "", kSearch), ElementsAre("quay.io/a/app:1"));
}

TEST(LookupNamesTest, ACachedAliasComesAfterDockerHubBeforeTheSearchRegistries) {
  ShortNameSources sources(kSearch);
  sources.cached_aliases = {{"busybox", "quay.io/busybox"}, {"app", "quay.io/team/app"}};
  EXPECT_THAT(
      LookupNames("busybox:1", sources),
      ElementsAre("docker.io/library/busybox:1", "quay.io/busybox:1", "127.0.0.1:5000/busybox:1"));
  EXPECT_THAT(LookupNames("app", sources),
              ElementsAre("docker.io/library/app:latest", "quay.io/team/app:latest",
                          "127.0.0.1:5000/app:latest", "quay.io/app:latest"));
  // registries.conf's alias wins and stands alone.
  sources.aliases = {{"app", "localhost:5000/app"}};
  EXPECT_THAT(LookupNames("app", sources), ElementsAre("localhost:5000/app:latest"));
}

TEST_F(LookupImageTest, ByIdAndByDigest) {
  ImageRecord busybox = Put("busybox", {"127.0.0.1:5000/busybox:latest"});
  std::optional<ImageMatch> match = Found(kSearch, busybox.id.String());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->name, "");
  EXPECT_FALSE(match->by_tag);
  EXPECT_EQ(Found(kSearch, busybox.id.hex)->image.id, busybox.id);

  match = Found(kSearch, "busybox@" + busybox.manifest_digest.String());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->name, "127.0.0.1:5000/busybox@" + busybox.manifest_digest.String());
  EXPECT_FALSE(match->by_tag);
}

TEST_F(LookupImageTest, EitherDigestOfAManifestListPull) {
  ImageRecord image = Put("multi", {"127.0.0.1:5000/busybox:multiarch"});
  const std::string list = Sha256Of("index-multi").String();
  image.repo_digests = {"127.0.0.1:5000/busybox@" + list,
                        "127.0.0.1:5000/busybox@" + image.manifest_digest.String()};
  ASSERT_TRUE(store_->Put(image).ok());
  for (const std::string& digest : {list, image.manifest_digest.String()}) {
    for (const std::string& name :
         {"busybox@" + digest, "127.0.0.1:5000/busybox@" + digest, "busybox:multiarch@" + digest}) {
      std::optional<ImageMatch> match = Found(kSearch, name);
      ASSERT_TRUE(match.has_value()) << name;
      EXPECT_EQ(match->image.id, image.id);
    }
  }
  EXPECT_FALSE(Found(kSearch, "busybox@" + Sha256Of("other").String()).has_value());
}

// Two IDs that share their first hex digits: made by trying seeds.
std::pair<std::string, std::string> SeedsSharingAPrefix(size_t digits) {
  std::map<std::string, std::string> by_prefix;
  for (int i = 0;; ++i) {
    std::string seed = "s" + std::to_string(i);
    std::string prefix = Sha256Of("config-" + seed).hex.substr(0, digits);
    auto [it, added] = by_prefix.emplace(prefix, seed);
    if (!added) return {it->second, seed};
  }
}

TEST_F(LookupImageTest, IdsFullPrefixedOrNotAndUnambiguousPrefixes) {
  auto [first, second] = SeedsSharingAPrefix(3);
  ImageRecord a = Put(first, {"127.0.0.1:5000/a:latest"});
  ImageRecord b = Put(second, {"127.0.0.1:5000/b:latest"});
  ASSERT_EQ(a.id.hex.substr(0, 3), b.id.hex.substr(0, 3));
  size_t common = 3;
  while (a.id.hex[common] == b.id.hex[common]) ++common;
  for (const ImageRecord& image : {a, b}) {
    for (const std::string& id :
         {image.id.String(), image.id.hex, image.id.hex.substr(0, common + 1),
          "sha256:" + image.id.hex.substr(0, common + 1)}) {
      std::optional<ImageMatch> match = Found(kSearch, id);
      ASSERT_TRUE(match.has_value()) << id;
      EXPECT_EQ(match->image.id, image.id) << id;
      EXPECT_EQ(match->name, "");
    }
  }
  // Shared by both: an error naming both, for ImageStatus and RemoveImage
  // alike, rather than "no such image".
  for (const std::string& prefix :
       {a.id.hex.substr(0, common), "sha256:" + a.id.hex.substr(0, 3)}) {
    absl::StatusOr<std::optional<ImageMatch>> match = LookupImage(*store_, kSearch, prefix);
    ASSERT_FALSE(match.ok()) << prefix;
    EXPECT_EQ(match.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(match.status().message(), HasSubstr("is ambiguous"));
    EXPECT_THAT(match.status().message(), HasSubstr(a.id.String()));
    EXPECT_THAT(match.status().message(), HasSubstr(b.id.String()));
  }
  // Too short to be an ID prefix, or not hex: a name, not found.
  EXPECT_FALSE(Found(kSearch, a.id.hex.substr(0, 2)).has_value());
  EXPECT_FALSE(Found(kSearch, "xyz").has_value());
}

TEST_F(LookupImageTest, AStoredNameWinsOverAnAmbiguousPrefix) {
  auto [first, second] = SeedsSharingAPrefix(3);
  ImageRecord a = Put(first, {});
  ImageRecord b = Put(second, {});
  std::string prefix = a.id.hex.substr(0, 3);
  // A digit-only prefix is a valid repository name too.
  ImageRecord named = Put("named", {"127.0.0.1:5000/" + prefix + ":latest"});
  std::optional<ImageMatch> match = Found(kSearch, prefix);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->image.id, named.id);
}

TEST_F(LookupImageTest, ContainerImageIsARepoTagAndImageRefARepoDigest) {
  ImageRecord image;
  image.id = Sha256Of("config-busybox");
  image.manifest_digest = Sha256Of("manifest-busybox");
  const std::string list = Sha256Of("index-busybox").String();
  image.repo_tags = {"docker.io/library/busybox:1", "127.0.0.1:5000/busybox:latest"};
  image.repo_digests = {"docker.io/library/busybox@" + list,
                        "127.0.0.1:5000/busybox@" + image.manifest_digest.String()};
  ASSERT_TRUE(store_->Put(image).ok());

  // By a short name: the repo tag it matched, and that repository's digest.
  std::optional<ImageMatch> match = Found(kSearch, "busybox:latest");
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(ContainerImageName(*match), "127.0.0.1:5000/busybox:latest");
  EXPECT_EQ(ContainerImageRef(match->image, ContainerImageName(*match)),
            "127.0.0.1:5000/busybox@" + image.manifest_digest.String());
  // By ID, as kubelet creates containers: the first repo tag.
  match = Found(kSearch, image.id.String());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(ContainerImageName(*match), "docker.io/library/busybox:1");
  EXPECT_EQ(ContainerImageRef(match->image, ContainerImageName(*match)),
            "docker.io/library/busybox@" + list);
  // By digest: a repo tag too, not the digest reference.
  match = Found(kSearch, "127.0.0.1:5000/busybox@" + image.manifest_digest.String());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(ContainerImageName(*match), "docker.io/library/busybox:1");
}

TEST_F(LookupImageTest, ContainerImageOfAnUntaggedImageIsItsId) {
  ImageRecord image = Put("bare", {});
  std::optional<ImageMatch> match = Found(kSearch, image.id.hex);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(ContainerImageName(*match), image.id.String());
  EXPECT_EQ(ContainerImageRef(match->image, ContainerImageName(*match)), image.id.String());
  // Digests but no tag (pulled by digest): image_ref is still a repo digest.
  image.repo_digests = {"127.0.0.1:5000/bare@" + image.manifest_digest.String()};
  ASSERT_TRUE(store_->Put(image).ok());
  match = Found(kSearch, image.id.hex);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(ContainerImageName(*match), image.id.String());
  EXPECT_EQ(ContainerImageRef(match->image, ContainerImageName(*match)), image.repo_digests[0]);
}

}  // namespace
}  // namespace ocid
