#include "pkg/image/puller.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pkg/base/crash_point.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "pkg/image/auth_file.h"
#include "pkg/storage/image_gc.h"
#include "pkg/trust/sigstore_attachments.h"

namespace ocid {
namespace {

constexpr size_t kMaxConfigBytes = 8 << 20;

bool IsSignatureRefusal(const absl::Status& status) {
  return absl::StartsWith(status.message(), kSignatureValidationFailed);
}

// "docker.io" is served by registry-1.docker.io.
std::string HostFor(const std::string& registry) {
  return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

}  // namespace

struct ImagePuller::Source {
  RegistryEndpoint endpoint;
  std::string repository;
  RegistryAuth auth;
};

ImagePuller::ImagePuller(BlobStore& blobs, LayerStore& layers, ImageStore& images,
                         RegistriesConf registries, PullOptions options,
                         std::shared_ptr<const TrustPolicies> trust,
                         ShortNameAliasCache* aliases)
    : blobs_(blobs),
      layers_(layers),
      images_(images),
      options_(std::move(options)),
      aliases_(aliases),
      registries_(std::make_shared<const RegistriesConf>(std::move(registries))),
      trust_(std::move(trust)) {}

std::shared_ptr<const RegistriesConf> ImagePuller::registries() {
  absl::MutexLock lock(&mu_);
  return registries_;
}

std::shared_ptr<const TrustPolicies> ImagePuller::trust() {
  absl::MutexLock lock(&mu_);
  return trust_;
}

std::optional<PullProgress> ImagePuller::Progress(const std::string& image) {
  absl::MutexLock lock(&mu_);
  auto it = progress_.find(image);
  if (it == progress_.end()) return std::nullopt;
  const ProgressState& state = *it->second;
  return PullProgress{state.layers_total, state.layers_done, state.bytes_total,
                      state.bytes_done};
}

absl::StatusOr<FetchedImage> ImagePuller::Fetch(const std::string& image,
                                                const RegistryAuth& auth,
                                                const std::string& pod_namespace) {
  const std::shared_ptr<const RegistriesConf> registries = this->registries();
  std::shared_ptr<const ImageTrust> trust;
  if (std::shared_ptr<const TrustPolicies> policies = this->trust()) {
    ASSIGN_OR_RETURN(trust, policies->For(pod_namespace));
  }
  ASSIGN_OR_RETURN(
      ResolvedName resolved,
      ResolveCandidates(image, *registries,
                        aliases_ != nullptr ? aliases_->Aliases()
                                            : std::map<std::string, std::string>()));
  auto progress = std::make_shared<ProgressState>();
  {
    absl::MutexLock lock(&mu_);
    progress_.emplace(image, progress);
  }
  absl::Cleanup forget = [&] {
    absl::MutexLock lock(&mu_);
    for (auto it = progress_.lower_bound(image); it != progress_.upper_bound(image); ++it) {
      if (it->second == progress) {
        progress_.erase(it);
        break;
      }
    }
  };
  absl::Status last_error =
      absl::NotFoundError(absl::StrCat("no registry to pull ", image, " from"));
  std::optional<absl::Status> refused;
  for (const ImageReference& reference : resolved.candidates) {
    absl::StatusOr<FetchedImage> pulled =
        PullReference(reference, auth, *progress, *registries, trust.get());
    if (pulled.ok()) {
      if (!resolved.record_alias.empty()) {
        pulled->alias = resolved.record_alias;
        pulled->alias_target = reference.Name();
      }
      return pulled;
    }
    // The policy's refusal names the image itself, in the words kubelet
    // and users look for, and is what is returned when no candidate pulls:
    // a later one's "not found" would hide why the image was refused.
    if (IsSignatureRefusal(pulled.status())) {
      if (!refused.has_value()) refused = pulled.status();
      continue;
    }
    last_error = absl::Status(pulled.status().code(),
                              absl::StrCat("pull ", reference.String(), ": ",
                                           pulled.status().message()));
  }
  return refused.value_or(last_error);
}

// Mirrors first (registries.conf order), then the registry itself.
absl::StatusOr<FetchedImage> ImagePuller::PullReference(const ImageReference& reference,
                                                        const RegistryAuth& auth,
                                                        ProgressState& progress,
                                                        const RegistriesConf& registries,
                                                        const ImageTrust* trust) {
  ASSIGN_OR_RETURN(std::vector<Source> sources, SourcesFor(reference, auth, registries));
  absl::Status last_error;
  for (const Source& source : sources) {
    absl::StatusOr<FetchedImage> pulled = PullFrom(source, reference, progress, trust);
    if (pulled.ok()) return pulled;
    // A mirror's refused manifest is reported over a later location's
    // connection error, as in Pull.
    if (!IsSignatureRefusal(last_error)) last_error = pulled.status();
  }
  return last_error;
}

absl::Status ImagePuller::CheckTrustAgain(const ImageTrust& trust, const ImageReference& image,
                                          const std::string& manifest_digest) {
  return CheckTrustAgainWith(trust, image, manifest_digest, *registries(), options_.auth_file);
}

absl::StatusOr<std::vector<ImagePuller::Source>> ImagePuller::SourcesFor(
    const ImageReference& reference, const RegistryAuth& auth, const RegistriesConf& registries) {
  return SourcesOf(reference, auth, registries, options_.auth_file);
}

absl::StatusOr<std::vector<ImagePuller::Source>> ImagePuller::SourcesOf(
    const ImageReference& reference, const RegistryAuth& auth, const RegistriesConf& registries,
    const std::string& auth_file) {
  std::string name = reference.Name();
  const RegistryConfig* config = registries.Find(name);
  std::vector<std::pair<std::string, bool>> locations;  // "host/repo", insecure
  if (config != nullptr) {
    if (config->blocked) {
      return absl::FailedPreconditionError(
          absl::StrCat("registry ", config->prefix, " is blocked in registries.conf"));
    }
    std::string rest = name.substr(config->prefix.size());
    for (const RegistryMirror& mirror : config->mirrors) {
      locations.emplace_back(mirror.location + rest, mirror.insecure);
    }
    locations.emplace_back(config->location + rest, config->insecure);
  } else {
    locations.emplace_back(name, false);
  }

  std::vector<Source> sources;
  for (const auto& [location, insecure] : locations) {
    Source source;
    size_t slash = location.find('/');
    source.endpoint.host = HostFor(location.substr(0, slash));
    source.endpoint.insecure = insecure;
    source.repository = location.substr(slash + 1);
    source.auth = auth;
    bool has_auth = !auth.username.empty() || !auth.identity_token.empty() ||
                    !auth.registry_token.empty();
    if (!has_auth && !auth_file.empty()) {
      ASSIGN_OR_RETURN(RegistryCredentials saved,
                       LookupAuthFile(auth_file, location.substr(0, slash),
                                      source.repository));
      source.auth = {saved.username, saved.password, saved.identity_token, saved.registry_token};
    }
    sources.push_back(std::move(source));
  }
  return sources;
}

absl::Status CheckTrustAgainWith(const ImageTrust& trust, const ImageReference& image,
                                 const std::string& manifest_digest,
                                 const RegistriesConf& registries, const std::string& auth_file) {
  absl::StatusOr<std::vector<ImagePuller::Source>> sources =
      ImagePuller::SourcesOf(image, RegistryAuth(), registries, auth_file);
  // No registry to read attachments from (now blocked, say): the policy is
  // checked with what needs none.
  if (!sources.ok() || sources->empty()) return trust.Check(image, manifest_digest);
  absl::Status first_refusal;
  for (const ImagePuller::Source& source : *sources) {
    RegistryClient client(source.endpoint, source.auth);
    AttachmentSource attachments = RegistryAttachmentSource(client, source.repository);
    absl::Status checked = trust.Check(image, manifest_digest, &attachments);
    if (checked.ok()) return checked;
    if (first_refusal.ok()) first_refusal = checked;
  }
  return first_refusal;
}

absl::StatusOr<FetchedImage> ImagePuller::PullFrom(const Source& source,
                                                   const ImageReference& reference,
                                                   ProgressState& progress,
                                                   const ImageTrust* trust) {
  RegistryClient client(source.endpoint, source.auth);
  const std::string& repository = source.repository;
  std::vector<Lease> leases;  // held until the image record is published
  ASSIGN_OR_RETURN(
      ResolvedManifest resolved,
      FetchManifest(client, repository, reference, trust, leases));
  const ImageManifest& manifest = resolved.manifest;

  leases.push_back(blobs_.LeaseBlob(manifest.config.digest));
  RETURN_IF_ERROR(FetchBlob(client, repository, manifest.config, nullptr));
  ASSIGN_OR_RETURN(std::string config_text,
                   blobs_.ReadBlob(manifest.config.digest, kMaxConfigBytes));
  ASSIGN_OR_RETURN(ImageConfig config, ParseImageConfig(config_text));
  if (config.diff_ids.size() != manifest.layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the manifest has ", manifest.layers.size(), " layers but the image config lists ",
        config.diff_ids.size(), " diff IDs"));
  }
  std::vector<Digest> chain_ids;
  for (const Digest& diff_id : config.diff_ids) {
    std::optional<Digest> parent;
    if (!chain_ids.empty()) parent = chain_ids.back();
    chain_ids.push_back(LayerStore::ChainId(parent, diff_id));
  }
  RETURN_IF_ERROR(
      UnpackLayers(client, repository, manifest, chain_ids, config.diff_ids, progress, leases));

