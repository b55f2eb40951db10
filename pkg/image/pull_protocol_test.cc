#include "pkg/image/pull_protocol.h"

#include <fcntl.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

ImageRecord SampleRecord() {
  ImageRecord record;
  record.id = *ParseDigest("sha256:" + std::string(64, 'a'));
  record.repo_tags = {"example.com/busybox:latest"};
  record.repo_digests = {"example.com/busybox@sha256:" + std::string(64, 'b')};
  record.manifest_digest = *ParseDigest("sha256:" + std::string(64, 'b'));
  record.layers = {*ParseDigest("sha256:" + std::string(64, 'c'))};
  record.size = 1234;
  record.user = "1000:1000";
  record.pulled_at_nanos = 42;
  return record;
}

TEST(PullProtocolTest, RequestRoundTrips) {
  PullRequest request;
  request.image = "busybox:latest";
  request.auth = {"user", "pa\"ss\n", "idtoken", "regtoken"};
  request.pod_namespace = "kube-system";
  request.storage_root = "/var/lib/ocid/storage";
  request.auth_file = "/run/auth.json";
  request.registries_conf = {{"/etc/r.conf", "unqualified-search-registries = [\"x.io\"]\n", false},
                             {"/etc/r.conf.d/50.conf", "[aliases]\n", true}};
  request.policy_file = "/etc/containers/policy.json";
  request.policy_text = "{\"default\": [{\"type\": \"reject\"}]}";
  request.registries_d = "/etc/containers/registries.d";
  request.policy_dir = "/etc/ocid/policies";
  request.cached_aliases = {{"bb", "x.io/busybox"}};
  request.max_parallel_layers = 5;

  absl::StatusOr<PullRequest> decoded = DecodePullRequest(EncodePullRequest(request));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->image, request.image);
  EXPECT_EQ(decoded->auth.password, request.auth.password);
  EXPECT_EQ(decoded->auth.registry_token, "regtoken");
  EXPECT_EQ(decoded->pod_namespace, "kube-system");
  EXPECT_EQ(decoded->storage_root, request.storage_root);
  EXPECT_EQ(decoded->auth_file, request.auth_file);
  ASSERT_EQ(decoded->registries_conf.size(), 2u);
  EXPECT_EQ(decoded->registries_conf[1].path, "/etc/r.conf.d/50.conf");
  EXPECT_TRUE(decoded->registries_conf[1].drop_in);
  EXPECT_FALSE(decoded->registries_conf[0].drop_in);
  EXPECT_EQ(decoded->registries_conf[0].text, request.registries_conf[0].text);
  EXPECT_EQ(decoded->policy_text, request.policy_text);
  EXPECT_EQ(decoded->cached_aliases, request.cached_aliases);
  EXPECT_EQ(decoded->max_parallel_layers, 5);

  request.policy_text.reset();  // a missing policy file stays missing
  decoded = DecodePullRequest(EncodePullRequest(request));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE(decoded->policy_text.has_value());
}

TEST(PullProtocolTest, BadRequestsAreRefused) {
  EXPECT_THAT(std::string(DecodePullRequest("").status().message()), HasSubstr("not JSON"));
  EXPECT_THAT(std::string(DecodePullRequest("[1]").status().message()),
              HasSubstr("not a JSON object"));
  EXPECT_THAT(std::string(DecodePullRequest("{\"storage_root\": \"/s\"}").status().message()),
              HasSubstr("no image"));
  EXPECT_THAT(std::string(DecodePullRequest("{\"image\": 3}").status().message()),
              HasSubstr("\"image\" has the wrong type"));
  EXPECT_TRUE(absl::IsInvalidArgument(
      DecodePullRequest("{\"image\": \"a\", \"storage_root\": \"/s\", \"registries_conf\": 1}")
          .status()));
}

