#include "pkg/image/manifest.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ocid {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string Hex(char c) { return std::string(64, c); }
std::string DigestOf(char c) { return "sha256:" + Hex(c); }

Json LayerJson(const std::string& media_type, char digest, int64_t size) {
  return {{"mediaType", media_type}, {"digest", DigestOf(digest)}, {"size", size}};
}

Json DockerManifestJson() {
  return {
      {"schemaVersion", 2},
      {"mediaType", kMediaTypeDockerManifest},
      {"config",
       {{"mediaType", kMediaTypeDockerConfig}, {"digest", DigestOf('c')}, {"size", 1469}}},
      {"layers",
       {LayerJson(kMediaTypeDockerLayer, '1', 100), LayerJson(kMediaTypeDockerLayer, '2', 200),
        LayerJson(kMediaTypeDockerLayer, '3', 300)}},
  };
}

Json OciManifestJson() {
  return {
      {"schemaVersion", 2},
      {"mediaType", kMediaTypeOciManifest},
      {"config", {{"mediaType", kMediaTypeOciConfig}, {"digest", DigestOf('c')}, {"size", 10}}},
      {"layers",
       {LayerJson(kMediaTypeOciLayerZstd, '1', 1), LayerJson(kMediaTypeOciLayer, '2', 2),
        LayerJson(kMediaTypeOciLayerGzip, '3', 3)}},
      {"annotations", {{"org.opencontainers.image.created", "2024-01-01T00:00:00Z"}}},
  };
}

Json EntryJson(const std::string& os, const std::string& architecture, char digest,
               const std::string& variant = "") {
  Json platform = {{"os", os}, {"architecture", architecture}};
  if (!variant.empty()) platform["variant"] = variant;
  return {{"mediaType", kMediaTypeOciManifest},
          {"digest", DigestOf(digest)},
          {"size", 500},
          {"platform", platform}};
}

Json IndexJson() {
  return {{"schemaVersion", 2},
          {"mediaType", kMediaTypeOciIndex},
          {"manifests",
           {EntryJson("linux", "amd64", 'a'), EntryJson("linux", "arm", 'b', "v7"),
            EntryJson("linux", "arm64", 'c', "v8"), EntryJson("linux", "s390x", 'd')}}};
}

TEST(ParseManifestTest, DockerSchema2) {
  auto parsed = ParseManifest(kMediaTypeDockerManifest, DockerManifestJson().dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->manifest.has_value());
  EXPECT_FALSE(parsed->index.has_value());
  const ImageManifest& manifest = *parsed->manifest;
  EXPECT_EQ(manifest.media_type, kMediaTypeDockerManifest);
  EXPECT_EQ(manifest.config.media_type, kMediaTypeDockerConfig);
  EXPECT_EQ(manifest.config.digest.String(), DigestOf('c'));
  EXPECT_EQ(manifest.config.size, 1469);
  ASSERT_EQ(manifest.layers.size(), 3u);
  EXPECT_EQ(manifest.layers[2].digest.hex, Hex('3'));
  EXPECT_EQ(manifest.layers[2].size, 300);
}

