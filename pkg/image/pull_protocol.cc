#include "pkg/image/pull_protocol.h"

#include <errno.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

using nlohmann::json;

// A reply line longer than this is garbage (a record is a few kB).
constexpr size_t kMaxReplyLine = 1 << 20;

absl::Status Malformed(absl::string_view what, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed ", what, ": ", why));
}

absl::StatusOr<json> ParseObject(absl::string_view text, absl::string_view what) {
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Malformed(what, "not JSON");
  if (!parsed.is_object()) return Malformed(what, "not a JSON object");
  return parsed;
}

// Reads `key` of `object` into `out` if present; a wrong type is an error.
template <typename T>
absl::Status Get(const json& object, const char* key, T& out, absl::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    return Malformed(what, absl::StrCat("\"", key, "\" has the wrong type"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodePullRequest(const PullRequest& request) {
  json files = json::array();
  for (const RegistriesConfFile& file : request.registries_conf) {
    files.push_back({{"path", file.path}, {"text", file.text}, {"drop_in", file.drop_in}});
  }
  json out = {
      {"mode", request.mode == PullRequest::kCheckTrust ? "check_trust" : "pull"},
      {"image", request.image},
      {"manifest_digest", request.manifest_digest},
      {"auth",
       {{"username", request.auth.username},
        {"password", request.auth.password},
        {"identity_token", request.auth.identity_token},
        {"registry_token", request.auth.registry_token}}},
      {"pod_namespace", request.pod_namespace},
      {"storage_root", request.storage_root},
      {"auth_file", request.auth_file},
      {"registries_conf", files},
      {"policy_file", request.policy_file},
      {"registries_d", request.registries_d},
      {"policy_dir", request.policy_dir},
      {"cached_aliases", request.cached_aliases},
      {"max_parallel_layers", request.max_parallel_layers},
  };
  if (request.policy_text.has_value()) out["policy_text"] = *request.policy_text;
  return out.dump();
}

absl::StatusOr<PullRequest> DecodePullRequest(absl::string_view text) {
  constexpr absl::string_view kWhat = "pull request";
  ASSIGN_OR_RETURN(json in, ParseObject(text, kWhat));
  PullRequest request;
  std::string mode = "pull";
  RETURN_IF_ERROR(Get(in, "mode", mode, kWhat));
  if (mode == "check_trust") {
    request.mode = PullRequest::kCheckTrust;
  } else if (mode != "pull") {
    return Malformed(kWhat, absl::StrCat("unknown mode \"", mode, "\""));
  }
  RETURN_IF_ERROR(Get(in, "manifest_digest", request.manifest_digest, kWhat));
  RETURN_IF_ERROR(Get(in, "image", request.image, kWhat));
  if (request.image.empty()) return Malformed(kWhat, "no image");
  if (auto auth = in.find("auth"); auth != in.end() && auth->is_object()) {
    RETURN_IF_ERROR(Get(*auth, "username", request.auth.username, kWhat));
    RETURN_IF_ERROR(Get(*auth, "password", request.auth.password, kWhat));
    RETURN_IF_ERROR(Get(*auth, "identity_token", request.auth.identity_token, kWhat));
    RETURN_IF_ERROR(Get(*auth, "registry_token", request.auth.registry_token, kWhat));
  }
  RETURN_IF_ERROR(Get(in, "pod_namespace", request.pod_namespace, kWhat));
  RETURN_IF_ERROR(Get(in, "storage_root", request.storage_root, kWhat));
  if (request.storage_root.empty() && request.mode == PullRequest::kPull) {
    return Malformed(kWhat, "no storage_root");
  }
  RETURN_IF_ERROR(Get(in, "auth_file", request.auth_file, kWhat));
  if (auto files = in.find("registries_conf"); files != in.end() && !files->is_null()) {
    if (!files->is_array()) return Malformed(kWhat, "\"registries_conf\" is not an array");
    for (const json& file : *files) {
      if (!file.is_object()) return Malformed(kWhat, "a registries_conf entry is no object");
      RegistriesConfFile entry;
      RETURN_IF_ERROR(Get(file, "path", entry.path, kWhat));
      RETURN_IF_ERROR(Get(file, "text", entry.text, kWhat));
      RETURN_IF_ERROR(Get(file, "drop_in", entry.drop_in, kWhat));
      request.registries_conf.push_back(std::move(entry));
    }
  }
  RETURN_IF_ERROR(Get(in, "policy_file", request.policy_file, kWhat));
  if (in.contains("policy_text") && !in["policy_text"].is_null()) {
    std::string policy_text;
    RETURN_IF_ERROR(Get(in, "policy_text", policy_text, kWhat));
    request.policy_text = std::move(policy_text);
  }
  RETURN_IF_ERROR(Get(in, "registries_d", request.registries_d, kWhat));
  RETURN_IF_ERROR(Get(in, "policy_dir", request.policy_dir, kWhat));
  RETURN_IF_ERROR(Get(in, "cached_aliases", request.cached_aliases, kWhat));
  RETURN_IF_ERROR(Get(in, "max_parallel_layers", request.max_parallel_layers, kWhat));
  return request;
}

std::string EncodePullReply(const PullReply& reply) {
  json out;
  switch (reply.kind) {
    case PullReply::kProgress:
      out["progress"] = {{"layers_total", reply.progress.layers_total},
                         {"layers_done", reply.progress.layers_done},
                         {"bytes_total", reply.progress.bytes_total},
                         {"bytes_done", reply.progress.bytes_done},
                         {"layers_reused", reply.progress.layers_reused}};
      break;
    case PullReply::kResult:
      out["result"] = {{"record", ImageRecordToJson(reply.result.record)},
                       {"alias", reply.result.alias},
                       {"alias_target", reply.result.alias_target},
                       {"bytes_fetched", reply.result.bytes_fetched},
                       {"layers_reused", reply.result.layers_reused}};
      break;
    case PullReply::kError:
      out["error"] = {{"code", static_cast<int>(reply.error.code())},
                      {"message", std::string(reply.error.message())}};
      break;
    case PullReply::kChecked:
      out["checked"] = json::object();
      break;
  }
  return out.dump() + "\n";
}

absl::StatusOr<PullReply> DecodePullReply(absl::string_view line) {
  constexpr absl::string_view kWhat = "reply from ocid-pull";
  ASSIGN_OR_RETURN(json in, ParseObject(line, kWhat));
  if (in.size() != 1)
    return Malformed(kWhat, "not exactly one of progress, result, error, checked");
  PullReply reply;
  if (auto it = in.find("progress"); it != in.end()) {
    if (!it->is_object()) return Malformed(kWhat, "\"progress\" is not an object");
    reply.kind = PullReply::kProgress;
    RETURN_IF_ERROR(Get(*it, "layers_total", reply.progress.layers_total, kWhat));
    RETURN_IF_ERROR(Get(*it, "layers_done", reply.progress.layers_done, kWhat));
    RETURN_IF_ERROR(Get(*it, "bytes_total", reply.progress.bytes_total, kWhat));
    RETURN_IF_ERROR(Get(*it, "bytes_done", reply.progress.bytes_done, kWhat));
    RETURN_IF_ERROR(Get(*it, "layers_reused", reply.progress.layers_reused, kWhat));
    return reply;
  }
  if (auto it = in.find("result"); it != in.end()) {
    if (!it->is_object()) return Malformed(kWhat, "\"result\" is not an object");
    reply.kind = PullReply::kResult;
    std::string record;
    RETURN_IF_ERROR(Get(*it, "record", record, kWhat));
    absl::StatusOr<ImageRecord> parsed = ImageRecordFromJson(record);
    if (!parsed.ok()) return Malformed(kWhat, parsed.status().message());
    reply.result.record = std::move(*parsed);
    RETURN_IF_ERROR(Get(*it, "alias", reply.result.alias, kWhat));
    RETURN_IF_ERROR(Get(*it, "alias_target", reply.result.alias_target, kWhat));
    RETURN_IF_ERROR(Get(*it, "bytes_fetched", reply.result.bytes_fetched, kWhat));
    RETURN_IF_ERROR(Get(*it, "layers_reused", reply.result.layers_reused, kWhat));
    return reply;
  }
  if (auto it = in.find("error"); it != in.end()) {
    if (!it->is_object()) return Malformed(kWhat, "\"error\" is not an object");
    reply.kind = PullReply::kError;
    int code = static_cast<int>(absl::StatusCode::kUnknown);
    std::string message;
    RETURN_IF_ERROR(Get(*it, "code", code, kWhat));
    RETURN_IF_ERROR(Get(*it, "message", message, kWhat));
    // OK or a code absl does not know would lose the failure.
    if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
      code = static_cast<int>(absl::StatusCode::kUnknown);
    }
    reply.error = absl::Status(static_cast<absl::StatusCode>(code), message);
    return reply;
  }
  if (auto it = in.find("checked"); it != in.end()) {
    if (!it->is_object()) return Malformed(kWhat, "\"checked\" is not an object");
    reply.kind = PullReply::kChecked;
    return reply;
  }
  return Malformed(kWhat, "not one of progress, result, error, checked");
}

absl::StatusOr<PullReply> ReadPullReplies(
    int fd, const std::function<void(const PullProgressReport&)>& on_progress) {
  std::string buffer;
  std::optional<PullReply> final_reply;
  char chunk[16384];
  auto handle_line = [&](absl::string_view line) -> absl::Status {
    if (final_reply.has_value()) {
      return absl::InternalError("ocid-pull replied after its final line");
    }
    absl::StatusOr<PullReply> reply = DecodePullReply(line);
    if (!reply.ok()) return absl::InternalError(reply.status().message());
    if (reply->kind == PullReply::kProgress) {
      if (on_progress) on_progress(reply->progress);
    } else {
      final_reply = std::move(*reply);
    }
    return absl::OkStatus();
  };
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "read ocid-pull's replies");
    }
    if (n == 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      RETURN_IF_ERROR(handle_line(absl::string_view(buffer).substr(start, nl - start)));
    }
    buffer.erase(0, start);
    if (buffer.size() > kMaxReplyLine) {
      return absl::InternalError("ocid-pull sent a reply line over 1 MiB");
    }
  }
  if (!buffer.empty()) {
    return absl::InternalError(absl::StrCat("ocid-pull's reply was cut short: ", buffer.size(),
                                            " bytes without a newline"));
  }
  if (!final_reply.has_value()) {
    return absl::InternalError("ocid-pull ended without a result or an error");
  }
  return std::move(*final_reply);
}

}  // namespace ocid
