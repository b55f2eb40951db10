// critest's "Container Mount Propagation" and "Container OOM" specs
// (cri-tools pkg/validate/container_linux.go, v1.29). The propagation specs
// mount on the host: a host dir given to a privileged container with the
// propagation under test, then whether a mount the host makes below it after
// the start shows inside, and whether one made inside shows on the host.
// Unlike critest, the exit code and reason of the OOM spec are asserted.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "e2e/cri/cri_suite.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"

namespace ocid::e2e {
namespace {

// critest's defaultExecSyncTimeout, in seconds.
constexpr int64_t kExecSyncTimeout = 30;
// critest's pauseCmd on Linux.
const std::vector<std::string> kPauseCmd = {"sh", "-c", "top"};

// Entries of a host directory, "." and ".." left out; an error if it cannot
// be read.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
  if (dir == nullptr) return absl::ErrnoToStatus(errno, "opendir " + path);
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir.get())) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  return names;
}

// Mount points of this (the host's) mount namespace at or below `dir`.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> found;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && (fields[4] == dir || absl::StartsWith(fields[4], dir + "/"))) {
      found.push_back(fields[4]);
    }
  }
  return found;
}

// createHostPathForMountPropagation's tree, owned: a temp dir holding
//   mnt/                   bind-mounted on itself, rprivate or rshared
//   mnt/propagationMnt/    where the host mounts propagationSrcDir later
//   propagationSrcDir/flagFile
// Cleanup() unmounts everything below it and only then removes the dir:
// a mount still there (critest's container binds the host's /etc below mnt)
// would make the removal delete through it, so it refuses instead.
class PropagationHostPath {
 public:
  static absl::StatusOr<std::unique_ptr<PropagationHostPath>> Create(
      const std::string& parent, const std::string& pod_id, v1::MountPropagation propagation) {
    std::string pattern = absl::StrCat(parent, "/test", pod_id, "XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
    auto tree = std::unique_ptr<PropagationHostPath>(new PropagationHostPath(pattern));
    RETURN_IF_ERROR(MakeDirs(tree->propagation_mnt_point(), 0700));
    RETURN_IF_ERROR(MakeDirs(tree->propagation_src_dir(), 0700));
    int fd = open((tree->propagation_src_dir() + "/flagFile").c_str(),
                  O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return absl::ErrnoToStatus(errno, "create flagFile");
    close(fd);
    // Private stays private; both propagating modes need a shared source.
    const unsigned long mode =
        propagation == v1::PROPAGATION_PRIVATE ? MS_PRIVATE | MS_REC : MS_SHARED | MS_REC;
    RETURN_IF_ERROR(tree->BindMount(tree->mnt_source(), tree->mnt_source()));
    if (mount("", tree->mnt_source().c_str(), nullptr, mode, nullptr) != 0) {
      return absl::ErrnoToStatus(errno, "set propagation of " + tree->mnt_source());
    }
    return tree;
  }

  PropagationHostPath(const PropagationHostPath&) = delete;
  PropagationHostPath& operator=(const PropagationHostPath&) = delete;
  ~PropagationHostPath() { Cleanup().IgnoreError(); }

  const std::string& mnt_source() const { return mnt_source_; }
  std::string propagation_mnt_point() const { return mnt_source_ + "/propagationMnt"; }
  std::string propagation_src_dir() const { return dir_ + "/propagationSrcDir"; }

  // A recursive bind mount, undone by Cleanup().
  absl::Status BindMount(const std::string& source, const std::string& target) {
    if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return absl::ErrnoToStatus(errno, "bind " + source + " on " + target);
    }
    mounts_.emplace_back(target);
    return absl::OkStatus();
  }

  // Idempotent. Detaching mnt takes what propagated below it too.
  absl::Status Cleanup() {
    if (dir_.empty()) return absl::OkStatus();
    absl::Status status;
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) status.Update(it->Unmount());
    mounts_.clear();
    std::vector<std::string> left = MountsUnder(dir_);
    if (!left.empty()) {
      // Kept, with its mounts, for the suite's leak census to report.
      status.Update(absl::InternalError(
          absl::StrCat("not removing ", dir_, ": still mounted: ", absl::StrJoin(left, ", "))));
    } else {
      status.Update(RemoveAll(dir_));
    }
    dir_.clear();
    return status;
  }

