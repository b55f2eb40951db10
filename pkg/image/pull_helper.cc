#include "pkg/image/pull_helper.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "pkg/base/status_macros.h"
#include "pkg/image/pull_protocol.h"
#include "pkg/image/puller.h"
#include "pkg/image/reference.h"
#include "pkg/image/registries_conf.h"
#include "pkg/image/short_name_aliases.h"
#include "pkg/storage/blob_store.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/layer_store.h"
#include "pkg/trust/image_trust.h"
#include "pkg/trust/trust_policies.h"

namespace ocid {
namespace {

constexpr int kReplyFd = 3;

// Whole lines, one write each: ocid reads them as they come.
void Send(const PullReply& reply) {
  std::string line = EncodePullReply(reply);
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(kReplyFd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);  // ocid is gone
    data += n;
    left -= static_cast<size_t>(n);
  }
}

absl::StatusOr<std::string> PolicyText(const PullRequest& request) {
  if (request.policy_text.has_value()) return *request.policy_text;
  return absl::NotFoundError("no such file");
}

// CreateContainer's re-check of a stored image: no store is opened (a
// pull may be writing them).
absl::Status CheckTrust(const PullRequest& request) {
  ASSIGN_OR_RETURN(RegistriesConf registries, ParseRegistriesConfFiles(request.registries_conf));
  ASSIGN_OR_RETURN(
      std::unique_ptr<ImageTrust> trust,
      ImageTrust::LoadText(request.policy_file, PolicyText(request), request.registries_d));
  ASSIGN_OR_RETURN(ImageReference image, ParseImageReference(request.image));
  return CheckTrustAgainWith(*trust, image, request.manifest_digest, registries, request.auth_file);
}

absl::StatusOr<PullResult> Run(const PullRequest& request) {
  ASSIGN_OR_RETURN(RegistriesConf registries, ParseRegistriesConfFiles(request.registries_conf));
  absl::StatusOr<std::string> policy_text = PolicyText(request);
  ASSIGN_OR_RETURN(std::shared_ptr<const TrustPolicies> trust,
                   TrustPolicies::LoadText(request.policy_file, policy_text, request.registries_d,
                                           request.policy_dir));
  const std::string& storage = request.storage_root;
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> blobs, BlobStore::Open(storage + "/content"));
  ASSIGN_OR_RETURN(std::unique_ptr<LayerStore> layers, LayerStore::Open(storage + "/layers"));
  ASSIGN_OR_RETURN(std::unique_ptr<ImageStore> images, ImageStore::Open(storage + "/images"));
  std::unique_ptr<ShortNameAliasCache> aliases =
      ShortNameAliasCache::ReadOnly(request.cached_aliases);
  PullOptions options;
  options.auth_file = request.auth_file;
  options.max_parallel_layers = request.max_parallel_layers;
  ImagePuller puller(*blobs, *layers, *images, std::move(registries), options, std::move(trust),
                     aliases.get());

  // Progress every 100 ms while it changes.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread reporter([&] {
    PullProgress last{-1, -1, -1, -1};
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; })) {
      std::optional<PullProgress> now = puller.Progress(request.image);
      if (!now.has_value()) continue;
      if (now->layers_total == last.layers_total && now->layers_done == last.layers_done &&
          now->bytes_total == last.bytes_total && now->bytes_done == last.bytes_done) {
        continue;
      }
      last = *now;
      PullReply reply;
      reply.progress = {now->layers_total, now->layers_done, now->bytes_total, now->bytes_done, 0};
      Send(reply);
    }
  });
  RegistryAuth auth{request.auth.username, request.auth.password, request.auth.identity_token,
                    request.auth.registry_token};
  absl::StatusOr<FetchedImage> fetched = puller.Fetch(request.image, auth, request.pod_namespace);
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  reporter.join();
  if (!fetched.ok()) return fetched.status();
  return PullResult{fetched->record, fetched->alias, fetched->alias_target, fetched->bytes_fetched,
                    fetched->layers_reused};
}

}  // namespace

int PullHelperMain(int argc, char** argv) {
  pid_t parent = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (::strcmp(argv[i], "--parent-pid") == 0) absl::SimpleAtoi(argv[i + 1], &parent);
  }
  // Die with ocid; if it died before we asked, we were reparented already.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (parent != 0 && ::getppid() != parent) return 2;
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  PullReply reply;
  absl::StatusOr<PullRequest> request = DecodePullRequest(input);
  if (request.ok() && request->mode == PullRequest::kCheckTrust) {
    absl::Status checked = CheckTrust(*request);
    reply.kind = checked.ok() ? PullReply::kChecked : PullReply::kError;
    reply.error = checked;
    Send(reply);
    return 0;
  }
  absl::StatusOr<PullResult> result = request.ok() ? Run(*request) : request.status();
  if (result.ok()) {
    reply.kind = PullReply::kResult;
    reply.result = std::move(*result);
  } else {
    reply.kind = PullReply::kError;
    reply.error = result.status();
  }
  Send(reply);
  return 0;
}

}  // namespace ocid
