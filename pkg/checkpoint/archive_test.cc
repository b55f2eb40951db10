#include "pkg/checkpoint/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ocid-checkpoint-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }

  std::string Dir(const std::string& name) {
    std::string path = dir_ + "/" + name;
    EXPECT_TRUE(MakeDirs(path, 0755).ok()) << path;
    return path;
  }
  static void Write(const std::string& path, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(path, text, 0644, Durability::kVolatile).ok()) << path;
  }

  // A work dir as CheckpointContainer leaves it before archiving.
  std::string Work() {
    std::string work = Dir("work");
    CheckpointConfig config;
    config.id = "0123abcd";
    config.name = "counter";
    config.rootfs_image = "busybox";
    config.rootfs_image_ref = "sha256:aaaa";
    config.rootfs_image_name = "registry.local/busybox:latest";
    config.runtime = "runc";
    config.checkpointed_at = absl::FromUnixSeconds(1700000000);
    Write(work + "/config.dump", config.ToJson());
    Write(work + "/spec.dump", R"({"ociVersion":"1.0.2","process":{"args":["sh"]}})");
    Dir("work/checkpoint");
    Write(work + "/checkpoint/inventory.img", "criu images");
    Write(work + "/checkpoint/pages-1.img", std::string(100000, 'p'));
    return work;
  }

  // The entries of the tar at `path`: name -> contents ("<dir>" for dirs).
  static std::map<std::string, std::string> Entries(const std::string& path) {
    std::map<std::string, std::string> entries;
    archive* reader = archive_read_new();
    archive_read_support_format_tar(reader);
    EXPECT_EQ(archive_read_open_filename(reader, path.c_str(), 10240), ARCHIVE_OK);
    archive_entry* entry;
    while (archive_read_next_header(reader, &entry) == ARCHIVE_OK) {
      std::string name = archive_entry_pathname(entry);
      if (!name.empty() && name.back() == '/') name.pop_back();  // a dir's
      if (archive_entry_filetype(entry) == AE_IFDIR) {
        entries[name] = "<dir>";
      } else if (archive_entry_filetype(entry) == AE_IFLNK) {
        entries[name] = absl::StrCat("-> ", archive_entry_symlink(entry));
      } else {
        std::string data(archive_entry_size(entry), '\0');
        archive_read_data(reader, data.data(), data.size());
        entries[name] = data;
      }
    }
    archive_read_free(reader);
    return entries;
  }

  std::string Archive(const std::string& work) {
    std::string path = dir_ + "/checkpoint.tar";
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    EXPECT_TRUE(out.valid());
    absl::Status written = WriteCheckpointArchive(work, out.get());
    EXPECT_TRUE(written.ok()) << written;
    return path;
  }

  // A tar of `entries` (name -> contents; a trailing '/' makes a dir).
  std::string Tar(const std::map<std::string, std::string>& entries) {
    std::string path = dir_ + "/handmade.tar";
    archive* writer = archive_write_new();
    archive_write_set_format_pax_restricted(writer);
    archive_write_open_filename(writer, path.c_str());
    for (const auto& [name, data] : entries) {
      archive_entry* entry = archive_entry_new();
      archive_entry_set_pathname(entry, name.c_str());
      bool dir = !name.empty() && name.back() == '/';
      archive_entry_set_filetype(entry, dir ? AE_IFDIR : AE_IFREG);
      archive_entry_set_perm(entry, dir ? 0755 : 0644);
      archive_entry_set_size(entry, dir ? 0 : data.size());
      archive_write_header(writer, entry);
      if (!dir) archive_write_data(writer, data.data(), data.size());
      archive_entry_free(entry);
    }
    archive_write_close(writer);
    archive_write_free(writer);
    return path;
  }

  std::string dir_;
};