 private:
  explicit PropagationHostPath(std::string dir)
      : dir_(std::move(dir)), mnt_source_(dir_ + "/mnt") {}

  std::string dir_;
  std::string mnt_source_;
  std::vector<ScopedMount> mounts_;  // in the order made
};

// Both suites run their container in critest's createPrivilegedPodSandbox(rc,
// true).
class PrivilegedPodTest : public CriTest {
 protected:
  absl::StatusOr<Pod> RunPrivilegedPod() {
    v1::PodSandboxConfig config = DefaultPodConfig("create-Privileged-PodSandbox-for-container-");
    config.mutable_linux()->mutable_security_context()->set_privileged(true);
    return RunPod(config);
  }
};

class ContainerMountPropagation : public PrivilegedPodTest {
 protected:
  void TearDown() override {
    // The containers go first: then nothing but the host holds the mounts.
    CriTest::TearDown();
    if (host_path_ != nullptr) {
      absl::Status cleaned = host_path_->Cleanup();
      EXPECT_TRUE(cleaned.ok()) << cleaned;
      host_path_.reset();
    }
  }

  // critest's execSyncContainer: succeeds, nothing on stderr; the stdout.
  std::string ExecOk(const std::string& id, const std::string& what,
                     const std::vector<std::string>& cmd) {
    absl::StatusOr<ExecResult> result = ExecSync(id, cmd, kExecSyncTimeout);
    if (!result.ok()) {
      ADD_FAILURE() << "ExecSync " << what << ": " << result.status();
      return "";
    }
    EXPECT_EQ(result->exit_code, 0) << what << ": " << result->stderr_text;
    EXPECT_EQ(result->stderr_text, "") << what << ": The stderr should be empty.";
    return result->stdout_text;
  }

  // createMountPropagationContainer: privileged (to mount inside), the host
  // path at the same path inside; its status must report the mount as asked.
  absl::StatusOr<std::string> CreatePropagationContainer(const Pod& pod, const std::string& path,
                                                         v1::MountPropagation propagation) {
    v1::ContainerConfig config = DefaultContainerConfig("mount-propagation-test-");
    config.clear_command();
    for (const std::string& arg : kPauseCmd) config.add_command(arg);
    config.mutable_linux()->mutable_security_context()->set_privileged(true);
    v1::Mount* mount = config.add_mounts();
    mount->set_host_path(path);
    mount->set_container_path(path);
    mount->set_propagation(propagation);
    return CreateContainer(pod, config);
  }

