#include "pkg/storage/layer_apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pkg/base/unique_fd.h"
#include "pkg/storage/digest.h"

namespace ocid {
namespace {

namespace fs = std::filesystem;

// One tar entry to write; the defaults make a small root-owned file.
struct TarEntry {
  std::string path;
  unsigned type = AE_IFREG;
  unsigned perm = 0644;
  std::string data;
  std::string symlink;   // for AE_IFLNK
  std::string hardlink;  // set: a hard link entry
  int64_t uid = 0;
  int64_t gid = 0;
  time_t mtime = 1600000000;
  long mtime_nsec = 0;
  dev_t rdev = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

TarEntry File(std::string path, std::string data = "", unsigned perm = 0644) {
  TarEntry entry;
  entry.path = std::move(path);
  entry.data = std::move(data);
  entry.perm = perm;
  return entry;
}

TarEntry Dir(std::string path, unsigned perm = 0755) {
  TarEntry entry = File(std::move(path), "", perm);
  entry.type = AE_IFDIR;
  return entry;
}

TarEntry Symlink(std::string path, std::string target) {
  TarEntry entry = File(std::move(path), "", 0777);
  entry.type = AE_IFLNK;
  entry.symlink = std::move(target);
  return entry;
}

TarEntry HardLink(std::string path, std::string target) {
  TarEntry entry = File(std::move(path));
  entry.hardlink = std::move(target);
  return entry;
}

la_ssize_t AppendToString(archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

enum class Compression { kNone, kGzip, kZstd };

void AddFilter(archive* writer, Compression compression) {
  if (compression == Compression::kGzip) {
    ASSERT_EQ(archive_write_add_filter_gzip(writer), ARCHIVE_OK);
  } else if (compression == Compression::kZstd) {
    ASSERT_EQ(archive_write_add_filter_zstd(writer), ARCHIVE_OK);
  }
}

void WriteEntry(archive* writer, const TarEntry& spec) {
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, spec.path.c_str());
  archive_entry_set_filetype(entry, spec.type);
  archive_entry_set_perm(entry, spec.perm);
  archive_entry_set_uid(entry, spec.uid);
  archive_entry_set_gid(entry, spec.gid);
  archive_entry_set_mtime(entry, spec.mtime, spec.mtime_nsec);
  archive_entry_set_size(entry, static_cast<la_int64_t>(spec.data.size()));
  if (!spec.symlink.empty()) archive_entry_set_symlink(entry, spec.symlink.c_str());
  if (!spec.hardlink.empty()) archive_entry_set_hardlink(entry, spec.hardlink.c_str());
  if (spec.rdev != 0) archive_entry_set_rdev(entry, spec.rdev);
  for (const auto& [name, value] : spec.xattrs) {
    archive_entry_xattr_add_entry(entry, name.c_str(), value.data(), value.size());
  }
  EXPECT_EQ(archive_write_header(writer, entry), ARCHIVE_OK) << archive_error_string(writer);
  if (!spec.data.empty()) {
    EXPECT_EQ(archive_write_data(writer, spec.data.data(), spec.data.size()),
              static_cast<la_ssize_t>(spec.data.size()));
  }
  archive_entry_free(entry);
}

// A pax tar, padded to 10 KiB blocks as tar(1) does when uncompressed (when
// compressed, libarchive pads the compressed stream instead).
std::string Tar(const std::vector<TarEntry>& entries, Compression compression = Compression::kNone,
                bool pad = true) {
  std::string out;
  archive* writer = archive_write_new();
  archive_write_set_format_pax(writer);
  AddFilter(writer, compression);
  if (!pad) archive_write_set_bytes_in_last_block(writer, 1);
  EXPECT_EQ(archive_write_open(writer, &out, nullptr, AppendToString, nullptr), ARCHIVE_OK);
  for (const TarEntry& entry : entries) WriteEntry(writer, entry);
  archive_write_close(writer);
  archive_write_free(writer);
  return out;
}

// `bytes` gzip- or zstd-compressed as they are (raw format: no tar around).
std::string Compress(const std::string& bytes, Compression compression) {
  std::string out;
  archive* writer = archive_write_new();
  archive_write_set_format_raw(writer);
  AddFilter(writer, compression);
  archive_write_set_bytes_in_last_block(writer, 1);
  EXPECT_EQ(archive_write_open(writer, &out, nullptr, AppendToString, nullptr), ARCHIVE_OK);
  WriteEntry(writer, File("raw", bytes));
  archive_write_close(writer);
  archive_write_free(writer);
  return out;
}

// A file, a directory and a symlink of every kind the listing compares.
std::vector<TarEntry> SampleTree() {
  TarEntry owned = File("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0640);
  owned.uid = 1000;
  owned.gid = 1001;
  owned.mtime_nsec = 123456789;
  return {Dir("etc", 0750),
          owned,
          Symlink("etc/link", "passwd"),
          HardLink("etc/hard", "etc/passwd"),
          Dir("usr"),
          Dir("usr/bin"),
          File("usr/bin/tool", std::string(100000, 'x'), 04755)};
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string GetXattr(const fs::path& path, const char* name) {
  char value[256];
  ssize_t size = lgetxattr(path.c_str(), name, value, sizeof(value));
  return size < 0 ? "<" + std::string(strerror(errno)) + ">" : std::string(value, size);
}

// path -> type, mode, owner, mtime, size, link target and content: what two
// applies of the same tar must agree on.
std::map<std::string, std::string> Listing(const fs::path& root) {
  std::map<std::string, std::string> listing;
  for (const auto& item : fs::recursive_directory_iterator(root)) {
    struct stat st;
    EXPECT_EQ(lstat(item.path().c_str(), &st), 0);
    std::string text = absl::StrCat(st.st_mode, " ", st.st_uid, ":", st.st_gid, " ",
                                    st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, " ", st.st_size);
    if (S_ISLNK(st.st_mode)) text += " -> " + fs::read_symlink(item.path()).string();
    if (S_ISREG(st.st_mode)) text += " " + Sha256Of(ReadFile(item.path())).hex;
    listing[fs::relative(item.path(), root).string()] = text;
  }
  return listing;
}

class LayerApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    base_ = fs::path(tmp != nullptr ? tmp : "/tmp") /
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(base_);
    fs::create_directories(target());
    fs::create_directories(canary());
  }
  void TearDown() override { fs::remove_all(base_); }

  fs::path target() const { return base_ / "target"; }
  fs::path canary() const { return base_ / "canary"; }

  absl::StatusOr<AppliedLayer> Apply(const std::string& bytes, const fs::path& dir) {
    UniqueFd fd(memfd_create("layer", MFD_CLOEXEC));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    EXPECT_EQ(lseek(fd.get(), 0, SEEK_SET), 0);
    return ApplyLayer(fd.get(), dir.string());
  }
  absl::StatusOr<AppliedLayer> Apply(const std::string& bytes) { return Apply(bytes, target()); }

  // Nothing but target/ and an untouched, empty canary/ beside it.
  void ExpectNothingOutsideTarget() {
    EXPECT_TRUE(fs::is_empty(canary()));
    std::vector<std::string> names;
    for (const auto& item : fs::directory_iterator(base_)) names.push_back(item.path().filename());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"canary", "target"}));
  }

