#include "pkg/server/socket_publish.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

sockaddr_un Address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  return address;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Connects to `path`; the connect's errno, 0 on success.
int ConnectErrno(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address = Address(path);
  int result =
      ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

class SocketPublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ocid-publish-test.XXXXXX";  // sun_path is short
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/ocid.sock";
  }
  void TearDown() override {
    if (listener_ >= 0) ::close(listener_);
    std::filesystem::remove_all(dir_);
  }

  // What gRPC does in BuildAndStart: bind, then (a moment later) listen.
  // Records what a client polling for `path_` would have met in between.
  absl::Status BindThenListen(const std::string& bind_path) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address = Address(bind_path);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return absl::ErrnoToStatus(errno, "bind");
    }
    bound_path_ = bind_path;
    path_visible_before_listen_ = Exists(path_);
    if (path_visible_before_listen_) connect_before_listen_ = ConnectErrno(path_);
    if (::listen(listener_, 16) != 0) return absl::ErrnoToStatus(errno, "listen");
    return absl::OkStatus();
  }

  std::string dir_, path_, bound_path_;
  int listener_ = -1;
  bool path_visible_before_listen_ = false;
  int connect_before_listen_ = 0;
};

TEST_F(SocketPublishTest, ThePathAppearsOnlyOnceTheSocketListensWithItsMode) {
  ASSERT_TRUE(ListenThenPublish(path_, 0660, [&](const std::string& bind_path) {
                return BindThenListen(bind_path);
              }).ok());
  EXPECT_FALSE(path_visible_before_listen_)
      << "a client seeing the path then would be refused (errno " << connect_before_listen_
      << ") and back off";
  EXPECT_NE(bound_path_, path_);
  EXPECT_EQ(bound_path_, PrivateSocketPath(path_, ::getpid()));
  EXPECT_FALSE(Exists(bound_path_)) << "renamed into place";
  EXPECT_EQ(ConnectErrno(path_), 0);
  struct stat st;
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST_F(SocketPublishTest, AFailedListenLeavesNothingBehind) {
  absl::Status status = ListenThenPublish(path_, 0660, [&](const std::string& bind_path) {
    EXPECT_TRUE(BindThenListen(bind_path).ok());
    return absl::UnavailableError("gRPC did not start");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(Exists(path_));
  EXPECT_FALSE(Exists(bound_path_));
}

TEST_F(SocketPublishTest, APathThatAppearedMeanwhileIsNotReplaced) {
  absl::Status status = ListenThenPublish(path_, 0660, [&](const std::string& bind_path) {
    std::ofstream(path_) << "another server's";
    return BindThenListen(bind_path);
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(path_ + " appeared"));
  std::string kept;
  std::ifstream(path_) >> kept;
  EXPECT_EQ(kept, "another");
  EXPECT_FALSE(Exists(bound_path_));
}

TEST_F(SocketPublishTest, AStalePrivatePathIsRemovedFirst) {
  std::ofstream(PrivateSocketPath(path_, ::getpid())) << "left by a killed ocid";
  ASSERT_TRUE(ListenThenPublish(path_, 0660, [&](const std::string& bind_path) {
                return BindThenListen(bind_path);
              }).ok());
  EXPECT_EQ(ConnectErrno(path_), 0);
}

TEST_F(SocketPublishTest, APathWithNoRoomForAPrivateNameIsBoundInPlace) {
  path_ = dir_ + "/" + std::string(sizeof(sockaddr_un::sun_path) - 2 - dir_.size(), 's');
  ASSERT_EQ(path_.size(), sizeof(sockaddr_un::sun_path) - 1);
  EXPECT_EQ(PrivateSocketPath(path_, ::getpid()), "");
  ASSERT_TRUE(ListenThenPublish(path_, 0600, [&](const std::string& bind_path) {
                return BindThenListen(bind_path);
              }).ok());
  EXPECT_EQ(bound_path_, path_);
  EXPECT_EQ(ConnectErrno(path_), 0);
  struct stat st;
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(PrivateSocketPathTest, IsAHiddenNameBesideThePath) {
  EXPECT_EQ(PrivateSocketPath("/run/ocid/ocid.sock", 42), "/run/ocid/.ocid.sock.42");
  EXPECT_EQ(PrivateSocketPath("ocid.sock", 42), ".ocid.sock.42");
}

}  // namespace
}  // namespace ocid