TEST(ParseManifestTest, OciManifestWithCharsetAndAnnotations) {
  auto parsed = ParseManifest("Application/vnd.oci.image.manifest.v1+json; charset=utf-8",
                              OciManifestJson().dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ImageManifest& manifest = *parsed->manifest;
  EXPECT_EQ(manifest.media_type, kMediaTypeOciManifest);
  ASSERT_EQ(manifest.layers.size(), 3u);
  EXPECT_EQ(manifest.layers[0].media_type, kMediaTypeOciLayerZstd);
}

TEST(ParseManifestTest, GenericContentTypeUsesBodyMediaType) {
  for (const char* content_type : {"", "application/json", "application/octet-stream"}) {
    auto parsed = ParseManifest(content_type, IndexJson().dump());
    ASSERT_TRUE(parsed.ok()) << content_type << ": " << parsed.status();
    ASSERT_TRUE(parsed->index.has_value());
    EXPECT_EQ(parsed->index->media_type, kMediaTypeOciIndex);
    EXPECT_EQ(parsed->index->manifests.size(), 4u);
  }
}

TEST(ParseManifestTest, NoMediaTypeAnywhereUsesShape) {
  Json manifest = OciManifestJson();
  manifest.erase("mediaType");
  auto parsed = ParseManifest("", manifest.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->manifest->media_type, kMediaTypeOciManifest);

  Json index = IndexJson();
  index.erase("mediaType");
  parsed = ParseManifest("application/json", index.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->index->media_type, kMediaTypeOciIndex);
}

TEST(ParseManifestTest, DockerManifestList) {
  Json list = IndexJson();
  list["mediaType"] = kMediaTypeDockerManifestList;
  for (Json& entry : list["manifests"]) entry["mediaType"] = kMediaTypeDockerManifest;
  auto parsed = ParseManifest(kMediaTypeDockerManifestList, list.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ImageIndex& index = *parsed->index;
  EXPECT_EQ(index.media_type, kMediaTypeDockerManifestList);
  EXPECT_EQ(index.manifests[1].platform.variant, "v7");
}

TEST(ParseManifestTest, Schema1IsRefused) {
  const std::string schema1 = R"({"schemaVersion": 1, "name": "library/busybox", "tag": "1",
      "fsLayers": [], "history": [], "signatures": []})";
  for (const char* content_type : {kMediaTypeDockerSchema1SignedManifest,
                                   kMediaTypeDockerSchema1Manifest, "application/json", ""}) {
    auto parsed = ParseManifest(content_type, schema1);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kFailedPrecondition) << content_type;
    EXPECT_THAT(parsed.status().message(),
                HasSubstr("Docker schema 1 manifests are not supported (deprecated; push the "
                          "image again with a current client)"));
  }
}

TEST(ParseManifestTest, UnknownMediaTypes) {
  auto parsed = ParseManifest("application/vnd.example.thing+json", OciManifestJson().dump());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("application/vnd.example.thing+json"));

  Json body = OciManifestJson();
  body["mediaType"] = "application/vnd.example.other+json";
  parsed = ParseManifest("", body.dump());
  EXPECT_THAT(parsed.status().message(), HasSubstr("application/vnd.example.other+json"));

  body = OciManifestJson();
  body["layers"][1]["mediaType"] = "application/vnd.example.layer";
  parsed = ParseManifest(kMediaTypeOciManifest, body.dump());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("layers[1].mediaType"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("application/vnd.example.layer"));

  body = OciManifestJson();
  body["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json";
  parsed = ParseManifest(kMediaTypeOciManifest, body.dump());
  EXPECT_THAT(parsed.status().message(), HasSubstr("application/vnd.cncf.helm.config.v1+json"));
}

TEST(ParseManifestTest, BodyContradictingContentType) {
  auto parsed = ParseManifest(kMediaTypeOciManifest, DockerManifestJson().dump());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("contradicts"));
}

TEST(ParseManifestTest, BadFieldsAreNamed) {
  struct Case {
    std::function<void(Json&)> edit;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](Json& j) { j["layers"][2].erase("digest"); }, "layers[2].digest: missing"},
      {[](Json& j) { j["layers"][2]["digest"] = "sha256:abc"; }, "layers[2].digest"},
      {[](Json& j) { j["layers"][2]["digest"] = "md5:" + Hex('0'); }, "layers[2].digest"},
      {[](Json& j) { j["layers"][2]["digest"] = 7; }, "layers[2].digest"},
      {[](Json& j) { j["layers"][0]["size"] = -1; }, "layers[0].size: negative"},
      {[](Json& j) { j["layers"][0]["size"] = 1.5; }, "layers[0].size"},
      {[](Json& j) { j["layers"][0]["size"] = 18446744073709551615ull; }, "layers[0].size"},
      {[](Json& j) { j["layers"][0]["size"] = "10"; }, "layers[0].size"},
      {[](Json& j) { j["config"]["digest"] = ""; }, "config.digest"},
      {[](Json& j) { j.erase("config"); }, "config: missing"},
      {[](Json& j) { j["layers"] = Json::object(); }, "layers: not a list"},
      {[](Json& j) {
         j["layers"][1]["annotations"] = {{"a", 1}};
       },
       "layers[1].annotations.a"},
      {[](Json& j) { j["schemaVersion"] = "2"; }, "schemaVersion"},
      {[](Json& j) { j["schemaVersion"] = 3; }, "schemaVersion"},
  };
  for (const Case& c : cases) {
    Json body = OciManifestJson();
    c.edit(body);
    auto parsed = ParseManifest(kMediaTypeOciManifest, body.dump());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.field));
  }
}