  ImageRecord record;
  record.id = manifest.config.digest;
  if (!reference.tag.empty()) record.repo_tags.push_back(reference.Name() + ":" + reference.tag);
  // The list's digest first: it is what the tag names (as docker and
  // containerd report it); the platform manifest's too, so that the image is
  // found by either (cri-o records both).
  if (resolved.list_digest.has_value()) {
    record.repo_digests.push_back(reference.Name() + "@" + resolved.list_digest->String());
  }
  record.repo_digests.push_back(reference.Name() + "@" + resolved.digest.String());
  // The blob the store holds (RemoveImage deletes it).
  record.manifest_digest = resolved.digest;
  record.layers = chain_ids;
  record.size = static_cast<int64_t>(config_text.size());
  for (const Digest& chain_id : chain_ids) {
    if (auto layer = layers_.Get(chain_id)) record.size += layer->unpacked_size;
  }
  record.user = config.user;
  record.pulled_at_nanos = absl::ToUnixNanos(absl::Now());
  FetchedImage fetched;
  fetched.record = std::move(record);
  fetched.leases = std::move(leases);
  fetched.bytes_fetched = progress.bytes_done;
  fetched.layers_reused = progress.layers_reused;
  return fetched;
}

// The manifest the tag or digest names; an index is resolved to the entry
// for our platform. Returns it with its digest and the index's.
absl::StatusOr<ImagePuller::ResolvedManifest> ImagePuller::FetchManifest(
    RegistryClient& client, const std::string& repository, const ImageReference& image,
    const ImageTrust* trust, std::vector<Lease>& leases) {
  const std::string& reference = image.digest.empty() ? image.tag : image.digest;
  ASSIGN_OR_RETURN(FetchedManifest top, client.GetManifest(repository, reference));
  ASSIGN_OR_RETURN(ParsedManifest parsed, ParseManifest(top.media_type, top.body));
  FetchedManifest chosen = top;
  const bool from_list = parsed.index.has_value();
  if (from_list) {
    ASSIGN_OR_RETURN(Descriptor entry,
                     SelectPlatform(*parsed.index, options_.os, options_.architecture));
    ASSIGN_OR_RETURN(chosen, client.GetManifest(repository, entry.digest.String()));
    ASSIGN_OR_RETURN(parsed, ParseManifest(chosen.media_type, chosen.body));
  }
  if (!parsed.manifest.has_value()) {
    return absl::InvalidArgumentError("the index entry for this platform is not an image manifest");
  }
  // Signatures sign the image manifest used (for an index, its entry for
  // our platform, as containers/image checks the one instance it copies).
  // Sigstore attachments are read from the registry the manifest came from
  // (a mirror's own, as containers/image does).
  if (trust != nullptr) {
    AttachmentSource attachments = RegistryAttachmentSource(client, repository);
    RETURN_IF_ERROR(trust->Check(image, chosen.digest.String(), &attachments));
  }
  leases.push_back(blobs_.LeaseBlob(chosen.digest));
  if (!blobs_.Has(chosen.digest)) RETURN_IF_ERROR(blobs_.WriteBlob(chosen.digest, chosen.body));
  ResolvedManifest resolved{*parsed.manifest, chosen.digest, std::nullopt};
  if (from_list) resolved.list_digest = top.digest;
  return resolved;
}