TEST_F(ArchiveTest, ConfigDumpRoundTripsWithCheckpointctlNames) {
  CheckpointConfig config;
  config.id = "abc";
  config.name = "n";
  config.rootfs_image_name = "img";
  config.runtime = "crun";
  config.checkpointed_at = absl::FromUnixSeconds(1700000000);
  nlohmann::json json = nlohmann::json::parse(config.ToJson());
  EXPECT_EQ(json["id"], "abc");
  EXPECT_EQ(json["rootfsImageName"], "img");
  EXPECT_EQ(json["runtime"], "crun");
  EXPECT_EQ(json["checkpointedTime"], "2023-11-14T22:13:20+00:00");
  absl::StatusOr<CheckpointConfig> back = CheckpointConfig::FromJson(config.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, "n");
  EXPECT_EQ(back->checkpointed_at, config.checkpointed_at);

  EXPECT_EQ(CheckpointConfig::FromJson("[]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckpointConfig::FromJson(R"({"id":"x"})").status().code(),
            absl::StatusCode::kInvalidArgument);  // no image
  EXPECT_EQ(CheckpointConfig::FromJson(R"({"rootfsImage":"x"})").status().code(),
            absl::StatusCode::kInvalidArgument);  // no id
}

TEST_F(ArchiveTest, ArchiveHasTheLayoutAndReadsBack) {
  std::string work = Work();
  std::string upper = Dir("upper");
  Dir("upper/data");
  Write(upper + "/data/count", "41\n");
  ASSERT_EQ(::symlink("count", (upper + "/data/link").c_str()), 0);
  ASSERT_EQ(::mknod((upper + "/gone").c_str(), S_IFCHR | 0000, makedev(0, 0)), 0)
      << "needs CAP_MKNOD for an overlay whiteout";
  ASSERT_TRUE(WriteRootfsDiff(upper, work).ok());
  std::string archive = Archive(work);

  std::map<std::string, std::string> entries = Entries(archive);
  EXPECT_EQ(entries.count("config.dump"), 1u);
  EXPECT_EQ(entries.count("spec.dump"), 1u);
  EXPECT_EQ(entries["checkpoint"], "<dir>");
  EXPECT_EQ(entries["checkpoint/pages-1.img"], std::string(100000, 'p'));
  EXPECT_EQ(entries["deleted.files"], R"(["/gone"])");
  ASSERT_EQ(entries.count("rootfs-diff.tar"), 1u);
  EXPECT_EQ(entries.size(), 7u);  // nothing else
  struct stat st;
  ASSERT_EQ(::stat(archive.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::map<std::string, std::string> diff = Entries(work + "/rootfs-diff.tar");
  EXPECT_EQ(diff["data"], "<dir>");
  EXPECT_EQ(diff["data/count"], "41\n");
  EXPECT_EQ(diff["data/link"], "-> count");
  EXPECT_EQ(diff.count("gone"), 0u);  // a whiteout is a deleted file, not an entry

  std::string dest = Dir("unpacked");
  absl::StatusOr<CheckpointContents> contents = ReadCheckpointArchive(archive, dest);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->config.id, "0123abcd");
  EXPECT_EQ(contents->config.rootfs_image_name, "registry.local/busybox:latest");
  EXPECT_EQ(contents->spec["process"]["args"][0], "sh");
  EXPECT_EQ(contents->deleted_files, std::vector<std::string>{"/gone"});
  EXPECT_TRUE(contents->has_rootfs_diff);
  EXPECT_EQ(ReadFileToString(dest + "/checkpoint/inventory.img", 100).value_or(""), "criu images");
}

TEST_F(ArchiveTest, WritingNeedsTheRequiredMembers) {
  std::string work = Work();
  ASSERT_EQ(::unlink((work + "/spec.dump").c_str()), 0);
  std::string path = dir_ + "/out.tar";
  UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  EXPECT_EQ(WriteCheckpointArchive(work, out.get()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ArchiveTest, MalformedArchivesAreRefused) {
  const std::string config = R"({"id":"a","rootfsImageName":"busybox"})";
  const std::string spec = R"({"process":{"args":["sh"]}})";
  struct Case {
    const char* what;
    std::map<std::string, std::string> entries;
  } cases[] = {
      {"no config.dump",
       {{"spec.dump", spec}, {"checkpoint/", ""}, {"checkpoint/inventory.img", "x"}}},
      {"config.dump not JSON",
       {{"config.dump", "{"}, {"spec.dump", spec}, {"checkpoint/inventory.img", "x"}}},
      {"spec.dump not a spec",
       {{"config.dump", config}, {"spec.dump", "[1]"}, {"checkpoint/inventory.img", "x"}}},
      {"no CRIU images", {{"config.dump", config}, {"spec.dump", spec}, {"checkpoint/", ""}}},
      {"escaping entry",
       {{"config.dump", config},
        {"spec.dump", spec},
        {"checkpoint/inventory.img", "x"},
        {"../escape", "x"}}},
      {"bad deleted.files",
       {{"config.dump", config},
        {"spec.dump", spec},
        {"checkpoint/inventory.img", "x"},
        {"deleted.files", R"(["relative"])"}}},
  };
  for (const Case& c : cases) {
    std::string tar = Tar(c.entries);
    std::string dest = dir_ + "/dest-" + std::to_string(&c - cases);
    ASSERT_TRUE(MakeDirs(dest, 0700).ok());
    absl::StatusOr<CheckpointContents> contents = ReadCheckpointArchive(tar, dest);
    EXPECT_EQ(contents.status().code(), absl::StatusCode::kInvalidArgument)
        << c.what << ": " << contents.status();
    EXPECT_FALSE(::access((dir_ + "/escape").c_str(), F_OK) == 0) << c.what;
    ::unlink(tar.c_str());
  }
  // Not a tar at all, and a directory.
  Write(dir_ + "/garbage", "this is not a tar archive, not at all, no headers here");
  EXPECT_EQ(ReadCheckpointArchive(dir_ + "/garbage", Dir("dest-g")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCheckpointArchive(Dir("adir"), Dir("dest-d")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ArchiveTest, LocationMustBeANewFileBelowAnAllowedDir) {
  std::string allowed = dir_ + "/checkpoints";
  std::vector<std::string> dirs = {allowed};
  // The allowed dir is made on first use.
  absl::StatusOr<UniqueFd> file = CreateCheckpointFile(allowed + "/a.tar", dirs);
  ASSERT_TRUE(file.ok()) << file.status();
  struct stat st;
  ASSERT_EQ(::fstat(file->get(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  for (const std::string& bad :
       {std::string(""), std::string("relative.tar"), dir_ + "/elsewhere.tar",
        allowed + "/../escape.tar", allowed + "//b.tar", allowed + "/./b.tar",
        allowed + "/a.tar" /* exists */, allowed + "/nodir/b.tar", allowed, allowed + "x/b.tar"}) {
    absl::StatusOr<UniqueFd> refused = CreateCheckpointFile(bad, dirs);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(::access((dir_ + "/escape.tar").c_str(), F_OK), 0);

  // A symlinked subdir is not followed, even to a place inside.
  Dir("checkpoints/sub");
  ASSERT_EQ(::symlink(dir_.c_str(), (allowed + "/link").c_str()), 0);
  EXPECT_EQ(CreateCheckpointFile(allowed + "/link/c.tar", dirs).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(::access((dir_ + "/c.tar").c_str(), F_OK), 0);
  EXPECT_TRUE(CreateCheckpointFile(allowed + "/sub/c.tar", dirs).ok());
  // A symlink as the file itself is not followed either.
  ASSERT_EQ(::symlink((dir_ + "/target").c_str(), (allowed + "/sym.tar").c_str()), 0);
  EXPECT_EQ(CreateCheckpointFile(allowed + "/sym.tar", dirs).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(::access((dir_ + "/target").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace ocid
