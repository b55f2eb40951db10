#include "pkg/image/helper_puller.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pkg/base/crash_point.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/unique_fd.h"
#include "pkg/storage/image_gc.h"
#include "pkg/trust/image_trust.h"

namespace ocid {
namespace {

// What CrashPoint writes before it exits (pkg/base/crash_point.cc).
constexpr char kCrashPointLine[] = "ocid: test crash point ";

// The last lines of what the helper logged, for an error about it.
std::string Tail(const std::string& text) {
  constexpr size_t kMax = 2000;
  std::string tail = text.size() > kMax ? text.substr(text.size() - kMax) : text;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return tail;
}

// A helper that stopped at a test crash point stops ocid there too, so
// that the crash tests see the daemon die mid-pull as they did when it
// pulled itself (a no-op when not testing, or in -c opt builds).
void FollowCrashPoint(const std::string& helper_log) {
  size_t at = helper_log.find(kCrashPointLine);
  if (at == std::string::npos) return;
  size_t start = at + sizeof(kCrashPointLine) - 1;
  std::string name = helper_log.substr(start, helper_log.find('\n', start) - start);
  CrashPoint(name.c_str());
}

}  // namespace

absl::StatusOr<PullConfig> PullConfig::Load(const PullConfigPaths& paths) {
  PullConfig config;
  ASSIGN_OR_RETURN(config.registries_files, ReadRegistriesConfFiles(paths.registries_conf));
  ASSIGN_OR_RETURN(config.registries, ParseRegistriesConfFiles(config.registries_files));
  absl::StatusOr<std::string> text = ImageTrust::ReadPolicyText(paths.signature_policy);
  ASSIGN_OR_RETURN(config.trust,
                   TrustPolicies::LoadText(paths.signature_policy, text, paths.registries_d,
                                           paths.signature_policy_dir));
  if (text.ok()) config.policy_text = std::move(*text);
  config.policy_file = paths.signature_policy;
  config.registries_d = paths.registries_d;
  config.policy_dir = paths.signature_policy_dir;
  return config;
}

HelperPuller::HelperPuller(BlobStore& blobs, LayerStore& layers, ImageStore& images,
                           PullConfig config, HelperPullerOptions options,
                           ShortNameAliasCache* aliases)
    : blobs_(blobs),
      layers_(layers),
      images_(images),
      options_(std::move(options)),
      aliases_(aliases),
      config_(std::make_shared<const PullConfig>(std::move(config))),
      registries_(std::make_shared<const RegistriesConf>(config_->registries)) {}

std::shared_ptr<const PullConfig> HelperPuller::config() {
  absl::MutexLock lock(&mu_);
  return config_;
}

std::shared_ptr<const RegistriesConf> HelperPuller::registries() {
  absl::MutexLock lock(&mu_);
  return registries_;
}

ShortNameSources HelperPuller::short_names() {
  std::shared_ptr<const RegistriesConf> conf = registries();
  ShortNameSources sources(conf->unqualified_search_registries);
  sources.aliases = conf->aliases;
  if (aliases_ != nullptr) sources.cached_aliases = aliases_->Aliases();
  return sources;
}

std::shared_ptr<const TrustPolicies> HelperPuller::trust() { return config()->trust; }

void HelperPuller::Reconfigure(PullConfig config) {
  auto registries = std::make_shared<const RegistriesConf>(config.registries);
  auto shared = std::make_shared<const PullConfig>(std::move(config));
  absl::MutexLock lock(&mu_);
  config_ = std::move(shared);
  registries_ = std::move(registries);
}

absl::Status HelperPuller::CheckTrustAgain(const ImageTrust& trust, const ImageReference& image,
                                           const std::string& manifest_digest) {
  if (!trust.NeedsSignatures(image)) return trust.Check(image, manifest_digest);
  std::shared_ptr<const PullConfig> config = this->config();
  PullRequest request = RequestFor(image.String(), *config);
  request.mode = PullRequest::kCheckTrust;
  request.manifest_digest = manifest_digest;
  // The policy `trust` holds: the global one as loaded, or the pod
  // namespace's, read now as TrustPolicies::For reads it at each create.
  request.policy_file = trust.policy_file();
  if (trust.policy_file() != config->policy_file) {
    absl::StatusOr<std::string> text = ImageTrust::ReadPolicyText(trust.policy_file());
    if (!text.ok()) return text.status();
    request.policy_text = std::move(*text);
  }
  ProgressState unused;
  ASSIGN_OR_RETURN(PullReply reply, RunHelper(request, unused));
  if (reply.kind != PullReply::kChecked) {
    return absl::InternalError("ocid-pull answered a trust check with an image");
  }
  return absl::OkStatus();
}

PullRequest HelperPuller::RequestFor(const std::string& image, const PullConfig& config) {
  PullRequest request;
  request.image = image;
  request.storage_root = options_.storage_root;
  request.auth_file = options_.auth_file;
  request.registries_conf = config.registries_files;
  request.policy_file = config.policy_file;
  request.policy_text = config.policy_text;
  request.registries_d = config.registries_d;
  request.policy_dir = config.policy_dir;
  if (aliases_ != nullptr) request.cached_aliases = aliases_->Aliases();
  request.max_parallel_layers = options_.max_parallel_layers;
  return request;
}

std::optional<PullProgress> HelperPuller::Progress(const std::string& image) {
  absl::MutexLock lock(&mu_);
  auto it = progress_.find(image);
  if (it == progress_.end()) return std::nullopt;
  const ProgressState& state = *it->second;
  return PullProgress{state.layers_total, state.layers_done, state.bytes_total, state.bytes_done};
}

absl::StatusOr<ImageRecord> HelperPuller::Pull(const std::string& image, const PullAuth& auth,
                                               const std::string& pod_namespace) {
  const absl::Time started = absl::Now();
  std::shared_ptr<const PullConfig> config = this->config();
  // A namespace that is no Kubernetes name is refused before any helper.
  RETURN_IF_ERROR(config->trust->For(pod_namespace).status());
  PullRequest request = RequestFor(image, *config);
  request.auth = auth;
  request.pod_namespace = pod_namespace;

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
  // Last, with the leases below gone: what a failed pull fetched, and what
  // a collection skipped while the pull held everything. A failure is
  // retried by the next collection.
  absl::Cleanup collect = [&] { CollectGarbage(images_, layers_, blobs_).IgnoreError(); };
  absl::MutexLock serial(&pull_mu_);
  // The helper's keys are known only once it has made them: nothing is
  // collected while it runs.
  Lease blobs_held = blobs_.LeaseAll();
  Lease layers_held = layers_.LeaseAll();
  absl::StatusOr<PullReply> result = RunHelper(request, *progress);
  // What the helper put in place becomes ours; what it left half made
  // (killed mid-download or mid-unpack) goes. No helper runs now.
  if (absl::Status cleared = blobs_.ClearIngest(); !cleared.ok()) {
    OCID_LOG(kWarn) << "pull " << image << ": " << cleared;
  }
  RETURN_IF_ERROR(layers_.Rescan());
  if (!result.ok()) return result.status();
  if (result->kind != PullReply::kResult) {
    return absl::InternalError("ocid-pull answered a pull without an image");
  }
  absl::StatusOr<ImageRecord> published = Publish(image, result->result);
  if (published.ok() && options_.on_pulled) {
    options_.on_pulled(PullStats{absl::Now() - started, result->result.bytes_fetched,
                                 result->result.layers_reused});
  }
  return published;
}

absl::StatusOr<ImageRecord> HelperPuller::Publish(const std::string& image,
                                                  const PullResult& result) {
  for (const Digest& chain_id : result.record.layers) {
    if (!layers_.Get(chain_id).has_value()) {
      return absl::InternalError(absl::StrCat("ocid-pull reported image ", image, " with layer ",
                                              chain_id.String(), ", which is not in the store"));
    }
  }
  CrashPoint("pull_image.layers_unpacked");
  RETURN_IF_ERROR(images_.Put(result.record));
  CrashPoint("pull_image.recorded");
  if (!result.alias.empty() && aliases_ != nullptr) {
    absl::Status recorded = aliases_->Record(result.alias, result.alias_target);
    if (!recorded.ok()) {
      OCID_LOG(kWarn) << "pulled " << image << " as " << result.alias_target
                      << " but could not record the alias: " << recorded;
    }
  }
  return images_.Find(result.record.id.String()).value_or(result.record);
}

absl::StatusOr<PullReply> HelperPuller::RunHelper(const PullRequest& request,
                                                  ProgressState& progress) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe for ocid-pull");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  Subprocess::Options spawn;
  // Its parent's pid: the helper dies with ocid (PR_SET_PDEATHSIG), and
  // checks that ocid did not die before it asked.
  spawn.argv = {options_.helper, "--parent-pid", std::to_string(::getpid())};
  spawn.stdin_io = Stdio::Data(EncodePullRequest(request));
  spawn.stderr_io = Stdio::Capture();
  spawn.extra_fds = {write_end.get()};
  ASSIGN_OR_RETURN(Subprocess helper, Subprocess::Spawn(std::move(spawn)));
  write_end.Reset();  // EOF once the helper is gone
  absl::StatusOr<PullReply> reply =
      ReadPullReplies(read_end.get(), [&](const PullProgressReport& report) {
        progress.layers_total = report.layers_total;
        progress.layers_done = report.layers_done;
        progress.bytes_total = report.bytes_total;
        progress.bytes_done = report.bytes_done;
      });
  if (!reply.ok()) helper.Signal(SIGKILL).IgnoreError();  // it talks nonsense
  ASSIGN_OR_RETURN(int wait_status, helper.Wait());
  const std::string log = helper.Stderr();
  FollowCrashPoint(log);
  if (reply.ok() && reply->kind == PullReply::kError) return reply->error;
  if (reply.ok() && ExitedZero(wait_status)) return reply;
  std::string why = reply.ok() ? "after its result" : std::string(reply.status().message());
  return absl::InternalError(absl::StrCat("ocid-pull ", DescribeWaitStatus(wait_status), " (", why,
                                          ")", log.empty() ? "" : ": ", Tail(log)));
}

}  // namespace ocid
