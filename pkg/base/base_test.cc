#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "pkg/base/build_features.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return absl::InvalidArgumentError("odd");
  return n / 2;
}

absl::StatusOr<int> Quarter(int n) {
  ASSIGN_OR_RETURN(int half, Half(n));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int n) {
  RETURN_IF_ERROR(Half(n).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), absl::StatusCode::kInvalidArgument);
}

TEST(UniqueFdTest, ClosesOnScopeExitAndNotAfterRelease) {
  int raw = -1;
  {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);

  UniqueFd kept(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int released = kept.Release();
  EXPECT_FALSE(kept.valid());
  EXPECT_NE(::fcntl(released, F_GETFD), -1);
  ::close(released);
}

TEST(LogTest, ParsesLevelsAndFilters) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("loud").ok());
  SetLogLevel(LogLevel::kWarn);
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  SetLogLevel(LogLevel::kInfo);
}

// Holds for whichever --config the test is built with: a built feature is
// required without error and named in the description; a missing one fails
// with how to build it in.
TEST(BuildFeaturesTest, RequireAndDescribeAgreeWithWhatIsBuilt) {
  const struct {
    BuildFeature feature;
    const char* name;
  } features[] = {{BuildFeature::kSeccomp, "seccomp"},
                  {BuildFeature::kAppArmor, "apparmor"},
                  {BuildFeature::kSelinux, "selinux"}};
  std::vector<std::string> built;
  for (const auto& [feature, name] : features) {
    absl::Status status = RequireBuildFeature(feature);
    if (IsBuiltWith(feature)) {
      EXPECT_TRUE(status.ok()) << name << ": " << status;
      built.push_back(name);
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << name;
      EXPECT_EQ(status.message(), absl::StrCat("ocid was built without ", name,
                                               " (bazel build --config=", name, ")"));
    }
  }
  EXPECT_EQ(DescribeBuildFeatures(), built.empty() ? "none" : absl::StrJoin(built, " "));
}

TEST(FsTest, AtomicWriteReplacesWholeFilesAndLeavesNoTemp) {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/atomic";
  ASSERT_TRUE(MakeDirs(dir, 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/f", "first", 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/f", "second").ok());
  EXPECT_EQ(*ReadFileToString(dir + "/f", 100), "second");
  EXPECT_EQ(ReadFileToString(dir + "/f", 3).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ReadFileToString(dir + "/none", 3).status().code(), absl::StatusCode::kNotFound);
  for (Durability durability :
       {Durability::kVolatile, Durability::kOldOrNew, Durability::kDurable}) {
    std::string text = "mode " + std::to_string(static_cast<int>(durability));
    ASSERT_TRUE(WriteFileAtomically(dir + "/f", text, 0600, durability).ok());
    EXPECT_EQ(*ReadFileToString(dir + "/f", 100), text);
  }
  EXPECT_EQ(ListDir(dir).value(), std::vector<std::string>{"f"}) << "a temp file was left";

  ASSERT_TRUE(MakeDirs(dir + "/sub/deeper", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/sub/deeper/x", "x").ok());
  ASSERT_EQ(::symlink("/etc", (dir + "/sub/link").c_str()), 0);
  ASSERT_TRUE(RemoveAll(dir).ok());
  struct stat st;
  EXPECT_NE(::lstat(dir.c_str(), &st), 0);
  EXPECT_EQ(::stat("/etc/passwd", &st), 0) << "RemoveAll must not follow symlinks";
  EXPECT_TRUE(RemoveAll(dir).ok()) << "a missing path is fine";
}

TEST(MakeDirsTest, CreatesEveryMissingLevelWithTheMode) {
  std::string top = std::string(getenv("TEST_TMPDIR")) + "/mk";
  ASSERT_TRUE(MakeDirs(top + "/a/b/c", 0700).ok());
  struct stat st;
  ASSERT_EQ(::stat((top + "/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(MakeDirs(top + "/a/b/c", 0700).ok()) << "existing dirs are fine";

  int fd = ::open((top + "/file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ::close(fd);
  EXPECT_EQ(MakeDirs(top + "/file/sub", 0700).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ocid
