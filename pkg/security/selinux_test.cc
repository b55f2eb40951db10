#include "pkg/security/selinux.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr char kField[] = "config.linux.security_context.selinux_options";

cri::SELinuxOption Options(const std::string& user, const std::string& role,
                           const std::string& type, const std::string& level) {
  cri::SELinuxOption options;
  options.set_user(user);
  options.set_role(role);
  options.set_type(type);
  options.set_level(level);
  return options;
}

// SELinux on or off, an lxc_contexts text, and the labels it was asked to
// set (path → label).
class FakeSelinuxHost : public SelinuxHost {
 public:
  FakeSelinuxHost(bool enabled, std::string contexts, std::map<std::string, std::string>* set)
      : enabled_(enabled), contexts_(std::move(contexts)), set_(set) {}
  bool Enabled() override { return enabled_; }
  absl::StatusOr<std::string> LxcContexts() override {
    if (contexts_.empty()) return absl::NotFoundError("no lxc_contexts");
    return contexts_;
  }
  absl::Status SetFileLabel(const std::string& path, const std::string& label) override {
    (*set_)[path] = label;
    return absl::OkStatus();
  }

 private:
  bool enabled_;
  std::string contexts_;
  std::map<std::string, std::string>* set_;
};

constexpr char kLxcContexts[] = R"(# a policy's contexts/lxc_contexts
process = "system_u:system_r:container_t:s0"
content = "system_u:object_r:virt_var_lib_t:s0"
file = "system_u:object_r:container_file_t:s0"
ro_file="system_u:object_r:container_ro_file_t:s0"
sandbox_kvm_process = "system_u:system_r:container_kvm_t:s0"
)";

TEST(SelinuxContextTest, ParseAndPrint) {
  auto context = SelinuxContext::Parse("u:r:t:s0:c1,c2");
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(context->user, "u");
  EXPECT_EQ(context->type, "t");
  EXPECT_EQ(context->level, "s0:c1,c2");
  EXPECT_EQ(context->ToString(), "u:r:t:s0:c1,c2");
  EXPECT_FALSE(SelinuxContext::Parse("u:r:t").ok());
  EXPECT_FALSE(SelinuxContext::Parse("u::t:s0").ok());
  EXPECT_EQ(LevelOf("system_u:object_r:container_file_t:s0:c5,c9"), "s0:c5,c9");
  EXPECT_EQ(LevelOf(""), "");
}

TEST(SelinuxLabelsTest, LxcContextsGiveTheDefaults) {
  SelinuxDefaults defaults = ParseLxcContexts(
      "process = \"xu:xr:my_container_t:s0\"  # ours\nfile = sys:object_r:my_file_t:s0\n");
  EXPECT_EQ(defaults.process.ToString(), "xu:xr:my_container_t:s0");
  EXPECT_EQ(defaults.file.ToString(), "sys:object_r:my_file_t:s0");
  SelinuxDefaults builtin = ParseLxcContexts("garbage\nprocess = \"not a context\"\n");
  EXPECT_EQ(builtin.process.ToString(), "system_u:system_r:container_t:s0");
  EXPECT_EQ(builtin.file.ToString(), "system_u:object_r:container_file_t:s0");
  EXPECT_EQ(ParseLxcContexts(kLxcContexts).file.type, "container_file_t");
}

TEST(SelinuxLabelsTest, DefaultsAtTheLevelWithOverrides) {
  SelinuxDefaults defaults;
  auto plain = ComputeSelinuxLabels(defaults, cri::SELinuxOption(), "s0:c1,c2", false, kField);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->process, "system_u:system_r:container_t:s0:c1,c2");
  EXPECT_EQ(plain->mount, "system_u:object_r:container_file_t:s0:c1,c2");

  auto over = ComputeSelinuxLabels(defaults, Options("user_u", "user_r", "my_t", "s0:c7,c8"),
                                   "s0:c1,c2", false, kField);
  ASSERT_TRUE(over.ok()) << over.status();
  EXPECT_EQ(over->process, "user_u:user_r:my_t:s0:c7,c8") << "the request's level wins";
  EXPECT_EQ(over->mount, "user_u:object_r:container_file_t:s0:c7,c8");

  auto type_only =
      ComputeSelinuxLabels(defaults, Options("", "", "spc_t", ""), "s0:c3,c4", false, kField);
  EXPECT_EQ(type_only->process, "system_u:system_r:spc_t:s0:c3,c4");
}

