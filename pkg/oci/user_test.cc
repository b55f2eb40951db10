#include "pkg/oci/user.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

using Gids = std::vector<uint32_t>;

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "broken line\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
    "bob:x:1001:100::/home/bob:/bin/sh\n";

constexpr char kGroup[] =
    "root:x:0:\n"
    "users:x:100:bob\n"
    "alice:x:1000:\n"
    "video:x:44:alice,bob\n"
    "audio:x:29:alice\n"
    "staff:x:50:\n";

class ResolveUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = absl::StrCat(std::getenv("TEST_TMPDIR"), "/user.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    rootfs_ = dir_ + "/rootfs";
    ASSERT_TRUE(MakeDirs(rootfs_ + "/etc", 0755).ok());
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }

  void Write(const std::string& path, const std::string& contents) {
    std::ofstream(path) << contents;
  }
  void WriteDatabases() {
    Write(rootfs_ + "/etc/passwd", kPasswd);
    Write(rootfs_ + "/etc/group", kGroup);
  }

  std::string dir_;
  std::string rootfs_;
};

TEST_F(ResolveUserTest, EmptySpecIsRoot) {
  WriteDatabases();
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "", {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 0u);
  EXPECT_EQ(user->gid, 0u);
  EXPECT_EQ(user->home, "/root");
  EXPECT_TRUE(user->additional_gids.empty());
}

TEST_F(ResolveUserTest, NameGivesUidGidHomeAndMemberGroups) {
  WriteDatabases();
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "alice", {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 1000u);
  EXPECT_EQ(user->home, "/home/alice");
  EXPECT_EQ(user->additional_gids, (Gids{44u, 29u}));
}

TEST_F(ResolveUserTest, PrimaryGroupIsNotRepeated) {
  WriteDatabases();
  // bob's primary group (100) also lists him as a member.
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "bob", {100, 50, 44, 7});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->gid, 100u);
  EXPECT_EQ(user->additional_gids, (Gids{44u, 50u, 7u}));
}

TEST_F(ResolveUserTest, NumericUidUsesPasswdEntryWhenPresent) {
  WriteDatabases();
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "1001", {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 1001u);
  EXPECT_EQ(user->gid, 100u);
  EXPECT_EQ(user->home, "/home/bob");
}

TEST_F(ResolveUserTest, NumericUidWithoutEntryGetsGidZero) {
  WriteDatabases();
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "4242", {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 4242u);
  EXPECT_EQ(user->gid, 0u);
  EXPECT_EQ(user->home, "/");
}

TEST_F(ResolveUserTest, MissingFilesAreFineForNumericIds) {
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "123:456", {789});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 123u);
  EXPECT_EQ(user->gid, 456u);
  EXPECT_EQ(user->additional_gids, (Gids{789u}));
}

TEST_F(ResolveUserTest, GroupByNameOrNumber) {
  WriteDatabases();
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "alice:staff", {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 50u);
  user = ResolveUser(rootfs_, "1000:77", {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->gid, 77u);
}

TEST_F(ResolveUserTest, UnknownNamesAreInvalidArgumentNamingThem) {
  WriteDatabases();
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "mallory", {});
  EXPECT_EQ(user.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(user.status().message().find("mallory"), absl::string_view::npos);
  user = ResolveUser(rootfs_, "alice:wheel", {});
  EXPECT_EQ(user.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(user.status().message().find("wheel"), absl::string_view::npos);
}

TEST_F(ResolveUserTest, MalformedSpecsAndIdsAreRefused) {
  WriteDatabases();
  for (const char* spec : {"alice:", "a:b:c", "99999999999"}) {
    EXPECT_EQ(ResolveUser(rootfs_, spec, {}).status().code(), absl::StatusCode::kInvalidArgument)
        << spec;
  }
  EXPECT_EQ(ResolveUser(rootfs_, "0", {-1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveUser(rootfs_, "0", {int64_t{1} << 32}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ResolveUserTest, SymlinksResolveInsideTheRootfs) {
  // An absolute link to a "host" file must resolve inside the rootfs, where
  // the target does not exist: the host's entries are never seen.
  std::string host_passwd = dir_ + "/host-passwd";
  Write(host_passwd, "evil:x:666:666::/:/bin/sh\n");
  ASSERT_EQ(symlink(host_passwd.c_str(), (rootfs_ + "/etc/passwd").c_str()), 0);
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "evil", {});
  EXPECT_EQ(user.status().code(), absl::StatusCode::kInvalidArgument) << user.status();

  // A relative link climbing out is clamped at the root too.
  ASSERT_EQ(unlink((rootfs_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(symlink("../../host-passwd", (rootfs_ + "/etc/passwd").c_str()), 0);
  user = ResolveUser(rootfs_, "evil", {});
  EXPECT_EQ(user.status().code(), absl::StatusCode::kInvalidArgument) << user.status();

  // A link that stays inside works.
  ASSERT_EQ(unlink((rootfs_ + "/etc/passwd").c_str()), 0);
  Write(rootfs_ + "/etc/passwd.real", kPasswd);
  ASSERT_EQ(symlink("/etc/passwd.real", (rootfs_ + "/etc/passwd").c_str()), 0);
  user = ResolveUser(rootfs_, "alice", {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 1000u);
}

TEST_F(ResolveUserTest, NonRegularFilesReadAsEmpty) {
  ASSERT_EQ(mkfifo((rootfs_ + "/etc/passwd").c_str(), 0644), 0);
  absl::StatusOr<ResolvedUser> user = ResolveUser(rootfs_, "5", {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 5u);
  EXPECT_EQ(ResolveUser(rootfs_, "alice", {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ResolveUserTest, MissingRootfsIsAnError) {
  EXPECT_EQ(ResolveUser(dir_ + "/nope", "0", {}).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ocid