TEST(ParseManifestTest, BadIndexEntriesAreNamed) {
  Json index = IndexJson();
  index["manifests"][3]["platform"].erase("architecture");
  auto parsed = ParseManifest(kMediaTypeOciIndex, index.dump());
  EXPECT_THAT(parsed.status().message(), HasSubstr("manifests[3].platform.architecture"));

  index = IndexJson();
  index["manifests"][0]["size"] = -5;
  parsed = ParseManifest(kMediaTypeOciIndex, index.dump());
  EXPECT_THAT(parsed.status().message(), HasSubstr("manifests[0].size"));
}

TEST(ParseManifestTest, NotJson) {
  for (const char* body : {"", "{", "[]", "\"x\"", "null", "{\"schemaVersion\": 2}"}) {
    auto parsed = ParseManifest(kMediaTypeOciManifest, body);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
}

TEST(ParseManifestTest, OversizedBody) {
  std::string body = OciManifestJson().dump();
  body.append(kMaxManifestBytes, ' ');
  auto parsed = ParseManifest(kMediaTypeOciManifest, body);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("larger than 4 MiB"));
}

TEST(ParseManifestTest, DeepNestingDoesNotCrash) {
  std::string body = "{\"schemaVersion\":2,\"layers\":" + std::string(1 << 20, '[');
  EXPECT_FALSE(ParseManifest("", body).ok());
  body = "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_FALSE(ParseManifest("", body).ok());
}

TEST(LayerCompressionTest, AllLayerTypes) {
  EXPECT_EQ(*LayerCompressionOf(kMediaTypeOciLayer), LayerCompression::kNone);
  EXPECT_EQ(*LayerCompressionOf(kMediaTypeOciNondistributableLayer), LayerCompression::kNone);
  EXPECT_EQ(*LayerCompressionOf(kMediaTypeOciLayerGzip), LayerCompression::kGzip);
  EXPECT_EQ(*LayerCompressionOf(kMediaTypeOciNondistributableLayerGzip), LayerCompression::kGzip);
  EXPECT_EQ(*LayerCompressionOf(kMediaTypeDockerLayer), LayerCompression::kGzip);
  EXPECT_EQ(*LayerCompressionOf(kMediaTypeDockerForeignLayer), LayerCompression::kGzip);
  EXPECT_EQ(*LayerCompressionOf(kMediaTypeOciLayerZstd), LayerCompression::kZstd);
  EXPECT_EQ(*LayerCompressionOf(kMediaTypeOciNondistributableLayerZstd), LayerCompression::kZstd);
  EXPECT_FALSE(LayerCompressionOf(kMediaTypeOciConfig).ok());
}

ImageIndex ParsedIndex(const Json& json) {
  auto parsed = ParseManifest(kMediaTypeOciIndex, json.dump());
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed->index : ImageIndex();
}