// Downloads `blob` unless the store has it; a concurrent pull of the same
// blob waits for this one instead of fetching it again.
absl::Status ImagePuller::FetchBlob(RegistryClient& client, const std::string& repository,
                                    const Descriptor& blob, ProgressState* progress) {
  if (blobs_.Has(blob.digest)) return absl::OkStatus();
  std::shared_ptr<InflightBlob> flight;
  bool mine = false;
  {
    absl::MutexLock lock(&mu_);
    auto& slot = inflight_[blob.digest.String()];
    if (slot == nullptr) {
      slot = std::make_shared<InflightBlob>();
      mine = true;
    }
    flight = slot;
  }
  if (!mine) {
    flight->done.WaitForNotification();
    return flight->status;
  }
  flight->status = blobs_.Has(blob.digest) ? absl::OkStatus()
                                           : DownloadBlob(client, repository, blob, progress);
  {
    absl::MutexLock lock(&mu_);
    inflight_.erase(blob.digest.String());
  }
  flight->done.Notify();
  return flight->status;
}

absl::Status ImagePuller::DownloadBlob(RegistryClient& client, const std::string& repository,
                                       const Descriptor& blob, ProgressState* progress) {
  ASSIGN_OR_RETURN(auto writer, blobs_.NewWriter(blob.digest, blob.size));
  absl::Status restart_status;
  RETURN_IF_ERROR(client.GetBlob(
      repository, blob.digest,
      [&](absl::string_view chunk) {
        if (progress != nullptr) progress->bytes_done += static_cast<int64_t>(chunk.size());
        absl::Status written = writer->Write(chunk);
        CrashPoint("pull_image.blob_partly_written");
        return written;
      },
      [&] {
        if (progress != nullptr) progress->bytes_done -= writer->written();
        restart_status.Update(writer->Restart());
      }));
  RETURN_IF_ERROR(restart_status);
  return writer->Commit();
}