  void ExpectStatusMount(const std::string& id, const std::string& path,
                         v1::MountPropagation propagation) {
    OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status,
                              ContainerStatus(id, /*verbose=*/true));
    ASSERT_EQ(status.status().mounts_size(), 1) << status.status().ShortDebugString();
    const v1::Mount& mount = status.status().mounts(0);
    EXPECT_EQ(mount.container_path(), path);
    EXPECT_EQ(mount.host_path(), path);
    EXPECT_FALSE(mount.readonly());
    EXPECT_FALSE(mount.selinux_relabel());
    EXPECT_EQ(mount.propagation(), propagation)
        << v1::MountPropagation_Name(mount.propagation()) << " reported for "
        << v1::MountPropagation_Name(propagation);
  }

  void TestMountPropagation(v1::MountPropagation propagation) {
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPrivilegedPod());
    OCID_ASSERT_OK_AND_ASSIGN(host_path_,
                              PropagationHostPath::Create(Info().scratch_dir, pod.id, propagation));
    const std::string mnt_source = host_path_->mnt_source();
    OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                              CreatePropagationContainer(pod, mnt_source, propagation));
    ASSERT_NO_FATAL_FAILURE(ExpectStatusMount(id, mnt_source, propagation));
    OCID_ASSERT_OK(StartContainer(id));
    OCID_ASSERT_OK(WaitForContainerState(id, v1::CONTAINER_RUNNING));

    // Host to container: a mount made on the host after the start.
    const std::string propagation_mnt_point = host_path_->propagation_mnt_point();
    OCID_ASSERT_OK(host_path_->BindMount(host_path_->propagation_src_dir(), propagation_mnt_point));
    std::string listing = ExecOk(id, "ls -A", {"ls", "-A", propagation_mnt_point});
    if (propagation == v1::PROPAGATION_PRIVATE) {
      EXPECT_EQ(listing, "") << "the host's mount should not show in the container";
    } else {
      EXPECT_NE(listing, "") << "the host's mount (holding flagFile) should show in the container";
    }

    // Container to host: /etc mounted inside the container.
    const std::string container_mnt_point = mnt_source + "/containerMntPoint";
    const std::string mkdir = "mkdir -p " + container_mnt_point;
    ExecOk(id, mkdir, {"sh", "-c", mkdir});
    const std::string bind = "mount --bind /etc " + container_mnt_point;
    ExecOk(id, bind, {"sh", "-c", bind});
    OCID_ASSERT_OK_AND_ASSIGN(std::vector<std::string> entries, ListDir(container_mnt_point));
    if (propagation == v1::PROPAGATION_BIDIRECTIONAL) {
      EXPECT_FALSE(entries.empty()) << "the container's mount should show on the host";
    } else {
      EXPECT_TRUE(entries.empty())
          << "the container's mount should not show on the host: " << absl::StrJoin(entries, " ");
    }
  }

  std::unique_ptr<PropagationHostPath> host_path_;
};

TEST_F(ContainerMountPropagation, MountWithRprivateShouldNotSupportPropagation) {
  TestMountPropagation(v1::PROPAGATION_PRIVATE);
}

TEST_F(ContainerMountPropagation,
       MountWithRsharedShouldSupportPropagationFromHostToContainerAndViceVersa) {
  TestMountPropagation(v1::PROPAGATION_BIDIRECTIONAL);
}

TEST_F(ContainerMountPropagation, MountWithRslaveShouldSupportPropagationFromHostToContainer) {
  TestMountPropagation(v1::PROPAGATION_HOST_TO_CONTAINER);
}

class ContainerOOM : public PrivilegedPodTest {};

TEST_F(ContainerOOM, ShouldTerminateWithExitCode137AndReasonOOMKilled) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPrivilegedPod());
  // createOOMKilledContainer: dd's 20 MiB buffer does not fit in 15 MiB
  // (swap included).
  v1::ContainerConfig config = DefaultContainerConfig("OOM-test-");
  config.clear_command();
  for (const char* arg : {"sh", "-c", "dd if=/dev/zero of=/dev/null bs=20M"}) {
    config.add_command(arg);
  }
  v1::LinuxContainerResources* resources = config.mutable_linux()->mutable_resources();
  resources->set_memory_limit_in_bytes(15 * 1024 * 1024);
  resources->set_memory_swap_limit_in_bytes(15 * 1024 * 1024);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(ContainerStatus(id, /*verbose=*/true));
  OCID_ASSERT_OK(StartContainer(id));

  OCID_ASSERT_OK(WaitForContainerState(id, v1::CONTAINER_EXITED));
  OCID_ASSERT_OK_AND_ASSIGN(v1::ContainerStatusResponse status, ContainerStatus(id));
  EXPECT_EQ(status.status().exit_code(), 137) << status.status().ShortDebugString();
  EXPECT_EQ(status.status().reason(), "OOMKilled") << status.status().ShortDebugString();
}

}  // namespace
}  // namespace ocid::e2e
