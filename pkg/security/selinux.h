// SELinux labels of pods and containers, as cri-o gives them.
//
// Each pod gets an MCS level of its own ("s0:cX,cY", X < Y, from
// c0..c1023), never one a live pod holds, unless its selinux_options name
// a level. A process label is the policy's default for containers
// (lxc_contexts' `process`, system_u:system_r:container_t:s0 without one)
// with the request's user/role/type/level over it; the mount label (files
// of the container: rootfs, /dev/shm, relabelled volumes) is lxc_contexts'
// `file` with the same level. Containers take their pod's level unless they
// name one; a privileged container runs as spc_t, the policy's unconfined
// container type.
//
// All of it only where SELinux is enabled: elsewhere every label is empty
// and selinux_options are ignored with one log line.
#ifndef OCID_PKG_SECURITY_SELINUX_H_
#define OCID_PKG_SECURITY_SELINUX_H_

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "api/runtime/v1/api.pb.h"

namespace ocid {

// "user:role:type:level"; the level may hold ':' itself (s0:c1,c2).
struct SelinuxContext {
  std::string user, role, type, level;

  std::string ToString() const;
  // InvalidArgument unless `text` has four non-empty fields.
  static absl::StatusOr<SelinuxContext> Parse(absl::string_view text);
};

// The policy's default process and file contexts for containers.
struct SelinuxDefaults {
  SelinuxContext process{"system_u", "system_r", "container_t", "s0"};
  SelinuxContext file{"system_u", "object_r", "container_file_t", "s0"};
};

// The `process = "..."` and `file = "..."` entries of an lxc_contexts file
// ('#' comments, quotes optional); the defaults above for an entry that is
// missing or not a context.
SelinuxDefaults ParseLxcContexts(absl::string_view text);

// A process label and the label of its files; both "" when unlabelled.
struct SelinuxLabels {
  std::string process;
  std::string mount;

  bool empty() const { return process.empty() && mount.empty(); }
};

// The labels for `options` over `defaults` at `level` (the request's own
// level wins over it). `privileged` gives the process type spc_t unless the
// request names a type. Pure. InvalidArgument naming `field` for a field
// holding ':' where it may not, or a malformed level.
absl::StatusOr<SelinuxLabels> ComputeSelinuxLabels(const SelinuxDefaults& defaults,
                                                   const runtime::v1::SELinuxOption& options,
                                                   const std::string& level, bool privileged,
                                                   absl::string_view field);

// Pairs of MCS categories for pods' levels: "s0:cX,cY" with X < Y <
// `categories`. Thread-safe. A level is held by a count of pods (a level
// named in two pods' selinux_options is both's).
class McsAllocator {
 public:
  explicit McsAllocator(int categories = 1024) : categories_(categories) {}

  // A level no pod holds, picked at random; ResourceExhausted when every
  // pair is held.
  absl::StatusOr<std::string> Allocate();
  // Holds `level` once more (a pod restored from its record, or one whose
  // options name its level). Levels that are not one pair of ours are
  // nobody's to hand out and are not tracked.
  void Reserve(const std::string& level);
  // Lets go of one hold of `level`.
  void Release(const std::string& level);
  int held() const;

 private:
  static bool ParsePair(const std::string& level, int categories, std::pair<int, int>* pair);

  const int categories_;
  mutable absl::Mutex mu_;
  std::map<std::pair<int, int>, int> held_ ABSL_GUARDED_BY(mu_);
};

// Paths a relabel must never touch: relabelling the host's own trees
// would make it unbootable or give containers its files. "/" itself and
// the top system dirs, and anything under /proc, /sys, /dev, /boot, /usr
// and /etc. OK otherwise. `path` is absolute and clean.
absl::Status CheckRelabelAllowed(const std::string& path, absl::string_view field);

// The host's SELinux, behind an interface so tests give a fake.
class SelinuxHost {
 public:
  virtual ~SelinuxHost() = default;
  virtual bool Enabled() = 0;
  // The policy's lxc_contexts text; NotFound if the policy has none.
  virtual absl::StatusOr<std::string> LxcContexts() = 0;
  // Sets `path`'s label (its security.selinux xattr), not following a
  // symlink. The errno of the failure is kept.
  virtual absl::Status SetFileLabel(const std::string& path, const std::string& label) = 0;
};

// The real host: libselinux with --config=selinux (is_selinux_enabled,
// selinux_lxc_contexts_path, lsetfilecon); without it, selinuxfs'
// `enforce` under `selinuxfs`, /etc/selinux/config's SELINUXTYPE and the
// xattr itself.
std::unique_ptr<SelinuxHost> NewHostSelinux(const std::string& selinuxfs = "/sys/fs/selinux");

// Sets `label` on `root` and everything below it (symlinks themselves,
// never followed; no other filesystem is entered). FailedPrecondition for
// a refused path (CheckRelabelAllowed), else the first failure naming the
// file.
absl::Status RelabelTree(SelinuxHost& host, const std::string& root, const std::string& label,
                         absl::string_view field);

// The daemon's SELinux: the host, its defaults read once, and the MCS
// levels of live pods.
class Selinux {
 public:
  static constexpr int kMcsCategories = 1024;

  // `categories`: the MCS categories c0..c(N-1). `configured`: ocid.conf's
  // selinux; off, nothing is labelled even on a host that runs SELinux.
  explicit Selinux(std::unique_ptr<SelinuxHost> host, int categories = kMcsCategories,
                   bool configured = true);

  bool enabled() const { return enabled_; }

  // A new pod's labels: empty where SELinux is off (a pod asking for
  // labels there is logged, once per daemon). The level is allocated
  // (or, named in `options`, reserved): ReleasePod gives it back.
  absl::StatusOr<SelinuxLabels> PodLabels(const runtime::v1::SELinuxOption& options,
                                          absl::string_view field);
  // A pod's labels as its record kept them, at ocid's start.
  void RestorePod(const SelinuxLabels& labels);
  void ReleasePod(const SelinuxLabels& labels);
  // A container's labels in the pod that has `pod` (empty where SELinux is
  // off, or for a pod made while it was).
  absl::StatusOr<SelinuxLabels> ContainerLabels(const SelinuxLabels& pod,
                                                const runtime::v1::SELinuxOption& options,
                                                bool privileged, absl::string_view field);
  // A mount with selinux_relabel: RelabelTree with `mount_label`; nothing
  // where SELinux is off or the label is empty.
  absl::Status Relabel(const std::string& path, const std::string& mount_label,
                       absl::string_view field);

  const McsAllocator& levels() const { return levels_; }

 private:
  void LogIgnored(const runtime::v1::SELinuxOption& options);

  std::unique_ptr<SelinuxHost> host_;
  const bool configured_;
  const bool enabled_;  // configured_ and the host runs SELinux
  SelinuxDefaults defaults_;
  McsAllocator levels_;
};

// The level of a label ("s0:c1,c2" of "u:r:t:s0:c1,c2"); "" if none.
std::string LevelOf(const std::string& label);

}  // namespace ocid

#endif  // OCID_PKG_SECURITY_SELINUX_H_