TEST(SelinuxLabelsTest, PrivilegedRunsAsSpcUnlessItNamesAType) {
  SelinuxDefaults defaults;
  auto privileged = ComputeSelinuxLabels(defaults, cri::SELinuxOption(), "s0:c1,c2", true, kField);
  ASSERT_TRUE(privileged.ok());
  EXPECT_EQ(privileged->process, "system_u:system_r:spc_t:s0:c1,c2");
  EXPECT_EQ(privileged->mount, "system_u:object_r:container_file_t:s0:c1,c2");
  auto named =
      ComputeSelinuxLabels(defaults, Options("", "", "my_t", ""), "s0:c1,c2", true, kField);
  EXPECT_EQ(named->process, "system_u:system_r:my_t:s0:c1,c2");
}

TEST(SelinuxLabelsTest, BadFieldsAreRefusedByName) {
  SelinuxDefaults defaults;
  auto colon = ComputeSelinuxLabels(defaults, Options("", "", "a:b", ""), "s0", false, kField);
  EXPECT_EQ(colon.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(colon.status().message(), "selinux_options.type"))
      << colon.status();
  auto level = ComputeSelinuxLabels(defaults, Options("", "", "", "c1 c2"), "s0", false, kField);
  EXPECT_TRUE(absl::StrContains(level.status().message(), "selinux_options.level"))
      << level.status();
}

TEST(McsAllocatorTest, LevelsAreUniqueUntilReleased) {
  McsAllocator levels;
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    auto level = levels.Allocate();
    ASSERT_TRUE(level.ok()) << level.status();
    int x = -1, y = -1;
    ASSERT_EQ(sscanf(level->c_str(), "s0:c%d,c%d", &x, &y), 2) << *level;
    EXPECT_LT(x, y);
    EXPECT_GE(x, 0);
    EXPECT_LT(y, 1024);
    EXPECT_TRUE(seen.insert(*level).second) << *level << " handed out twice";
  }
  EXPECT_EQ(levels.held(), 2000);
  for (const std::string& level : seen) levels.Release(level);
  EXPECT_EQ(levels.held(), 0);
}

TEST(McsAllocatorTest, ExhaustionAndReuseAfterRelease) {
  McsAllocator levels(4);  // c0..c3: 6 pairs
  std::vector<std::string> all;
  for (int i = 0; i < 6; ++i) all.push_back(*levels.Allocate());
  auto none = levels.Allocate();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted);
  levels.Release(all[3]);
  EXPECT_EQ(*levels.Allocate(), all[3]) << "the one freed is the one left";
}

TEST(McsAllocatorTest, ReservedLevelsAreNotHandedOut) {
  McsAllocator levels(3);  // 3 pairs
  levels.Reserve("s0:c0,c1");
  levels.Reserve("s0:c0,c1");  // two pods named the same level
  levels.Reserve("s0:c1,c2");
  levels.Reserve("s0-s0:c0.c1023");  // not a pair of ours: untracked
  levels.Reserve("s0:c2,c1");
  EXPECT_EQ(levels.held(), 2);
  EXPECT_EQ(*levels.Allocate(), "s0:c0,c2");
  levels.Release("s0:c0,c1");
  EXPECT_FALSE(levels.Allocate().ok()) << "the other pod still holds s0:c0,c1";
  levels.Release("s0:c0,c1");
  EXPECT_EQ(*levels.Allocate(), "s0:c0,c1");
}

