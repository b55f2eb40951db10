// What ocid and its pull helper, ocid-pull, say to each other.
//
// ocid writes one PullRequest (JSON) to the helper's stdin; the helper
// writes JSON lines to fd 3: progress while it works, then exactly one
// result (the image record to publish) or error (a status code and
// message, kept as the helper's puller returned them). ocid reads until EOF:
// a reply that is not JSON of this form, a missing final line or a helper
// that exits without one is an error naming what was wrong.
#ifndef OCID_PKG_IMAGE_PULL_PROTOCOL_H_
#define OCID_PKG_IMAGE_PULL_PROTOCOL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/image/registries_conf.h"
#include "pkg/storage/image_store.h"

namespace ocid {

// Credentials given with PullImage (CRI AuthConfig, "auth" decoded).
struct PullAuth {
  std::string username;
  std::string password;
  std::string identity_token;
  std::string registry_token;
};

// What the helper needs: the image, and the configuration ocid loaded (the
// files' text as ocid read it, so that a file changed without a reload is
// not used), and where the stores are.
struct PullRequest {
  // kCheckTrust: CreateContainer's trust re-check of a stored image
  // (ImagePuller::CheckTrustAgain) instead of a pull; no store is opened.
  enum Mode { kPull, kCheckTrust };
  Mode mode = kPull;
  std::string image;            // as the user wrote it; kCheckTrust: the reference checked
  std::string manifest_digest;  // kCheckTrust: the stored image manifest's
  PullAuth auth;
  std::string pod_namespace;
  std::string storage_root;  // <root>/storage
  std::string auth_file;     // "" for none
  std::vector<RegistriesConfFile> registries_conf;
  std::string policy_file;
  // The policy's text; nullopt when the file was missing.
  std::optional<std::string> policy_text;
  std::string registries_d;
  std::string policy_dir;                             // per-namespace policies; "" for none
  std::map<std::string, std::string> cached_aliases;  // the short-name alias cache
  int max_parallel_layers = 3;
};

// How far a pull has come; layers already in the store count as done.
struct PullProgress {
  int layers_total = 0;
  int layers_done = 0;
  int64_t bytes_total = 0;  // compressed sizes of the layers to download
  int64_t bytes_done = 0;
};

// How far the helper has come (its PullProgress, as sent).
struct PullProgressReport {
  int layers_total = 0;
  int layers_done = 0;
  int64_t bytes_total = 0;
  int64_t bytes_done = 0;
  // Layers found in the store (not fetched), once known.
  int layers_reused = 0;
};

// The helper's pull that succeeded: the record for ocid to publish.
struct PullResult {
  ImageRecord record;
  std::string alias;  // to record in the alias cache; "" for none
  std::string alias_target;
  int64_t bytes_fetched = 0;  // for the pull metrics
  int layers_reused = 0;
};

// One line of the helper's reply.
struct PullReply {
  // kChecked: a trust re-check passed.
  enum Kind { kProgress, kResult, kError, kChecked };
  Kind kind = kProgress;
  PullProgressReport progress;
  PullResult result;
  absl::Status error;  // kError: never OK
};

std::string EncodePullRequest(const PullRequest& request);
// InvalidArgument for text that is no PullRequest.
absl::StatusOr<PullRequest> DecodePullRequest(absl::string_view text);

// One line, with its newline.
std::string EncodePullReply(const PullReply& reply);
// One line, without its newline. InvalidArgument for a line that is no reply.
absl::StatusOr<PullReply> DecodePullReply(absl::string_view line);

// Reads a helper's replies from `fd` until EOF, passing each progress line
// to `on_progress`; returns the final reply (a result or the helper's
// error), or Internal when the stream ends without one, is garbage, or goes
// on after it.
absl::StatusOr<PullReply> ReadPullReplies(
    int fd, const std::function<void(const PullProgressReport&)>& on_progress);

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_PULL_PROTOCOL_H_
