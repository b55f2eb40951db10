// The real ContainerRuntimes (OciRuntime per configured handler, conmon's
// exit files) and ContainerImages (the image, blob and layer stores).
#ifndef OCID_PKG_CONTAINER_REAL_DEPS_H_
#define OCID_PKG_CONTAINER_REAL_DEPS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pkg/config/config.h"
#include "pkg/container/container_deps.h"
#include "pkg/storage/blob_store.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/layer_store.h"
#include "pkg/image/reference.h"
#include "pkg/trust/image_trust.h"
#include "pkg/trust/trust_policies.h"

namespace ocid {

class OciContainerRuntimes final : public ContainerRuntimes {
 public:
  // One OciRuntime per config.runtimes entry; `config` must outlive this.
  explicit OciContainerRuntimes(const Config& config);
  ~OciContainerRuntimes() override;

  absl::StatusOr<ContainerRuntime*> For(const std::string& handler) override;
  // Makes `handler` (a configured one) what "" names from now on (a
  // reloaded default_runtime); InvalidArgument for one not configured.
  absl::Status SetDefault(const std::string& handler);
  absl::StatusOr<ContainerExit> ReadExit(const std::string& exit_dir, const std::string& id,
                                         const std::string& persist_dir) override;
  absl::StatusOr<std::unique_ptr<ExitWatch>> WatchExits(
      const std::string& exit_dir, std::function<void(const std::string& id)> on_exit) override;
  absl::Status KillHelpersOf(const std::string& id) override;
  bool MonitorGone(pid_t conmon_pid) override;
  bool ProcessGone(pid_t pid) override;
  absl::Status RemoveCgroupsOf(const std::string& spec_path) override;

 private:
  std::map<std::string, std::unique_ptr<ContainerRuntime>> runtimes_;  // by handler name
  std::atomic<ContainerRuntime*> default_{nullptr};  // one of runtimes_'s
};

class StoreImages final : public ContainerImages {
 public:
  // `short_names` gives registries.conf's unqualified-search registries
  // and the aliases in effect, where a short image name may have been
  // pulled from, and `trust` the trust policies in effect (nullptr: accept
  // every image); both asked at each call: SIGHUP reloads them and the alias
  // cache grows.
  // `check` checks a policy for a stored image's name and manifest digest,
  // reading its signatures as a pull does (ImagePuller::CheckTrustAgain).
  using TrustCheck = std::function<absl::Status(const ImageTrust& trust,
                                                const ImageReference& image,
                                                const std::string& manifest_digest)>;
  StoreImages(ImageStore& images, BlobStore& blobs, LayerStore& layers,
              std::function<ShortNameSources()> short_names,
              std::function<std::shared_ptr<const TrustPolicies>()> trust, TrustCheck check)
      : images_(images),
        blobs_(blobs),
        layers_(layers),
        short_names_(std::move(short_names)),
        trust_(std::move(trust)),
        check_(std::move(check)) {}

  absl::StatusOr<std::optional<ImageMatch>> Lookup(const std::string& name_or_id) override;
  absl::Status CheckTrust(const ImageMatch& match, const std::string& user_specified_image,
                          const std::string& pod_namespace) override;
  absl::StatusOr<std::string> ReadConfig(const Digest& image_id) override;
  absl::Status MountRootfs(const std::vector<Digest>& layers, const std::string& upper,
                           const std::string& work, const std::string& target,
                           const LayerStore::Idmap* idmap,
                           const std::string& mount_label) override;
  absl::Status UnmountRootfs(const std::string& target) override;

 private:
  ImageStore& images_;
  BlobStore& blobs_;
  LayerStore& layers_;
  const std::function<ShortNameSources()> short_names_;
  const std::function<std::shared_ptr<const TrustPolicies>()> trust_;
  const TrustCheck check_;
};

}  // namespace ocid

#endif  // OCID_PKG_CONTAINER_REAL_DEPS_H_