  // Applies `entries` to a fresh target: it must fail, saying `message_part`.
  void ExpectRejected(const std::vector<TarEntry>& entries, const std::string& message_part) {
    fs::remove_all(target());
    fs::create_directories(target());
    absl::StatusOr<AppliedLayer> applied = Apply(Tar(entries));
    ASSERT_FALSE(applied.ok());
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kInvalidArgument) << applied.status();
    EXPECT_NE(applied.status().message().find(message_part), absl::string_view::npos)
        << applied.status();
    ExpectNothingOutsideTarget();
  }

  fs::path base_;
};

TEST_F(LayerApplyTest, UnpacksFilesDirsModesOwnersAndTimes) {
  TarEntry root = Dir(".", 0755);
  root.mtime = 1500000000;
  TarEntry etc = Dir("etc", 0750);
  etc.uid = 10;
  etc.gid = 20;
  etc.mtime = 1400000000;
  TarEntry passwd = File("etc/passwd", "root:x:0:0\n", 0640);
  passwd.uid = 1000;
  passwd.gid = 1001;
  passwd.mtime_nsec = 250000000;
  TarEntry fifo = File("run/fifo", "", 0620);
  fifo.type = AE_IFIFO;
  std::vector<TarEntry> entries = {root,
                                   etc,
                                   passwd,
                                   File("usr/bin/su", "su", 04755),
                                   File("usr/bin/wall", "wall", 02755),
                                   Dir("tmp", 01777),
                                   fifo};
  absl::StatusOr<AppliedLayer> applied = Apply(Tar(entries));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->unpacked_size, 11 + 2 + 4);

  struct stat st;
  ASSERT_EQ(stat((target() / "etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0750);
  EXPECT_EQ(st.st_uid, 10u);
  EXPECT_EQ(st.st_gid, 20u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1400000000);  // kept though etc/passwd came after
  ASSERT_EQ(stat((target() / "etc/passwd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0640);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 250000000);
  EXPECT_EQ(ReadFile(target() / "etc/passwd"), "root:x:0:0\n");
  ASSERT_EQ(stat((target() / "usr/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 04755);
  ASSERT_EQ(stat((target() / "usr/bin/wall").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 02755);
  ASSERT_EQ(stat((target() / "usr").c_str(), &st), 0);  // a parent the tar doesn't list
  EXPECT_EQ(st.st_mode, S_IFDIR | 0755);
  ASSERT_EQ(stat((target() / "tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 01777);
  ASSERT_EQ(lstat((target() / "run/fifo").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFIFO | 0620);
  ASSERT_EQ(stat(target().c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000);
}

TEST_F(LayerApplyTest, SymlinksAndHardLinks) {
  TarEntry absolute = Symlink("abs", "/etc/passwd");
  absolute.uid = 7;
  absolute.mtime = 1234567890;
  absl::StatusOr<AppliedLayer> applied =
      Apply(Tar({File("bin/sh", "shell", 0755), HardLink("bin/bash", "bin/sh"),
                 HardLink("/bin/dash", "./bin/sh"), Symlink("lib", "usr/lib"), absolute,
                 Symlink("up", "../../..")}));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->unpacked_size, 5);
  struct stat sh, bash, dash;
  ASSERT_EQ(stat((target() / "bin/sh").c_str(), &sh), 0);
  ASSERT_EQ(stat((target() / "bin/bash").c_str(), &bash), 0);
  ASSERT_EQ(stat((target() / "bin/dash").c_str(), &dash), 0);
  EXPECT_EQ(sh.st_ino, bash.st_ino);
  EXPECT_EQ(sh.st_ino, dash.st_ino);
  EXPECT_EQ(sh.st_nlink, 3u);
  EXPECT_EQ(fs::read_symlink(target() / "lib"), "usr/lib");
  EXPECT_EQ(fs::read_symlink(target() / "abs"), "/etc/passwd");
  EXPECT_EQ(fs::read_symlink(target() / "up"), "../../..");
  struct stat link;
  ASSERT_EQ(lstat((target() / "abs").c_str(), &link), 0);
  EXPECT_EQ(link.st_uid, 7u);
  EXPECT_EQ(link.st_mtim.tv_sec, 1234567890);
}

TEST_F(LayerApplyTest, XattrsAndFileCapabilities) {
  // vfs_cap_data revision 2, effective, permitted = CAP_NET_BIND_SERVICE.
  const std::string capability(
      "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x00",
      20);
  TarEntry ping = File("bin/ping", "ping", 0755);
  ping.uid = 1000;  // chown after setting the capability would drop it
  ping.xattrs = {{"security.capability", capability},
                 {"user.origin", "test"},
                 {"trusted.overlay.opaque", "y"}};
  TarEntry dir = Dir("data");
  dir.xattrs = {{"user.dir", "1"}};
  absl::StatusOr<AppliedLayer> applied = Apply(Tar({ping, dir}));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(GetXattr(target() / "bin/ping", "security.capability"), capability);
  EXPECT_EQ(GetXattr(target() / "bin/ping", "user.origin"), "test");
  EXPECT_EQ(GetXattr(target() / "data", "user.dir"), "1");
  // Overlay's own xattrs are not taken from a tar.
  EXPECT_EQ(GetXattr(target() / "bin/ping", "trusted.overlay.opaque"),
            "<" + std::string(strerror(ENODATA)) + ">");
}

TEST_F(LayerApplyTest, WhiteoutsBecomeOverlayWhiteouts) {
  absl::StatusOr<AppliedLayer> applied =
      Apply(Tar({Dir("etc"), File("etc/.wh.passwd"), File(".wh.top"), File("var/lib/.wh..wh..opq"),
                 File("etc/.wh..wh.plnk"), File("etc/keep", "mine"), File("etc/.wh.keep"),
                 Dir("etc/sub"), File("etc/sub/x"), File("etc/.wh.sub")}));
  ASSERT_TRUE(applied.ok()) << applied.status();
  for (const char* path : {"etc/passwd", "top"}) {
    struct stat st;
    ASSERT_EQ(lstat((target() / path).c_str(), &st), 0) << path;
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << path;
    EXPECT_EQ(st.st_rdev, makedev(0, 0)) << path;
  }
  EXPECT_EQ(GetXattr(target() / "var/lib", "trusted.overlay.opaque"), "y");
  EXPECT_FALSE(fs::exists(target() / "etc/.wh..wh.plnk"));
  EXPECT_FALSE(fs::exists(target() / "etc/plnk"));
  // What this layer adds itself stays; its own directory turns opaque.
  EXPECT_EQ(ReadFile(target() / "etc/keep"), "mine");
  EXPECT_TRUE(fs::exists(target() / "etc/sub/x"));
  EXPECT_EQ(GetXattr(target() / "etc/sub", "trusted.overlay.opaque"), "y");
}

TEST_F(LayerApplyTest, GzipAndZstdGiveTheSameTreeAndDiffId) {
  std::string tar = Tar(SampleTree());
  Digest expected = Sha256Of(tar);
  absl::StatusOr<AppliedLayer> plain = Apply(tar);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->diff_id.String(), expected.String());
  EXPECT_EQ(plain->unpacked_size, 26 + 100000);
  for (Compression compression : {Compression::kGzip, Compression::kZstd}) {
    fs::path dir = base_ / absl::StrCat("compressed", static_cast<int>(compression));
    fs::create_directories(dir);
    std::string compressed = Compress(tar, compression);
    ASSERT_NE(compressed, tar);
    absl::StatusOr<AppliedLayer> applied = Apply(compressed, dir);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_EQ(applied->diff_id.String(), expected.String());
    EXPECT_EQ(applied->unpacked_size, plain->unpacked_size);
    EXPECT_EQ(Listing(dir), Listing(target()));
    fs::remove_all(dir);
  }
  // Bytes after the end-of-archive blocks are part of the diff_id too.
  fs::remove_all(target());
  fs::create_directories(target());
  std::string trailing = tar + std::string(512, '\0') + "trailing bytes";
  absl::StatusOr<AppliedLayer> padded = Apply(Compress(trailing, Compression::kGzip));
  ASSERT_TRUE(padded.ok()) << padded.status();
  EXPECT_EQ(padded->diff_id.String(), Sha256Of(trailing).String());
}

TEST_F(LayerApplyTest, TarDirectlyCompressedByLibarchiveMatchesToo) {
  std::string gzipped = Tar(SampleTree(), Compression::kGzip);
  absl::StatusOr<AppliedLayer> applied = Apply(gzipped);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->diff_id.String(),
            Sha256Of(Tar(SampleTree(), Compression::kNone, /*pad=*/false)).String());
}

TEST_F(LayerApplyTest, SparseFilesKeepTheirHoles) {
  constexpr size_t kSize = 4 << 20;
  std::string content(kSize, '\0');
  content.replace(0, 4, "head");
  content.replace(kSize - 4, 4, "tail");
  std::string tar;
  archive* writer = archive_write_new();
  archive_write_set_format_pax(writer);
  ASSERT_EQ(archive_write_open(writer, &tar, nullptr, AppendToString, nullptr), ARCHIVE_OK);
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, "sparse");
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_size(entry, kSize);
  archive_entry_sparse_add_entry(entry, 0, 4);
  archive_entry_sparse_add_entry(entry, kSize - 4, 4);
  EXPECT_EQ(archive_write_header(writer, entry), ARCHIVE_OK) << archive_error_string(writer);
  // The writer takes the whole file and leaves the holes out of the tar.
  EXPECT_EQ(archive_write_data(writer, content.data(), content.size()),
            static_cast<la_ssize_t>(kSize));
  archive_entry_free(entry);
  archive_write_close(writer);
  archive_write_free(writer);
  ASSERT_LT(tar.size(), 64u << 10);

  absl::StatusOr<AppliedLayer> applied = Apply(tar);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->unpacked_size, static_cast<int64_t>(kSize));
  EXPECT_EQ(ReadFile(target() / "sparse"), content);
  struct stat st;
  ASSERT_EQ(stat((target() / "sparse").c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // the hole stayed a hole
}

TEST_F(LayerApplyTest, EmptyTarIsAnEmptyLayer) {
  std::string tar(1024, '\0');
  absl::StatusOr<AppliedLayer> applied = Apply(tar);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->diff_id.String(),
            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
  EXPECT_EQ(applied->unpacked_size, 0);
  EXPECT_TRUE(fs::is_empty(target()));
}

TEST_F(LayerApplyTest, LaterEntriesReplaceEarlierOnes) {
  absl::StatusOr<AppliedLayer> applied =
      Apply(Tar({File("a", "file"), Dir("a"), File("a/inside", "1"), Dir("a", 0700), Dir("b"),
                 File("b/x"), File("b", "now a file"), Symlink("c", "/"), File("c", "not a link"),
                 File("d", "old"), File("d", "new")}));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(target() / "a")));
  EXPECT_EQ(fs::status(target() / "a").permissions(), fs::perms::owner_all);
  EXPECT_EQ(ReadFile(target() / "a/inside"), "1");  // a dir over a dir keeps it
  EXPECT_EQ(ReadFile(target() / "b"), "now a file");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(target() / "c")));
  EXPECT_EQ(ReadFile(target() / "d"), "new");
}

TEST_F(LayerApplyTest, AbsolutePathsLandInsideTheTarget) {
  absl::StatusOr<AppliedLayer> applied = Apply(Tar({File("/etc/x", "x"), File("//./y/./z", "z")}));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(ReadFile(target() / "etc/x"), "x");
  EXPECT_EQ(ReadFile(target() / "y/z"), "z");
  ExpectNothingOutsideTarget();
}

TEST_F(LayerApplyTest, RejectsDotDot) {
  ExpectRejected({File("../escape", "x")}, "\"../escape\"");
  ExpectRejected({File("a/../../canary/x", "x")}, "\"..\" component");
}

TEST_F(LayerApplyTest, RejectsWritingThroughSymlinkToRoot) {
  // If the symlink were followed, this would land in canary/.
  ExpectRejected({Symlink("link", "/"), File("link" + canary().string() + "/x", "x")},
                 "is a symlink");
  EXPECT_EQ(fs::read_symlink(target() / "link"), "/");
}

TEST_F(LayerApplyTest, RejectsWritingThroughSymlinkToParent) {
  ExpectRejected({Symlink("symlink", ".."), File("symlink/canary/x", "x")}, "is a symlink");
  ExpectRejected({Symlink("s2", "../canary"), Dir("s2/d")}, "is a symlink");
}

TEST_F(LayerApplyTest, RejectsHardLinksOutOfTheLayer) {
  struct stat before;
  ASSERT_EQ(stat("/etc/passwd", &before), 0);
  ExpectRejected({HardLink("passwd", "../../etc/passwd")}, "\"..\" component");
  std::ofstream(canary() / "secret") << "secret";
  fs::path secret = canary() / "secret";
  // Absolute: taken inside the layer, where no such entry exists.
  absl::StatusOr<AppliedLayer> applied = Apply(Tar({HardLink("x", secret.string())}));
  EXPECT_FALSE(applied.ok());
  EXPECT_NE(applied.status().message().find("not in this layer"), absl::string_view::npos)
      << applied.status();
  // Through a symlink of the layer.
  applied = Apply(Tar({Symlink("evil", "/"), HardLink("y", "evil" + secret.string())}));
  EXPECT_FALSE(applied.ok());
  EXPECT_NE(applied.status().message().find("is a symlink"), absl::string_view::npos)
      << applied.status();
  struct stat after;
  ASSERT_EQ(stat("/etc/passwd", &after), 0);
  EXPECT_EQ(after.st_nlink, before.st_nlink);
  EXPECT_EQ(fs::hard_link_count(secret), 1u);
}

TEST_F(LayerApplyTest, RejectsDeviceNodes) {
  TarEntry null = File("dev/null", "", 0666);
  null.type = AE_IFCHR;
  null.rdev = makedev(1, 3);
  ExpectRejected({null}, "\"dev/null\": device nodes are not allowed");
  TarEntry disk = File("dev/sda", "", 0660);
  disk.type = AE_IFBLK;
  disk.rdev = makedev(8, 0);
  ExpectRejected({disk}, "\"dev/sda\": device nodes are not allowed");
}

TEST_F(LayerApplyTest, RejectsTruncatedGzip) {
  std::string gzipped = Compress(Tar(SampleTree()), Compression::kGzip);
  absl::StatusOr<AppliedLayer> applied = Apply(gzipped.substr(0, gzipped.size() / 2));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kDataLoss) << applied.status();
  EXPECT_NE(applied.status().message().find("truncated"), absl::string_view::npos)
      << applied.status();
  ExpectNothingOutsideTarget();
}

TEST_F(LayerApplyTest, RejectsTruncatedTar) {
  std::string tar = Tar(SampleTree());
  absl::StatusOr<AppliedLayer> applied = Apply(tar.substr(0, 5000));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kDataLoss) << applied.status();
  EXPECT_NE(applied.status().message().find("truncated layer"), absl::string_view::npos)
      << applied.status();
}

// The tar cut right after the last data byte: what umoci 0.4.7 writes.
std::string WithoutPaddingOrEnd(const std::string& tar) {
  size_t end = tar.find_last_not_of('\0');
  return end == std::string::npos ? "" : tar.substr(0, end + 1);
}

// The tar cut at the end of the last entry's padded data: no end-of-archive.
std::string WithoutEndOfArchive(const std::string& tar) {
  size_t size = WithoutPaddingOrEnd(tar).size();
  return tar.substr(0, (size + 511) / 512 * 512);
}

std::vector<TarEntry> EndsWithOddSizedFile() {
  return {Dir("etc"), File("etc/hostname", "box\n"), Dir("bin"),
          File("bin/tool", std::string(1000, 'x'))};
}

TEST_F(LayerApplyTest, AcceptsTarWithoutEndOfArchiveRecords) {
  std::string tar = WithoutEndOfArchive(Tar(EndsWithOddSizedFile()));
  ASSERT_EQ(tar.size() % 512, 0u);
  ASSERT_NE(tar.substr(tar.size() - 512), std::string(512, '\0'));
  absl::StatusOr<AppliedLayer> applied = Apply(tar);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->diff_id.String(), Sha256Of(tar).String());
  EXPECT_EQ(ReadFile(target() / "bin/tool"), std::string(1000, 'x'));
  EXPECT_EQ(ReadFile(target() / "etc/hostname"), "box\n");
  EXPECT_EQ(applied->unpacked_size, 1004);
}

TEST_F(LayerApplyTest, AcceptsTarEndingRightAfterTheLastData) {
  std::string full = Tar(EndsWithOddSizedFile());
  std::string tar = WithoutPaddingOrEnd(full);
  ASSERT_NE(tar.size() % 512, 0u);
  ASSERT_EQ(tar.back(), 'x');
  absl::StatusOr<AppliedLayer> applied = Apply(tar);
  ASSERT_TRUE(applied.ok()) << applied.status();
  // The diff ID is the hash of the bytes as they are, no padding added.
  EXPECT_EQ(applied->diff_id.String(), Sha256Of(tar).String());
  EXPECT_EQ(ReadFile(target() / "bin/tool"), std::string(1000, 'x'));
  EXPECT_EQ(applied->unpacked_size, 1004);
  std::map<std::string, std::string> listing = Listing(target());

  // The same tree as the complete tar gives, and the same when gzipped.
  fs::remove_all(target());
  fs::create_directories(target());
  ASSERT_TRUE(Apply(full).ok());
  EXPECT_EQ(Listing(target()), listing);
  fs::remove_all(target());
  fs::create_directories(target());
  applied = Apply(Compress(tar, Compression::kGzip));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->diff_id.String(), Sha256Of(tar).String());
  EXPECT_EQ(Listing(target()), listing);
}

TEST_F(LayerApplyTest, AcceptsUnpaddedLastEntryThatIsNotARegularFile) {
  // A last entry without data ends on a record anyway; one whose data
  // ApplyLayer skips (a whiteout carrying bytes) may lack its padding too.
  TarEntry whiteout = File("etc/.wh.old", "junk");
  std::string tar = WithoutPaddingOrEnd(Tar({Dir("etc"), whiteout}));
  ASSERT_EQ(tar.back(), 'k');
  absl::StatusOr<AppliedLayer> applied = Apply(tar);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->diff_id.String(), Sha256Of(tar).String());
  struct stat st;
  ASSERT_EQ(lstat((target() / "etc/old").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_F(LayerApplyTest, RejectsTarWhoseLastDataIsCutShort) {
  std::string tar = WithoutPaddingOrEnd(Tar(EndsWithOddSizedFile()));
  // 1000 data bytes announced, 990 there: within the last record, where
  // zeros would otherwise complete it.
  for (size_t cut : {1u, 10u, 600u}) {
    fs::remove_all(target());
    fs::create_directories(target());
    absl::StatusOr<AppliedLayer> applied = Apply(tar.substr(0, tar.size() - cut));
    ASSERT_FALSE(applied.ok()) << "cut " << cut;
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kDataLoss) << applied.status();
    EXPECT_NE(applied.status().message().find("truncated"), absl::string_view::npos)
        << applied.status();
    ExpectNothingOutsideTarget();
    // Gzipped the same.
    fs::remove_all(target());
    fs::create_directories(target());
    applied = Apply(Compress(tar.substr(0, tar.size() - cut), Compression::kGzip));
    ASSERT_FALSE(applied.ok()) << "cut " << cut;
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kDataLoss) << applied.status();
  }
}

TEST_F(LayerApplyTest, RejectsTarCutInsideAHeader) {
  std::string tar = WithoutEndOfArchive(Tar(EndsWithOddSizedFile()));
  // Cut 100 bytes into a header record following a complete, padded entry.
  std::string cut = WithoutEndOfArchive(Tar({File("a", "1")})) + tar.substr(0, 100);
  absl::StatusOr<AppliedLayer> applied = Apply(cut);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kDataLoss) << applied.status();
}

TEST_F(LayerApplyTest, RejectsGarbageAndEmptyInput) {
  std::mt19937 random(42);
  std::string garbage(4096, '\0');
  for (char& c : garbage) c = static_cast<char>(random());
  absl::StatusOr<AppliedLayer> applied = Apply(garbage);
  ASSERT_FALSE(applied.ok());
  EXPECT_NE(applied.status().message().find("not a tar archive"), absl::string_view::npos)
      << applied.status();
  applied = Apply("");
  ASSERT_FALSE(applied.ok());
  EXPECT_NE(applied.status().message().find("not a tar archive"), absl::string_view::npos)
      << applied.status();
  ExpectNothingOutsideTarget();
}

TEST_F(LayerApplyTest, RefusesNonEmptyTarget) {
  std::ofstream(target() / "old") << "x";
  absl::StatusOr<AppliedLayer> applied = Apply(Tar({File("a")}));
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LayerApplyTest, KeepsNonAsciiNames) {
  // Image builders write UTF-8 pax names; libarchive only writes them under a
  // UTF-8 locale. ApplyLayer reads them in the process's "C" locale.
  locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  ASSERT_NE(utf8, static_cast<locale_t>(0));
  locale_t previous = uselocale(utf8);
  std::string tar = Tar({File("caf\xc3\xa9/na\xc3\xafve", "1")});
  uselocale(previous);
  freelocale(utf8);
  absl::StatusOr<AppliedLayer> applied = Apply(tar);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(ReadFile(target() / "caf\xc3\xa9/na\xc3\xafve"), "1");
}

// Unmounts (lazily, so a failed check can't leave it busy) however the test ends.
class ScopedMount {
 public:
  explicit ScopedMount(fs::path path) : path_(std::move(path)) {}
  ~ScopedMount() { umount2(path_.c_str(), MNT_DETACH); }

 private:
  fs::path path_;
};

TEST_F(LayerApplyTest, OverlayOfTwoLayersHonoursWhiteoutsAndOpaqueDirs) {
  fs::path lower1 = base_ / "lower1", lower2 = base_ / "lower2", merged = base_ / "merged";
  for (const fs::path& dir : {lower1, lower2, merged}) fs::create_directories(dir);
  ASSERT_TRUE(Apply(Tar({File("a/keep", "k"), File("a/gone", "g"), File("opq/lower_only", "l"),
                         File("removed", "r")}),
                    lower1)
                  .ok());
  absl::StatusOr<AppliedLayer> top =
      Apply(Tar({Dir("a"), File("a/.wh.gone"), Dir("opq"), File("opq/.wh..wh..opq"),
                 File("opq/upper", "u"), File(".wh.removed")}),
            lower2);
  ASSERT_TRUE(top.ok()) << top.status();
  std::string options = "lowerdir=" + lower2.string() + ":" + lower1.string();
  ASSERT_EQ(mount("overlay", merged.c_str(), "overlay", MS_RDONLY, options.c_str()), 0)
      << strerror(errno);
  ScopedMount unmount(merged);
  EXPECT_EQ(ReadFile(merged / "a/keep"), "k");
  EXPECT_FALSE(fs::exists(fs::symlink_status(merged / "a/gone")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(merged / "removed")));
  EXPECT_EQ(ReadFile(merged / "opq/upper"), "u");
  EXPECT_FALSE(fs::exists(fs::symlink_status(merged / "opq/lower_only")));
}

}  // namespace
}  // namespace ocid
