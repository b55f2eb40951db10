#include "pkg/oci/interactive_internal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"
#include "pkg/base/unique_fd.h"

namespace ocid::oci_internal {
namespace {

using streaming::Output;
using streaming::OutputKind;

// After the runtime exits, output still open (a background child holds the
// pipe) is read for this long, then the session ends.
constexpr absl::Duration kOutputGrace = absl::Seconds(2);

absl::Status WriteAllFd(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write input");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

struct Pipe {
  UniqueFd read, write;
};

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

absl::StatusOr<Pipe> MakePty() {
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) return absl::ErrnoToStatus(errno, "posix_openpt");
  if (::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) {
    return absl::ErrnoToStatus(errno, "unlock pty");
  }
  char name[128];
  if (::ptsname_r(master.get(), name, sizeof(name)) != 0) {
    return absl::ErrnoToStatus(errno, "ptsname");
  }
  UniqueFd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", name));
  // The runtime copies between this terminal and the container's: ours must
  // pass bytes unchanged.
  termios t{};
  if (::tcgetattr(slave.get(), &t) == 0) {
    ::cfmakeraw(&t);
    ::tcsetattr(slave.get(), TCSANOW, &t);
  }
  return Pipe{std::move(master), std::move(slave)};  // read: master, write: slave
}

class ExecChannel : public streaming::Channel {
 public:
  ExecChannel(Subprocess runtime, std::string dir, std::string pid_file, bool tty, UniqueFd input,
              UniqueFd out, UniqueFd err, UniqueFd cancel)
      : runtime_(std::move(runtime)),
        dir_(std::move(dir)),
        pid_file_(std::move(pid_file)),
        tty_(tty),
        input_(std::move(input)),
        out_(std::move(out)),
        err_(std::move(err)),
        cancel_(std::move(cancel)) {}

  ~ExecChannel() override {
    KillExecProcess();
    {
      absl::MutexLock lock(&mu_);
      runtime_.Signal(SIGKILL).IgnoreError();
      runtime_.Wait(absl::Seconds(5)).IgnoreError();
    }
    RemoveAll(dir_).IgnoreError();
  }

  absl::StatusOr<Output> ReadOutput() override {
    char buf[32 << 10];
    for (;;) {
      pollfd fds[3];
      int n = 0;
      fds[n++] = {cancel_.get(), POLLIN, 0};
      if (out_.valid()) fds[n++] = {out_.get(), POLLIN, 0};
      if (err_.valid()) fds[n++] = {err_.get(), POLLIN, 0};
      if (n == 1 || cancelled_) return Output{};
      int ready = ::poll(fds, n, 200);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return absl::ErrnoToStatus(errno, "poll exec output");
      if (fds[0].revents != 0) return Output{};
      if (ready == 0) {
        if (GraceOver()) return Output{};
        continue;
      }
      for (int i = 1; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        UniqueFd& fd = fds[i].fd == out_.get() ? out_ : err_;
        ssize_t got = ::read(fd.get(), buf, sizeof(buf));
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) {  // EOF, or EIO once a pty has no slave left
          fd.Reset();
          continue;
        }
        return Output{&fd == &err_ ? OutputKind::kStderr : OutputKind::kStdout,
                      std::string(buf, static_cast<size_t>(got))};
      }
    }
  }

  absl::Status WriteInput(absl::string_view data) override {
    absl::MutexLock lock(&input_mu_);
    if (!input_.valid()) return absl::FailedPreconditionError("the command takes no input");
    return WriteAllFd(input_.get(), data);
  }

  void CloseInput() override {
    absl::MutexLock lock(&input_mu_);
    // A terminal's input stays open: closing the pty would end the output.
    if (!tty_) input_.Reset();
  }

  absl::Status Resize(uint16_t width, uint16_t height) override {
    if (!tty_) return absl::FailedPreconditionError("not a terminal session");
    winsize size{};
    size.ws_col = width;
    size.ws_row = height;
    if (::ioctl(out_.get(), TIOCSWINSZ, &size) != 0) {
      return absl::ErrnoToStatus(errno, "set the terminal size");
    }
    // Our terminal is not the runtime's controlling one: tell it directly,
    // and it resizes the container's console from ours.
    absl::MutexLock lock(&mu_);
    return runtime_.Signal(SIGWINCH);
  }

