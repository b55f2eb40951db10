#include "pkg/storage/layer_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

// An uncompressed tar with one regular file per (path, contents).
std::string MakeTar(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  struct archive* writer = archive_write_new();
  archive_write_set_format_pax_restricted(writer);
  archive_write_open(
      writer, &out, nullptr,
      [](struct archive*, void* data, const void* buffer, size_t length) -> la_ssize_t {
        static_cast<std::string*>(data)->append(static_cast<const char*>(buffer), length);
        return static_cast<la_ssize_t>(length);
      },
      nullptr);
  for (const auto& [path, contents] : files) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, path.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(contents.size()));
    archive_write_header(writer, entry);
    archive_write_data(writer, contents.data(), contents.size());
    archive_entry_free(entry);
  }
  archive_write_close(writer);
  archive_write_free(writer);
  return out;
}

UniqueFd MemFd(const std::string& data) {
  UniqueFd fd(memfd_create("layer", MFD_CLOEXEC));
  EXPECT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class LayerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ocid-layers-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    store_ = std::move(*LayerStore::Open(dir_ + "/layers"));
  }
  void TearDown() override {
    mounted_.Unmount().IgnoreError();
    RemoveAll(dir_).IgnoreError();
  }

  // Adds a layer holding `files` on top of `parent`; returns its chain ID.
  Digest AddLayer(const std::optional<Digest>& parent,
                  const std::vector<std::pair<std::string, std::string>>& files) {
    std::string tar = MakeTar(files);
    Digest diff_id = Sha256Of(tar);
    Digest chain_id = LayerStore::ChainId(parent, diff_id);
    UniqueFd fd = MemFd(tar);
    auto record = store_->Create(chain_id, parent ? parent->String() : "", diff_id, fd.get());
    EXPECT_TRUE(record.ok()) << record.status();
    return chain_id;
  }

  void MakeContainerDirs() {
    for (const char* sub : {"upper", "work", "rootfs"}) {
      ASSERT_TRUE(MakeDirs(dir_ + "/ctr/" + sub, 0755).ok());
    }
  }

  std::string dir_;
  std::unique_ptr<LayerStore> store_;
  ScopedMount mounted_;
};

TEST_F(LayerStoreTest, LayersStackInAnOverlayAndPersist) {
  Digest base = AddLayer(std::nullopt, {{"etc/hostname", "base"}, {"etc/motd", "hello"}});
  Digest top = AddLayer(base, {{"etc/hostname", "top"}});
  MakeContainerDirs();
  auto mount = store_->Mount({base, top}, dir_ + "/ctr/upper", dir_ + "/ctr/work",
                             dir_ + "/ctr/rootfs");
  ASSERT_TRUE(mount.ok()) << mount.status();
  mounted_ = std::move(*mount);
  EXPECT_EQ(Slurp(dir_ + "/ctr/rootfs/etc/hostname"), "top");
  EXPECT_EQ(Slurp(dir_ + "/ctr/rootfs/etc/motd"), "hello");
  std::ofstream(dir_ + "/ctr/rootfs/new") << "written";
  EXPECT_EQ(Slurp(dir_ + "/ctr/upper/new"), "written") << "writes land in the upper dir";
  ASSERT_TRUE(mounted_.Unmount().ok());

  auto reopened = LayerStore::Open(dir_ + "/layers");
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE((*reopened)->Get(top).has_value());
  EXPECT_EQ((*reopened)->Get(top)->parent, base.String());
  EXPECT_EQ((*reopened)->List().size(), 2u);
}

// A user namespace mapping 0..65535 to host 65536.., held by a child that
// waits to be killed; its /proc/PID/ns/user names it.
class MappedUserNamespace {
 public:
  MappedUserNamespace() {
    int ready[2];
    if (pipe(ready) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      if (unshare(CLONE_NEWUSER) != 0) _exit(1);
      if (write(ready[1], "u", 1) != 1) _exit(1);
      pause();
      _exit(0);
    }
    close(ready[1]);
    char byte;
    if (pid_ < 0 || read(ready[0], &byte, 1) != 1) pid_ = -1;
    close(ready[0]);
    if (pid_ > 0) {
      std::ofstream(Proc() + "/uid_map") << "0 65536 65536\n";
      std::ofstream(Proc() + "/gid_map") << "0 65536 65536\n";
    }
  }
  ~MappedUserNamespace() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::string Path() const { return Proc() + "/ns/user"; }

 private:
  std::string Proc() const { return absl::StrCat("/proc/", pid_); }
  pid_t pid_ = -1;
};

uid_t OwnerOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