TEST(SelinuxTest, PodLevelsAllocatedFreedAndRestored) {
  std::map<std::string, std::string> set;
  Selinux selinux(std::make_unique<FakeSelinuxHost>(true, kLxcContexts, &set), 3);
  ASSERT_TRUE(selinux.enabled());
  auto a = selinux.PodLabels(cri::SELinuxOption(), kField);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(absl::StartsWith(a->process, "system_u:system_r:container_t:s0:c")) << a->process;
  auto b = selinux.PodLabels(cri::SELinuxOption(), kField);
  auto c = selinux.PodLabels(cri::SELinuxOption(), kField);
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_NE(LevelOf(a->mount), LevelOf(b->mount));
  EXPECT_EQ(selinux.PodLabels(cri::SELinuxOption(), kField).status().code(),
            absl::StatusCode::kResourceExhausted);
  selinux.ReleasePod(*b);
  auto d = selinux.PodLabels(cri::SELinuxOption(), kField);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(LevelOf(d->mount), LevelOf(b->mount));

  // A restarted ocid: the records' levels are held again before new pods.
  Selinux restarted(std::make_unique<FakeSelinuxHost>(true, kLxcContexts, &set), 3);
  restarted.RestorePod(*a);
  restarted.RestorePod(*c);
  auto e = restarted.PodLabels(cri::SELinuxOption(), kField);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(LevelOf(e->mount), LevelOf(b->mount));
  EXPECT_EQ(restarted.levels().held(), 3);
}

TEST(SelinuxTest, ContainersTakeThePodsLevel) {
  std::map<std::string, std::string> set;
  Selinux selinux(std::make_unique<FakeSelinuxHost>(
      true, "process = \"system_u:system_r:svirt_lxc_net_t:s0\"\n", &set));
  auto pod = selinux.PodLabels(Options("", "", "", "s0:c4,c5"), kField);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->process, "system_u:system_r:svirt_lxc_net_t:s0:c4,c5");
  EXPECT_EQ(selinux.levels().held(), 1) << "a named level is reserved";
  auto container = selinux.ContainerLabels(*pod, cri::SELinuxOption(), false, kField);
  ASSERT_TRUE(container.ok());
  EXPECT_EQ(container->process, "system_u:system_r:svirt_lxc_net_t:s0:c4,c5");
  EXPECT_EQ(container->mount, "system_u:object_r:container_file_t:s0:c4,c5");
  auto own = selinux.ContainerLabels(*pod, Options("", "", "", "s0:c1,c9"), false, kField);
  EXPECT_EQ(own->process, "system_u:system_r:svirt_lxc_net_t:s0:c1,c9");
  EXPECT_TRUE(
      selinux.ContainerLabels(SelinuxLabels(), cri::SELinuxOption(), false, kField)->empty())
      << "a pod made while SELinux was off has unlabelled containers";
  selinux.ReleasePod(*pod);
  EXPECT_EQ(selinux.levels().held(), 0);
}

TEST(SelinuxTest, DisabledIgnoresLabels) {
  std::map<std::string, std::string> set;
  Selinux selinux(std::make_unique<FakeSelinuxHost>(false, kLxcContexts, &set));
  EXPECT_FALSE(selinux.enabled());
  auto pod = selinux.PodLabels(Options("u", "r", "t", "s0:c1,c2"), kField);
  ASSERT_TRUE(pod.ok());
  EXPECT_TRUE(pod->empty());
  EXPECT_EQ(selinux.levels().held(), 0);
  EXPECT_TRUE(selinux.ContainerLabels(*pod, Options("u", "", "", ""), true, kField)->empty());
  EXPECT_TRUE(selinux.Relabel("/", "u:r:t:s0", kField).ok()) << "nothing to do, nothing refused";
  EXPECT_TRUE(set.empty());
}