  absl::StatusOr<std::optional<int>> Wait() override {
    // In short waits: Cancel and Resize take the lock in between.
    absl::StatusOr<int> waited;
    for (;;) {
      absl::MutexLock lock(&mu_);
      waited = runtime_.Wait(absl::Milliseconds(50));
      if (!absl::IsDeadlineExceeded(waited.status())) break;
    }
    if (!waited.ok()) return waited.status();
    int status = *waited;
    if (WIFEXITED(status)) return std::optional<int>(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::optional<int>(128 + WTERMSIG(status));
    return std::optional<int>(-1);
  }

  void Cancel() override {
    KillExecProcess();
    cancelled_ = true;
    uint64_t one = 1;
    (void)!::write(cancel_.get(), &one, sizeof(one));  // a full counter wakes it as well
  }

 private:
  // True once the runtime has been gone for kOutputGrace.
  bool GraceOver() {
    absl::MutexLock lock(&mu_);
    if (runtime_.Running()) return false;
    if (exited_at_ == absl::InfinitePast()) exited_at_ = absl::Now();
    return absl::Now() - exited_at_ > kOutputGrace;
  }

  // The exec'd process runs in the container, not under us: kill it by the
  // pid the runtime wrote (while the runtime waits for it, the pid is its).
  void KillExecProcess() {
    absl::StatusOr<std::string> text = ReadFileToString(pid_file_, 64);
    pid_t pid = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) && pid > 0) {
      absl::MutexLock lock(&mu_);
      if (runtime_.Running()) ::kill(pid, SIGKILL);
    }
  }

  absl::Mutex mu_;  // runtime_
  Subprocess runtime_ ABSL_GUARDED_BY(mu_);
  absl::Time exited_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  const std::string dir_;
  const std::string pid_file_;
  const bool tty_;
  absl::Mutex input_mu_;
  UniqueFd input_ ABSL_GUARDED_BY(input_mu_);
  UniqueFd out_, err_;  // the reader's; out_ is the pty master with tty
  UniqueFd cancel_;     // an eventfd
  std::atomic<bool> cancelled_{false};
};

class AttachChannel : public streaming::Channel {
 public:
  AttachChannel(UniqueFd socket, std::string ctl_path, bool stdin, UniqueFd cancel)
      : socket_(std::move(socket)),
        ctl_path_(std::move(ctl_path)),
        stdin_(stdin),
        cancel_(std::move(cancel)) {}