TEST(PullProtocolTest, RepliesRoundTrip) {
  PullReply progress;
  progress.progress = {3, 1, 1000, 400, 1};
  std::string line = EncodePullReply(progress);
  ASSERT_EQ(line.back(), '\n');
  absl::StatusOr<PullReply> decoded = DecodePullReply(line.substr(0, line.size() - 1));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->kind, PullReply::kProgress);
  EXPECT_EQ(decoded->progress.layers_total, 3);
  EXPECT_EQ(decoded->progress.bytes_done, 400);

  PullReply result;
  result.kind = PullReply::kResult;
  result.result = {SampleRecord(), "bb", "x.io/busybox", 123456, 2};
  line = EncodePullReply(result);
  decoded = DecodePullReply(line.substr(0, line.size() - 1));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->kind, PullReply::kResult);
  EXPECT_EQ(decoded->result.record.id, result.result.record.id);
  EXPECT_EQ(decoded->result.record.repo_tags, result.result.record.repo_tags);
  EXPECT_EQ(decoded->result.record.layers, result.result.record.layers);
  EXPECT_EQ(decoded->result.record.user, "1000:1000");
  EXPECT_EQ(decoded->result.alias_target, "x.io/busybox");
  EXPECT_EQ(decoded->result.bytes_fetched, 123456);
  EXPECT_EQ(decoded->result.layers_reused, 2);

  // The codes and messages tests and kubelet look for come through.
  for (const absl::Status& error :
       {absl::FailedPreconditionError("SignatureValidationFailed: image x (policy p): no"),
        absl::NotFoundError("pull x: manifest unknown"),
        absl::UnauthenticatedError("registry said 401"), absl::InternalError("unpack failed")}) {
    PullReply reply;
    reply.kind = PullReply::kError;
    reply.error = error;
    line = EncodePullReply(reply);
    decoded = DecodePullReply(line.substr(0, line.size() - 1));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->kind, PullReply::kError);
    EXPECT_EQ(decoded->error, error);
  }
}

TEST(PullProtocolTest, GarbageRepliesAreErrors) {
  for (const char* line :
       {"", "garbage", "{}", "{\"progress\": 1}", "{\"progress\": {}, \"error\": {}}",
        "{\"result\": {\"record\": \"{}\"}}", "{\"what\": {}}",
        "{\"progress\": {\"layers_done\": \"x\"}}"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(DecodePullReply(line).status())) << line;
  }
  // An error reply claiming OK would lose the failure.
  absl::StatusOr<PullReply> ok_error = DecodePullReply("{\"error\": {\"code\": 0}}");
  ASSERT_TRUE(ok_error.ok());
  EXPECT_TRUE(absl::IsUnknown(ok_error->error));
}

// Feeds `text` through a pipe to ReadPullReplies.
absl::StatusOr<PullReply> ReadFrom(const std::string& text, int* progress_lines = nullptr) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  std::thread writer([&] {
    EXPECT_EQ(::write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fds[1]);
  });
  int seen = 0;
  absl::StatusOr<PullReply> reply =
      ReadPullReplies(fds[0], [&](const PullProgressReport&) { ++seen; });
  writer.join();
  ::close(fds[0]);
  if (progress_lines != nullptr) *progress_lines = seen;
  return reply;
}

TEST(PullProtocolTest, ReadsProgressThenTheFinalReply) {
  PullReply progress;
  progress.progress = {2, 1, 10, 5, 0};
  PullReply result;
  result.kind = PullReply::kResult;
  result.result.record = SampleRecord();
  int lines = 0;
  absl::StatusOr<PullReply> reply = ReadFrom(
      EncodePullReply(progress) + EncodePullReply(progress) + EncodePullReply(result), &lines);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->kind, PullReply::kResult);
  EXPECT_EQ(lines, 2);
}

TEST(PullProtocolTest, ACutOrMissingOrExtraReplyIsAnError) {
  PullReply progress;
  PullReply result;
  result.kind = PullReply::kResult;
  result.result.record = SampleRecord();
  std::string whole = EncodePullReply(result);

  absl::StatusOr<PullReply> none = ReadFrom("");
  EXPECT_TRUE(absl::IsInternal(none.status()));
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("without a result or an error"));

  absl::StatusOr<PullReply> only_progress = ReadFrom(EncodePullReply(progress));
  EXPECT_THAT(std::string(only_progress.status().message()),
              HasSubstr("without a result or an error"));

  absl::StatusOr<PullReply> cut = ReadFrom(whole.substr(0, whole.size() / 2));
  EXPECT_TRUE(absl::IsInternal(cut.status()));
  EXPECT_THAT(std::string(cut.status().message()), HasSubstr("cut short"));

  absl::StatusOr<PullReply> garbage = ReadFrom("\x01\x02 not json\n");
  EXPECT_TRUE(absl::IsInternal(garbage.status()));
  EXPECT_THAT(std::string(garbage.status().message()), HasSubstr("malformed reply"));

  absl::StatusOr<PullReply> extra = ReadFrom(whole + EncodePullReply(progress));
  EXPECT_THAT(std::string(extra.status().message()), HasSubstr("after its final line"));
}

}  // namespace
}  // namespace ocid