TEST(SelectPlatformTest, ExactMatches) {
  ImageIndex index = ParsedIndex(IndexJson());
  auto selected = SelectPlatform(index);
  ASSERT_TRUE(selected.ok()) << selected.status();
  EXPECT_EQ(selected->digest.hex, Hex('a'));
  selected = SelectPlatform(index, "linux", "s390x");
  ASSERT_TRUE(selected.ok());
  EXPECT_EQ(selected->digest.hex, Hex('d'));
  selected = SelectPlatform(index, "linux", "arm", "v7");
  ASSERT_TRUE(selected.ok());
  EXPECT_EQ(selected->digest.hex, Hex('b'));
  EXPECT_EQ(SelectPlatform(index, "linux", "arm", "v6").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(SelectPlatform(index, "windows", "amd64").ok());
}

TEST(SelectPlatformTest, Arm64V8IsTheDefaultVariant) {
  Json json = IndexJson();
  ImageIndex with_v8 = ParsedIndex(json);
  EXPECT_EQ(SelectPlatform(with_v8, "linux", "arm64", "").value().digest.hex, Hex('c'));
  EXPECT_EQ(SelectPlatform(with_v8, "linux", "arm64", "v8").value().digest.hex, Hex('c'));
  json["manifests"][2]["platform"].erase("variant");
  ImageIndex without = ParsedIndex(json);
  EXPECT_EQ(SelectPlatform(without, "linux", "arm64", "v8").value().digest.hex, Hex('c'));
  EXPECT_FALSE(SelectPlatform(without, "linux", "arm64", "v9").ok());
}

TEST(SelectPlatformTest, NotFoundListsPlatforms) {
  Json json = {{"schemaVersion", 2},
               {"mediaType", kMediaTypeOciIndex},
               {"manifests", {EntryJson("linux", "arm64", 'a'), EntryJson("linux", "s390x", 'b')}}};
  // An attestation entry of another media type is neither chosen nor listed.
  Json attestation = EntryJson("unknown", "unknown", 'e');
  attestation["mediaType"] = "application/vnd.example.attestation";
  json["manifests"].push_back(attestation);
  auto selected = SelectPlatform(ParsedIndex(json));
  EXPECT_EQ(selected.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(selected.status().message(),
            "no linux/amd64 image in the index; it has linux/arm64, linux/s390x");
  EXPECT_EQ(SelectPlatform(ImageIndex()).status().code(), absl::StatusCode::kNotFound);
}

constexpr char kConfig[] = R"({
  "architecture": "amd64",
  "os": "linux",
  "created": "2023-11-14T22:13:20.5Z",
  "config": {
    "User": "1000:1000",
    "Env": ["PATH=/usr/bin", "LANG=C"],
    "Entrypoint": ["/docker-entrypoint.sh"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "WorkingDir": "/srv",
    "Labels": {"maintainer": "someone"},
    "StopSignal": "SIGQUIT",
    "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
    "Volumes": {"/data": {}}
  },
  "rootfs": {"type": "layers", "diff_ids": ["sha256:1111111111111111111111111111111111111111111111111111111111111111", "sha256:2222222222222222222222222222222222222222222222222222222222222222"]},
  "history": [{"created_by": "x"}]
})";

TEST(ParseImageConfigTest, AllFields) {
  auto config = ParseImageConfig(kConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, "amd64");
  EXPECT_EQ(config->os, "linux");
  EXPECT_EQ(config->created_unix_nanos, 1700000000500000000);
  ASSERT_EQ(config->diff_ids.size(), 2u);
  EXPECT_EQ(config->diff_ids[1].hex, Hex('2'));
  EXPECT_EQ(config->user, "1000:1000");
  EXPECT_THAT(config->env, ElementsAre("PATH=/usr/bin", "LANG=C"));
  EXPECT_THAT(config->entrypoint, ElementsAre("/docker-entrypoint.sh"));
  EXPECT_THAT(config->cmd, ElementsAre("nginx", "-g", "daemon off;"));
  EXPECT_EQ(config->working_dir, "/srv");
  EXPECT_EQ(config->labels.at("maintainer"), "someone");
  EXPECT_EQ(config->stop_signal, "SIGQUIT");
  EXPECT_THAT(config->exposed_ports, ElementsAre("443/tcp", "80/tcp"));
  EXPECT_THAT(config->volumes, ElementsAre("/data"));
}

TEST(ParseImageConfigTest, NullsAndAbsentFieldsAreEmpty) {
  auto config = ParseImageConfig(
      R"({"created": "0001-01-01T00:00:00Z", "config": {"Entrypoint": null, "Env": null,
          "Labels": null}, "rootfs": {"type": "layers", "diff_ids": []}})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->created_unix_nanos, 0);
  EXPECT_TRUE(config->entrypoint.empty());
  EXPECT_TRUE(config->diff_ids.empty());
}

TEST(ParseImageConfigTest, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"rootfs": {"type": "layers"}})", "rootfs.diff_ids: missing"},
      {R"({"os": "linux"})", "rootfs: missing"},
      {R"({"rootfs": {"type": "tarball", "diff_ids": []}})", "rootfs.type"},
      {R"({"rootfs": {"type": "layers", "diff_ids": ["sha256:12"]}})", "rootfs.diff_ids[0]"},
      {R"({"rootfs": {"type": "layers", "diff_ids": []}, "config": {"Env": ["A", 1]}})",
       "config.Env[1]"},
      {R"({"rootfs": {"type": "layers", "diff_ids": []}, "config": {"Cmd": "sh"}})",
       "config.Cmd: not a list"},
      {R"({"rootfs": {"type": "layers", "diff_ids": []}, "created": "yesterday"})", "created"},
      {R"({"rootfs": {"type": "layers", "diff_ids": []}, "os": 3})", "os: not a string"},
      {"[1]", "not a JSON object"},
  };
  for (const auto& [body, field] : cases) {
    auto config = ParseImageConfig(body);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_THAT(config.status().message(), HasSubstr(field)) << body;
  }
}

}  // namespace
}  // namespace ocid
