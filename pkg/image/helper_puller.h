// ocid's side of image pulls: each pull runs in ocid-pull (cmd/ocid), a
// helper process, so that the daemon never loads libcurl, libarchive or
// gpgme nor runs the pull code. ocid keeps what must stay in one place:
// the configuration in effect (the files' text it loaded), the stores'
// leases (held on everything while a helper writes), the image record
// (written here from the helper's result), the alias cache, progress and
// the collection after each pull.
#ifndef OCID_PKG_IMAGE_HELPER_PULLER_H_
#define OCID_PKG_IMAGE_HELPER_PULLER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pkg/image/image_lookup.h"
#include "pkg/image/pull_protocol.h"
#include "pkg/image/registries_conf.h"
#include "pkg/image/short_name_aliases.h"
#include "pkg/storage/blob_store.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/layer_store.h"
#include "pkg/trust/image_trust.h"
#include "pkg/trust/trust_policies.h"

namespace ocid {

// Where the image configuration comes from (ocid's flags and ocid.conf).
struct PullConfigPaths {
  std::string registries_conf;
  std::string signature_policy;
  std::string registries_d;
  std::string signature_policy_dir;
};

// The image configuration as loaded: parsed for ocid's own use, and the
// text it was parsed from for the helper.
struct PullConfig {
  std::vector<RegistriesConfFile> registries_files;
  RegistriesConf registries;
  std::string policy_file;
  std::optional<std::string> policy_text;  // nullopt: the file was missing
  std::shared_ptr<const TrustPolicies> trust;
  std::string registries_d;
  std::string policy_dir;

  // Reads and parses every file; an error names the file, as
  // LoadRegistriesConf and TrustPolicies::Load do.
  static absl::StatusOr<PullConfig> Load(const PullConfigPaths& paths);
};

// What a pull that succeeded cost, for the metrics.
struct PullStats {
  absl::Duration duration;  // from the call until the record was published
  int64_t bytes_fetched = 0;
  int layers_reused = 0;
};

struct HelperPullerOptions {
  std::string helper;        // absolute path of ocid-pull
  std::string storage_root;  // <root>/storage, the stores' parent
  std::string auth_file;     // "" for none
  int max_parallel_layers = 3;
  // Told of each pull that succeeded; may be empty.
  std::function<void(const PullStats&)> on_pulled;
};

class HelperPuller {
 public:
  // The stores and `aliases` (nullptr: none) must outlive this.
  HelperPuller(BlobStore& blobs, LayerStore& layers, ImageStore& images, PullConfig config,
               HelperPullerOptions options, ShortNameAliasCache* aliases);

  // Pulls `image` as the user wrote it. `auth` (from the CRI request) wins
  // over the auth file. Nothing is recorded unless every layer is in place.
  // What the pull fetches is leased (storage's garbage collection skips it)
  // until the image record is published; then a collection runs, which
  // deletes what a failed pull left. The trust policy is checked once the
  // image manifest is known, before the manifest, config or any layer is
  // stored: a refusal is FailedPrecondition "SignatureValidationFailed: ...".
  // `pod_namespace` (the pod the image is pulled for; "" for none) picks
  // the policy; a namespace that is no Kubernetes name is InvalidArgument.
  // A short name resolves as ResolveCandidates says (aliases, then the search
  // registries as short-name-mode allows); when it pulls through a search
  // registry in a mode that records, the alias cache learns where from (a
  // cache that cannot be written does not fail the pull).
  // The fetching is done by a helper (ImagePuller::Fetch in ocid-pull), one
  // pull at a time (the helper writes the shared stores). Its errors come
  // back with their code and message; a helper that dies or answers
  // nonsense is Internal, naming how it ended and the end of what it logged.
  absl::StatusOr<ImageRecord> Pull(const std::string& image, const PullAuth& auth,
                                   const std::string& pod_namespace = "");

  // CreateContainer's re-check (ImagePuller::CheckTrustAgain). A policy
  // that only accepts or rejects `image` is decided here; one that wants a
  // signature is checked by a helper (gpgme, lookasides and registry
  // attachments stay out of ocid).
  absl::Status CheckTrustAgain(const ImageTrust& trust, const ImageReference& image,
                               const std::string& manifest_digest);

  std::optional<PullProgress> Progress(const std::string& image);
  std::shared_ptr<const RegistriesConf> registries();
  ShortNameSources short_names();
  std::shared_ptr<const TrustPolicies> trust();
  // Pulls that start from now on use `config`.
  void Reconfigure(PullConfig config);

 private:
  struct ProgressState {
    std::atomic<int> layers_total{0};
    std::atomic<int> layers_done{0};
    std::atomic<int64_t> bytes_total{0};
    std::atomic<int64_t> bytes_done{0};
  };

  std::shared_ptr<const PullConfig> config();
  // Runs the helper for `request`: its result, or why there is none.
  // The request for `image` with the configuration in effect.
  PullRequest RequestFor(const std::string& image, const PullConfig& config);
  // Runs the helper for `request`: its final reply (a result, a check
  // passed, or the helper's error as the status), or why there is none.
  absl::StatusOr<PullReply> RunHelper(const PullRequest& request, ProgressState& progress);
  absl::StatusOr<ImageRecord> Publish(const std::string& image, const PullResult& result);

  BlobStore& blobs_;
  LayerStore& layers_;
  ImageStore& images_;
  const HelperPullerOptions options_;
  ShortNameAliasCache* const aliases_;

  // Held over a helper's run: one writes the stores at a time. Taken before
  // mu_ and any store's mutex, never under them.
  absl::Mutex pull_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::shared_ptr<const PullConfig> config_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const RegistriesConf> registries_ ABSL_GUARDED_BY(mu_);  // config_'s
  std::multimap<std::string, std::shared_ptr<ProgressState>> progress_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_HELPER_PULLER_H_