TEST_F(LayerStoreTest, IdmappedLayersShowTheirFilesAsTheNamespacesAndTheUpperKeepsHostIds) {
  Digest base = AddLayer(std::nullopt, {{"etc/passwd", "root:x:0:0::/:/bin/sh\n"}});
  Digest top = AddLayer(base, {{"bin/tool", "#!"}});
  ASSERT_EQ(OwnerOf(store_->DiffDir(base) + "/etc/passwd"), 0u) << "on disk: host root's";
  MakeContainerDirs();
  MappedUserNamespace userns;
  LayerStore::Idmap idmap{userns.Path(), 65536, 65536};
  auto mount = store_->Mount({base, top}, dir_ + "/ctr/upper", dir_ + "/ctr/work",
                             dir_ + "/ctr/rootfs", &idmap);
  ASSERT_TRUE(mount.ok()) << mount.status();
  mounted_ = std::move(*mount);
  // Seen from the host, through the idmap: 0 inside is 65536 outside.
  EXPECT_EQ(OwnerOf(dir_ + "/ctr/rootfs/etc/passwd"), 65536u);
  EXPECT_EQ(OwnerOf(dir_ + "/ctr/rootfs/bin/tool"), 65536u);
  EXPECT_EQ(OwnerOf(dir_ + "/ctr/rootfs"), 65536u) << "the upper dir, given to the mapped root";
  EXPECT_EQ(OwnerOf(store_->DiffDir(base) + "/etc/passwd"), 0u) << "no layer was chowned";

  // The namespace's root (host 65536) writes: a new file and a copy-up.
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0) << "the test dir is 0700: let it reach the rootfs";
  pid_t child = fork();
  if (child == 0) {
    if (setresgid(65536, 65536, 65536) != 0 || setresuid(65536, 65536, 65536) != 0) _exit(2);
    int made = open((dir_ + "/ctr/rootfs/new").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    int changed = open((dir_ + "/ctr/rootfs/etc/passwd").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    _exit(made >= 0 && changed >= 0 && write(changed, "x", 1) == 1 ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(OwnerOf(dir_ + "/ctr/upper/new"), 65536u);
  EXPECT_EQ(OwnerOf(dir_ + "/ctr/upper/etc/passwd"), 65536u) << "copied up with the mapped owner";
  EXPECT_EQ(OwnerOf(store_->DiffDir(base) + "/etc/passwd"), 0u);
}

TEST_F(LayerStoreTest, AnIdmapOfAMissingNamespaceMountsNothing) {
  Digest base = AddLayer(std::nullopt, {{"x", "y"}});
  MakeContainerDirs();
  LayerStore::Idmap idmap{dir_ + "/no-such-userns", 65536, 65536};
  auto mount =
      store_->Mount({base}, dir_ + "/ctr/upper", dir_ + "/ctr/work", dir_ + "/ctr/rootfs", &idmap);
  EXPECT_TRUE(absl::IsNotFound(mount.status())) << mount.status();
  EXPECT_EQ(OwnerOf(dir_ + "/ctr/upper"), 0u);
  // A file that is no user namespace: the kernel refuses the idmap.
  std::ofstream(dir_ + "/not-a-userns") << "";
  idmap.userns_path = dir_ + "/not-a-userns";
  mount =
      store_->Mount({base}, dir_ + "/ctr/upper", dir_ + "/ctr/work", dir_ + "/ctr/rootfs", &idmap);
  EXPECT_FALSE(mount.ok());
  EXPECT_THAT(mount.status().message(), HasSubstr("mount_setattr MOUNT_ATTR_IDMAP"));
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/ctr/rootfs").c_str(), &st), 0);
  EXPECT_FALSE(std::ifstream(dir_ + "/ctr/rootfs/x").good()) << "nothing mounted";
}

TEST_F(LayerStoreTest, AnImageWith130LayersMounts) {
  std::vector<Digest> layers;
  for (int i = 0; i < 130; ++i) {
    std::optional<Digest> parent;
    if (!layers.empty()) parent = layers.back();
    layers.push_back(AddLayer(parent, {{absl::StrCat("layers/", i), absl::StrCat(i)}}));
  }
  MakeContainerDirs();
  auto mount = store_->Mount(layers, dir_ + "/ctr/upper", dir_ + "/ctr/work",
                             dir_ + "/ctr/rootfs");
  ASSERT_TRUE(mount.ok()) << mount.status();
  mounted_ = std::move(*mount);
  EXPECT_EQ(Slurp(dir_ + "/ctr/rootfs/layers/0"), "0");
  EXPECT_EQ(Slurp(dir_ + "/ctr/rootfs/layers/129"), "129");
}

TEST_F(LayerStoreTest, AWrongDiffIdKeepsNothingAndIncompleteLayersAreCleaned) {
  std::string tar = MakeTar({{"a", "b"}});
  Digest wrong = Sha256Of("something else");
  UniqueFd fd = MemFd(tar);
  auto record = store_->Create(wrong, "", wrong, fd.get());
  EXPECT_EQ(record.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(record.status().message(), HasSubstr("diff ID mismatch"));
  EXPECT_FALSE(store_->Get(wrong).has_value());

  // A crash mid-unpack leaves a dir without layer.json: Open removes it.
  ASSERT_TRUE(MakeDirs(dir_ + "/layers/" + std::string(64, 'a') + "/diff", 0755).ok());
  auto reopened = LayerStore::Open(dir_ + "/layers");
  ASSERT_TRUE(reopened.ok());
  struct stat st;
  EXPECT_NE(stat((dir_ + "/layers/" + std::string(64, 'a')).c_str(), &st), 0);
  EXPECT_TRUE((*reopened)->List().empty());
}

TEST_F(LayerStoreTest, DeleteIsIdempotentAndMountNeedsKnownLayers) {
  Digest base = AddLayer(std::nullopt, {{"x", "y"}});
  ASSERT_TRUE(store_->Delete(base).ok());
  EXPECT_FALSE(store_->Get(base).has_value());
  EXPECT_TRUE(store_->Delete(base).ok());
  MakeContainerDirs();
  EXPECT_EQ(store_->Mount({base}, dir_ + "/ctr/upper", dir_ + "/ctr/work", dir_ + "/ctr/rootfs")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

// A layer.json as written before records had a version (commit fa19ce9).
TEST_F(LayerStoreTest, LoadsARecordInTheLayoutBeforeVersionsAndDropsTempDirs) {
  std::string old = Slurp("pkg/storage/testdata/layer_record_v0.json");
  ASSERT_EQ(old.find("version"), std::string::npos);
  std::string chain_hex = "922badbaf192e1a4a5af64df422de6d73e96e70d0ab52245bd3d692bcea9cfad";
  ASSERT_TRUE(MakeDirs(dir_ + "/layers/" + chain_hex + "/diff", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/layers/" + chain_hex + "/layer.json", old).ok());
  // An unpack cut short by a crash.
  ASSERT_TRUE(MakeDirs(dir_ + "/layers/.unpack-" + chain_hex + "-abcdef/diff", 0755).ok());
  // A layer whose record has only what a layer cannot do without.
  Digest minimal = Sha256Of("minimal");
  ASSERT_TRUE(MakeDirs(dir_ + "/layers/" + minimal.hex + "/diff", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/layers/" + minimal.hex + "/layer.json",
                                  absl::StrCat(R"({"chain_id": ")", minimal.String(),
                                               R"(", "diff_id": ")", minimal.String(), R"("})"))
                  .ok());

  auto reopened = LayerStore::Open(dir_ + "/layers");
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::optional<LayerRecord> layer = (*reopened)->Get(*ParseDigest("sha256:" + chain_hex));
  ASSERT_TRUE(layer.has_value());
  EXPECT_EQ(layer->diff_id.String(),
            "sha256:ff5eba71a8188ea1e1d463b58f6ad20fb3736ae6e2fe50bc84a5a2c672c95e35");
  EXPECT_EQ(layer->parent,
            "sha256:ff5eba71a8188ea1e1d463b58f6ad20fb3736ae6e2fe50bc84a5a2c672c95e35");
  EXPECT_EQ(layer->unpacked_size, 4096);
  std::optional<LayerRecord> defaults = (*reopened)->Get(minimal);
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(defaults->parent, "");
  EXPECT_EQ(defaults->unpacked_size, 0);
  struct stat st;
  EXPECT_NE(stat((dir_ + "/layers/.unpack-" + chain_hex + "-abcdef").c_str(), &st), 0);
}

TEST_F(LayerStoreTest, NewRecordsCarryTheVersionAndADamagedOneIsUnpackedAgain) {
  Digest base = AddLayer(std::nullopt, {{"x", "y"}});
  std::string path = dir_ + "/layers/" + base.hex + "/layer.json";
  EXPECT_THAT(Slurp(path), HasSubstr(R"("version":1)"));
  std::string text = Slurp(path);
  text.replace(text.find(R"("unpacked_size":)"), 16, R"("unpacked_size":"big",)");
  ASSERT_TRUE(WriteFileAtomically(path, text).ok());
  auto reopened = LayerStore::Open(dir_ + "/layers");
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_FALSE((*reopened)->Get(base).has_value());
}

}  // namespace
}  // namespace ocid