  absl::StatusOr<Output> ReadOutput() override {
    // conmon sends at most 8 KiB and its pipe byte per packet.
    char buf[(32 << 10) + 1];
    for (;;) {
      pollfd fds[2] = {{cancel_.get(), POLLIN, 0}, {socket_.get(), POLLIN, 0}};
      int ready = ::poll(fds, 2, -1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return absl::ErrnoToStatus(errno, "poll attach socket");
      if (fds[0].revents != 0) return Output{};
      ssize_t got = ::recv(socket_.get(), buf, sizeof(buf), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return Output{};  // conmon is gone: the container exited
      if (got == 1) continue;
      if (buf[0] == kStdoutPipe || buf[0] == kStderrPipe) {
        return Output{buf[0] == kStderrPipe ? OutputKind::kStderr : OutputKind::kStdout,
                      std::string(buf + 1, static_cast<size_t>(got - 1))};
      }
    }
  }

  absl::Status WriteInput(absl::string_view data) override {
    if (!stdin_) return absl::OkStatus();  // the container reads no input
    absl::MutexLock lock(&input_mu_);
    if (input_closed_) return absl::FailedPreconditionError("input was closed");
    while (!data.empty()) {
      size_t n = std::min<size_t>(data.size(), 8192);
      ssize_t sent = ::send(socket_.get(), data.data(), n, MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0) return absl::ErrnoToStatus(errno, "write to the attach socket");
      data.remove_prefix(static_cast<size_t>(sent));
    }
    return absl::OkStatus();
  }

  void CloseInput() override {
    absl::MutexLock lock(&input_mu_);
    if (!stdin_ || input_closed_) return;
    input_closed_ = true;
    // conmon closes the container's stdin on this unless it was told to
    // leave it open (stdin_once false).
    ::shutdown(socket_.get(), SHUT_WR);
  }

  absl::Status Resize(uint16_t width, uint16_t height) override {
    UniqueFd ctl(::open(ctl_path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!ctl.valid()) return absl::ErrnoToStatus(errno, "open " + ctl_path_);
    // conmon's ctl message: type 1 (resize), then rows and columns.
    return WriteAllFd(ctl.get(), absl::StrCat("1 ", height, " ", width, "\n"));
  }

  absl::StatusOr<std::optional<int>> Wait() override { return std::optional<int>(); }

  void Cancel() override {
    uint64_t one = 1;
    (void)!::write(cancel_.get(), &one, sizeof(one));  // a full counter wakes it as well
  }

 private:
  static constexpr char kStdoutPipe = 2;
  static constexpr char kStderrPipe = 3;

  UniqueFd socket_;
  const std::string ctl_path_;
  const bool stdin_;
  UniqueFd cancel_;
  absl::Mutex input_mu_;
  bool input_closed_ ABSL_GUARDED_BY(input_mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<streaming::Channel>> StartExecChannel(
    std::vector<std::string> argv, std::string dir, std::string pid_file, bool tty, bool stdin) {
  UniqueFd cancel(::eventfd(0, EFD_CLOEXEC));
  if (!cancel.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  Subprocess::Options options;
  options.argv = std::move(argv);
  options.new_process_group = true;
  UniqueFd input, out, err;
  // The child's ends: Subprocess dups them, ours close when this returns.
  UniqueFd child_in, child_out, child_err;
  if (tty) {
    ASSIGN_OR_RETURN(Pipe pty, MakePty());
    options.stdin_io = options.stdout_io = options.stderr_io = Stdio::Fd(pty.write.get());
    input = UniqueFd(::fcntl(pty.read.get(), F_DUPFD_CLOEXEC, 0));
    out = std::move(pty.read);
    child_out = std::move(pty.write);
  } else {
    if (stdin) {
      ASSIGN_OR_RETURN(Pipe in, MakePipe());
      options.stdin_io = Stdio::Fd(in.read.get());
      input = std::move(in.write);
      child_in = std::move(in.read);
    }
    ASSIGN_OR_RETURN(Pipe o, MakePipe());
    ASSIGN_OR_RETURN(Pipe e, MakePipe());
    options.stdout_io = Stdio::Fd(o.write.get());
    options.stderr_io = Stdio::Fd(e.write.get());
    out = std::move(o.read);
    err = std::move(e.read);
    child_out = std::move(o.write);
    child_err = std::move(e.write);
  }
  absl::StatusOr<Subprocess> runtime = Subprocess::Spawn(std::move(options));
  if (!runtime.ok()) {
    RemoveAll(dir).IgnoreError();
    return runtime.status();
  }
  return std::unique_ptr<streaming::Channel>(
      new ExecChannel(std::move(*runtime), std::move(dir), std::move(pid_file), tty,
                      std::move(input), std::move(out), std::move(err), std::move(cancel)));
}

absl::StatusOr<std::unique_ptr<streaming::Channel>> ConnectAttachChannel(
    const std::string& socket_path, const std::string& ctl_path, bool stdin) {
  UniqueFd cancel(::eventfd(0, EFD_CLOEXEC));
  if (!cancel.valid()) return absl::ErrnoToStatus(errno, "eventfd");
  // The path may be longer than sun_path holds: connect through an O_PATH fd.
  UniqueFd path_fd(::open(socket_path.c_str(), O_PATH | O_CLOEXEC));
  if (!path_fd.valid()) return absl::ErrnoToStatus(errno, "open " + socket_path);
  UniqueFd socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!socket.valid()) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string via = absl::StrCat("/proc/self/fd/", path_fd.get());
  std::memcpy(address.sun_path, via.c_str(), via.size() + 1);
  if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::ErrnoToStatus(errno, "connect to " + socket_path);
  }
  return std::unique_ptr<streaming::Channel>(
      new AttachChannel(std::move(socket), ctl_path, stdin, std::move(cancel)));
}

}  // namespace ocid::oci_internal