// ocid.runtime.selinux off (the default): a host that runs SELinux gets
// no labels either, as with cri-o's selinux = false.
TEST(SelinuxTest, NotConfiguredIgnoresLabelsOnAnSelinuxHost) {
  std::map<std::string, std::string> set;
  Selinux selinux(std::make_unique<FakeSelinuxHost>(true, kLxcContexts, &set),
                  Selinux::kMcsCategories, /*configured=*/false);
  EXPECT_FALSE(selinux.enabled());
  auto pod = selinux.PodLabels(Options("u", "r", "t", "s0:c1,c2"), kField);
  ASSERT_TRUE(pod.ok());
  EXPECT_TRUE(pod->empty());
  EXPECT_EQ(selinux.levels().held(), 0);
}

TEST(RelabelTest, SystemPathsAreRefused) {
  for (const char* path :
       {"/", "/usr", "/etc", "/home", "/var", "/var/lib", "/root", "/tmp", "/usr/lib/x",
        "/etc/kubernetes", "/proc/1", "/sys/fs", "/boot/efi", "/home/", "/var/lib/kubelet"}) {
    absl::Status status = CheckRelabelAllowed(path, "config.mounts[0].host_path");
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << path;
    EXPECT_TRUE(absl::StrContains(status.message(), "config.mounts[0].host_path")) << status;
  }
  for (const char* path : {"/var/lib/kubelet/pods/u/volumes/v", "/home/me/data", "/srv/data",
                           "/data", "/tmp/x", "/usrlocal"}) {
    EXPECT_TRUE(CheckRelabelAllowed(path, "f").ok()) << path;
  }
}

std::string TempTree() {
  static int n = 0;
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/tree-", ++n);
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/sub").c_str(), 0755);
  std::ofstream(dir + "/a") << "a";
  std::ofstream(dir + "/sub/b") << "b";
  symlink("/etc/passwd", (dir + "/link").c_str());
  return dir;
}

TEST(RelabelTest, EveryEntryOnceAndNoLinkFollowed) {
  std::map<std::string, std::string> set;
  Selinux selinux(std::make_unique<FakeSelinuxHost>(true, "", &set));
  std::string dir = TempTree();
  ASSERT_TRUE(selinux.Relabel(dir, "u:object_r:t:s0:c1,c2", "f").ok());
  std::map<std::string, std::string> want;
  for (const char* name : {"", "/sub", "/a", "/sub/b", "/link"}) {
    want[dir + name] = "u:object_r:t:s0:c1,c2";
  }
  EXPECT_EQ(set, want);
  EXPECT_EQ(selinux.Relabel("/usr", "u:object_r:t:s0", "f").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(selinux.Relabel(dir + "/missing", "u:object_r:t:s0", "f").ok());
}

// The real host's way (the security.selinux xattr), on files of ours; a
// kernel without SELinux stores the xattr as it is, if the filesystem and
// our privileges let it.
TEST(RelabelTest, RealXattrs) {
  std::string dir = TempTree();
  std::unique_ptr<SelinuxHost> host = NewHostSelinux("/nonexistent");
  const std::string label = "system_u:object_r:container_file_t:s0:c1,c2";
  absl::Status status = RelabelTree(*host, dir, label, "f");
  if (absl::IsPermissionDenied(status) || absl::IsUnimplemented(status) ||
      absl::StrContains(status.message(), "not supported")) {
    GTEST_SKIP() << "this filesystem or user cannot set security.selinux: " << status;
  }
  ASSERT_TRUE(status.ok()) << status;
  for (const char* name : {"", "/sub", "/a", "/sub/b", "/link"}) {
    char value[256] = {};
    ssize_t n = lgetxattr((dir + name).c_str(), "security.selinux", value, sizeof(value));
    ASSERT_GT(n, 0) << name << ": " << strerror(errno);
    EXPECT_EQ(std::string(value, n), label + '\0') << name;
  }
  char value[256];
  ssize_t n = getxattr("/etc/passwd", "security.selinux", value, sizeof(value));
  EXPECT_FALSE(n > 0 && std::string(value, n) == label + '\0')
      << "the symlink's target was relabelled";
}

}  // namespace
}  // namespace ocid
