#include "pkg/streaming/splice_pipe.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <utility>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pkg/streaming/testing/tcp_pair.h"

namespace ocid::streaming {
namespace {

std::string ReadExactly(int fd, size_t n) {
  std::string got;
  char buffer[4096];
  while (got.size() < n) {
    ssize_t r = ::read(fd, buffer, std::min(sizeof(buffer), n - got.size()));
    if (r <= 0) break;
    got.append(buffer, static_cast<size_t>(r));
  }
  return got;
}

TEST(SplicePipe, TellsTcpFromOtherSockets) {
  auto [a, b] = TcpPair();
  EXPECT_TRUE(IsTcpSocket(a.get()));
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd x(fds[0]), y(fds[1]);
  EXPECT_FALSE(IsTcpSocket(x.get()));
  EXPECT_FALSE(IsTcpSocket(-1));
}

TEST(SplicePipe, MovesBytesBetweenTcpSocketsInOrder) {
  auto [from_writer, from] = TcpPair();
  auto [to, to_reader] = TcpPair();
  absl::StatusOr<SplicePipe> pipe = SplicePipe::Make();
  ASSERT_TRUE(pipe.ok()) << pipe.status();
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  std::thread writer([&, fd = from_writer.get()] {
    ASSERT_EQ(::send(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    ::shutdown(fd, SHUT_WR);
  });
  std::string got;
  std::thread reader([&, fd = to_reader.get()] { got = ReadExactly(fd, data.size() + 1); });
  size_t moved = 0;
  for (;;) {
    absl::StatusOr<size_t> n = pipe->Fill(from.get(), 100000);
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    EXPECT_LE(*n, 100000u);
    EXPECT_EQ(pipe->held(), *n);
    ASSERT_TRUE(pipe->Drain(to.get(), *n).ok());
    EXPECT_EQ(pipe->held(), 0u);
    moved += *n;
  }
  ::shutdown(to.get(), SHUT_WR);
  writer.join();
  reader.join();
  EXPECT_EQ(moved, data.size());
  EXPECT_TRUE(got == data) << "damaged or reordered, " << got.size() << " bytes";
}

TEST(SplicePipe, FillRefusesAPipeThatHoldsBytes) {
  auto [a, b] = TcpPair();
  absl::StatusOr<SplicePipe> pipe = SplicePipe::Make();
  ASSERT_TRUE(pipe.ok());
  ASSERT_EQ(::send(a.get(), "abc", 3, 0), 3);
  ASSERT_EQ(*pipe->Fill(b.get(), 3), 3u);
  EXPECT_EQ(pipe->Fill(b.get(), 3).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(pipe->Discard().ok());
  EXPECT_EQ(pipe->held(), 0u);
}

TEST(SplicePipe, DrainsInPartsAndFallsBackToACopyWhereSpliceRefuses) {
  auto [a, b] = TcpPair();
  absl::StatusOr<SplicePipe> pipe = SplicePipe::Make();
  ASSERT_TRUE(pipe.ok());
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd x(fds[0]), y(fds[1]);
  ASSERT_EQ(::send(a.get(), "hello", 5, 0), 5);
  ASSERT_EQ(*pipe->Fill(b.get(), 5), 5u);
  ASSERT_TRUE(pipe->Drain(x.get(), 2).ok());  // part of it
  EXPECT_EQ(pipe->held(), 3u);
  EXPECT_EQ(ReadExactly(y.get(), 2), "he");
  // splice(2) refuses a file opened O_APPEND (EINVAL): the rest is copied.
  char path[] = "/tmp/splice_pipe_test.XXXXXX";
  int temp = ::mkstemp(path);
  ASSERT_GE(temp, 0);
  ::close(temp);
  UniqueFd file(::open(path, O_RDWR | O_APPEND | O_CLOEXEC));
  ::unlink(path);
  ASSERT_TRUE(file.valid());
  ASSERT_TRUE(pipe->Drain(file.get(), 3).ok());
  EXPECT_EQ(pipe->held(), 0u);
  char got[4] = {};
  EXPECT_EQ(::pread(file.get(), got, sizeof(got), 0), 3);
  EXPECT_EQ(std::string(got, 3), "llo");
}

TEST(SplicePipe, FillFromSomethingSpliceRefusesIsInvalidArgument) {
  absl::StatusOr<SplicePipe> pipe = SplicePipe::Make();
  ASSERT_TRUE(pipe.ok());
  UniqueFd directory(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(directory.valid());
  EXPECT_EQ(pipe->Fill(directory.get(), 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SplicePipe, DrainIntoAClosedPeerIsAnErrorNotASignal) {
  auto [a, b] = TcpPair();
  auto [to, gone] = TcpPair();
  gone.Reset();
  absl::StatusOr<SplicePipe> pipe = SplicePipe::Make();
  ASSERT_TRUE(pipe.ok());
  const std::string data(64 << 10, 'x');
  ScopedSigpipeBlock no_sigpipe;  // else SIGPIPE would end this test
  absl::Status status;
  // The first writes may still be taken before the peer's reset arrives.
  for (int i = 0; i < 100 && status.ok(); ++i) {
    ASSERT_EQ(::send(a.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    absl::StatusOr<size_t> n = pipe->Fill(b.get(), data.size());
    ASSERT_TRUE(n.ok()) << n.status();
    status = pipe->Drain(to.get(), pipe->held());
    if (!status.ok()) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_FALSE(status.ok());
}

}  // namespace
}  // namespace ocid::streaming