absl::Status ImagePuller::UnpackLayers(RegistryClient& client, const std::string& repository,
                                       const ImageManifest& manifest,
                                       const std::vector<Digest>& chain_ids,
                                       const std::vector<Digest>& diff_ids, ProgressState& progress,
                                       std::vector<Lease>& leases) {
  const size_t count = manifest.layers.size();
  progress.layers_total = static_cast<int>(count);
  for (size_t i = 0; i < count; ++i) {
    leases.push_back(layers_.LeaseLayer(chain_ids[i]));
    leases.push_back(blobs_.LeaseBlob(manifest.layers[i].digest));
  }
  for (size_t i = 0; i < count; ++i) {
    if (layers_.Get(chain_ids[i]).has_value()) {
      ++progress.layers_done;
      ++progress.layers_reused;
    } else {
      progress.bytes_total += manifest.layers[i].size;
    }
  }
  std::vector<absl::Status> results(count);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (size_t i = next++; i < count && !failed; i = next++) {
      std::string parent = i == 0 ? "" : chain_ids[i - 1].String();
      results[i] = UnpackLayer(client, repository, manifest.layers[i], chain_ids[i], parent,
                               diff_ids[i], progress);
      if (!results[i].ok()) failed = true;
    }
  };
  size_t workers = std::min<size_t>(count, std::max(1, options_.max_parallel_layers));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers; ++i) threads.emplace_back(work);
  work();
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < count; ++i) {
    if (!results[i].ok()) {
      return absl::Status(results[i].code(),
                          absl::StrCat("layer ", i, " (", manifest.layers[i].digest.String(),
                                       "): ", results[i].message()));
    }
  }
  return absl::OkStatus();
}

// The compressed blob is dropped once unpacked: only the layer is kept.
absl::Status ImagePuller::UnpackLayer(RegistryClient& client, const std::string& repository,
                                      const Descriptor& blob, const Digest& chain_id,
                                      const std::string& parent, const Digest& diff_id,
                                      ProgressState& progress) {
  if (layers_.Get(chain_id).has_value()) return absl::OkStatus();  // counted as done
  RETURN_IF_ERROR(FetchBlob(client, repository, blob, &progress));
  absl::StatusOr<UniqueFd> fd = blobs_.OpenBlob(blob.digest);
  if (!fd.ok()) {
    // A concurrent pull unpacked this layer and dropped the blob meanwhile.
    if (layers_.Get(chain_id).has_value()) return absl::OkStatus();
    return fd.status();
  }
  absl::StatusOr<LayerRecord> layer = layers_.Create(chain_id, parent, diff_id, fd->get());
  absl::Status dropped = blobs_.Delete(blob.digest);
  if (!layer.ok()) return layer.status();
  ++progress.layers_done;
  return dropped;
}

}  // namespace ocid
