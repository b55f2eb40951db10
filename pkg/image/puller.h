// Pulls an image from its registry into the stores: resolve the name
// (registries.conf), fetch the manifest (choosing linux/amd64 from an index),
// the config, and each missing layer (bounded parallel downloads, each blob
// once even across concurrent pulls), unpack, and record the image.
#ifndef OCID_PKG_IMAGE_PULLER_H_
#define OCID_PKG_IMAGE_PULLER_H_

#include <atomic>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "pkg/image/image_lookup.h"
#include "pkg/image/manifest.h"
#include "pkg/image/pull_protocol.h"  // PullProgress
#include "pkg/image/reference.h"
#include "pkg/image/registries_conf.h"
#include "pkg/image/registry_client.h"
#include "pkg/image/short_name_aliases.h"
#include "pkg/storage/blob_store.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/layer_store.h"
#include "pkg/storage/lease.h"
#include "pkg/trust/image_trust.h"
#include "pkg/trust/trust_policies.h"

namespace ocid {

struct PullOptions {
  int max_parallel_layers = 3;
  std::string auth_file;  // containers auth.json; "" for none
  std::string os = "linux";
  std::string architecture = "amd64";
};

// CreateContainer's re-check (ImagePuller::CheckTrustAgain) with
// `registries` and the auth file at `auth_file` ("" for none): needs no
// store, so ocid-pull runs it beside pulls.
absl::Status CheckTrustAgainWith(const ImageTrust& trust, const ImageReference& image,
                                 const std::string& manifest_digest,
                                 const RegistriesConf& registries, const std::string& auth_file);

// What Fetch brought into the stores: the image record to publish and, for
// a short name found through the search registries, the alias to record.
struct FetchedImage {
  ImageRecord record;
  std::string alias;         // "" for none
  std::string alias_target;  // the repository `alias` names
  std::vector<Lease> leases;  // on what was fetched, until the record is published
  int64_t bytes_fetched = 0;  // blob bytes fetched from registries by this pull
  int layers_reused = 0;      // layers already stored, not fetched
};

class ImagePuller {
 public:
  // `trust` is checked for every image before anything of it is stored
  // (the policy of the pull's pod namespace, see TrustPolicies::For);
  // nullptr accepts every image. `aliases` (nullptr: none) is the
  // short-name alias cache, read when a short name resolves and written
  // when one pulls through the search registries; it must outlive this.
  ImagePuller(BlobStore& blobs, LayerStore& layers, ImageStore& images,
              RegistriesConf registries, PullOptions options,
              std::shared_ptr<const TrustPolicies> trust = nullptr,
              ShortNameAliasCache* aliases = nullptr);

  // The fetching part of a pull (what ocid-pull does; HelperPuller::Pull
  // says what a pull is): everything is in the blob and layer stores, but no
  // image record is written, no alias recorded and no collection run. The
  // crash points of the steps it does fire here.
  absl::StatusOr<FetchedImage> Fetch(const std::string& image, const RegistryAuth& auth,
                                     const std::string& pod_namespace = "");

  // `trust` checked again for `image` (a stored image's name) whose image
  // manifest has `manifest_digest` (CreateContainer's re-check), the
  // signatures read as a pull reads them: the lookaside, and sigstore
  // attachments from the registry's locations (mirrors first) with the auth
  // file's credentials. OK when one location's satisfy the policy.
  absl::Status CheckTrustAgain(const ImageTrust& trust, const ImageReference& image,
                               const std::string& manifest_digest);

  // The progress of a pull of `image` (as given to Pull) running now.
  std::optional<PullProgress> Progress(const std::string& image);

  // The registries.conf in effect.
  std::shared_ptr<const RegistriesConf> registries();

  // The trust policies in effect (nullptr: every image is accepted).
  std::shared_ptr<const TrustPolicies> trust();

 private:
  friend absl::Status CheckTrustAgainWith(const ImageTrust&, const ImageReference&,
                                          const std::string&, const RegistriesConf&,
                                          const std::string&);
  struct ProgressState {
    std::atomic<int> layers_total{0};
    std::atomic<int> layers_done{0};
    std::atomic<int64_t> bytes_total{0};
    std::atomic<int64_t> bytes_done{0};
    std::atomic<int> layers_reused{0};
  };
  struct Source;  // one registry endpoint to pull a reference from
  // The image manifest a tag or digest led to.
  struct ResolvedManifest {
    ImageManifest manifest;
    Digest digest;                      // the image manifest's own digest
    std::optional<Digest> list_digest;  // the index / manifest list's, if one led to it
  };
  struct InflightBlob {
    absl::Notification done;
    absl::Status status;
  };

  // Where `reference` is pulled from: its mirrors, then itself, each with
  // `auth` or the auth file's credentials. FailedPrecondition if blocked.
  absl::StatusOr<std::vector<Source>> SourcesFor(const ImageReference& reference,
                                                 const RegistryAuth& auth,
                                                 const RegistriesConf& registries);
  static absl::StatusOr<std::vector<Source>> SourcesOf(const ImageReference& reference,
                                                       const RegistryAuth& auth,
                                                       const RegistriesConf& registries,
                                                       const std::string& auth_file);
  absl::StatusOr<FetchedImage> PullReference(const ImageReference& reference,
                                             const RegistryAuth& auth, ProgressState& progress,
                                             const RegistriesConf& registries,
                                             const ImageTrust* trust);
  absl::StatusOr<FetchedImage> PullFrom(const Source& source, const ImageReference& reference,
                                        ProgressState& progress, const ImageTrust* trust);
  // `leases` get the blobs and layers a pull fetches, each before it is
  // looked for in the store. `trust` (if any) is checked for `image` before
  // the manifest is stored.
  absl::StatusOr<ResolvedManifest> FetchManifest(RegistryClient& client,
                                                 const std::string& repository,
                                                 const ImageReference& image,
                                                 const ImageTrust* trust,
                                                 std::vector<Lease>& leases);
  absl::Status FetchBlob(RegistryClient& client, const std::string& repository,
                         const Descriptor& blob, ProgressState* progress);
  absl::Status DownloadBlob(RegistryClient& client, const std::string& repository,
                            const Descriptor& blob, ProgressState* progress);
  absl::Status UnpackLayers(RegistryClient& client, const std::string& repository,
                            const ImageManifest& manifest, const std::vector<Digest>& chain_ids,
                            const std::vector<Digest>& diff_ids, ProgressState& progress,
                            std::vector<Lease>& leases);
  absl::Status UnpackLayer(RegistryClient& client, const std::string& repository,
                           const Descriptor& blob, const Digest& chain_id,
                           const std::string& parent, const Digest& diff_id,
                           ProgressState& progress);

  BlobStore& blobs_;
  LayerStore& layers_;
  ImageStore& images_;
  const PullOptions options_;
  ShortNameAliasCache* const aliases_;

  absl::Mutex mu_;
  std::shared_ptr<const RegistriesConf> registries_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const TrustPolicies> trust_ ABSL_GUARDED_BY(mu_);
  // Blobs being downloaded now, so that concurrent pulls fetch each once.
  std::map<std::string, std::shared_ptr<InflightBlob>> inflight_ ABSL_GUARDED_BY(mu_);
  // Pulls running now, by the name they were asked for.
  std::multimap<std::string, std::shared_ptr<ProgressState>> progress_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_PULLER_H_
