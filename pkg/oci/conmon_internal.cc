#include "pkg/oci/conmon_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "pkg/base/child_reaper.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace oci_internal {
namespace {

// Extra fds are first duplicated at or above this number so that placing them
// at 3, 4, ... in the child never overwrites one not yet placed.
constexpr int kFirstHighFd = 16;

absl::string_view EnvName(absl::string_view entry) { return entry.substr(0, entry.find('=')); }

std::vector<std::string> MergeEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    bool replaced = std::any_of(extra.begin(), extra.end(), [&](const std::string& e) {
      return EnvName(e) == EnvName(*entry);
    });
    if (!replaced) env.emplace_back(*entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// posix_spawn's file actions and attributes, released by scope.
struct SpawnSetup {
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
};

// Fills `setup` for `options`; `high_fds` are the extra fds' duplicates.
int PrepareSpawn(const Subprocess::Options& options, const std::vector<UniqueFd>& high_fds,
                 SpawnSetup& setup) {
  posix_spawn_file_actions_t* actions = &setup.actions;
  int error = posix_spawn_file_actions_addopen(actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const int targets[] = {STDOUT_FILENO, STDERR_FILENO};
  const int sources[] = {options.stdout_fd, options.stderr_fd};
  for (int i = 0; i < 2 && error == 0; ++i) {
    error = sources[i] >= 0
                ? posix_spawn_file_actions_adddup2(actions, sources[i], targets[i])
                : posix_spawn_file_actions_addopen(actions, targets[i], "/dev/null", O_WRONLY, 0);
  }
  for (size_t i = 0; i < high_fds.size() && error == 0; ++i) {
    // dup2 onto a new number clears FD_CLOEXEC on the copy.
    error = posix_spawn_file_actions_adddup2(actions, high_fds[i].get(), 3 + static_cast<int>(i));
  }
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  if (error == 0) error = posix_spawnattr_setsigmask(&setup.attr, &none);
  if (error == 0) error = posix_spawnattr_setsigdefault(&setup.attr, &all);
  if (error == 0) {
    error = posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  return error;
}

// Waits until `fd` is readable or `deadline` passes (DeadlineExceeded).
absl::Status PollIn(int fd, absl::Time deadline) {
  while (true) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("timed out");
      timeout_ms = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), INT_MAX));
    }
    struct pollfd item = {fd, POLLIN, 0};
    int n = ::poll(&item, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "poll");
    if (n > 0) return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<Subprocess> Subprocess::Spawn(const Options& options) {
  if (options.argv.empty() || options.argv[0].empty() || options.argv[0][0] != '/') {
    return absl::InvalidArgumentError("spawn: argv[0] must be an absolute path");
  }
  std::vector<UniqueFd> high_fds;
  for (int fd : options.extra_fds) {
    UniqueFd high(::fcntl(fd, F_DUPFD_CLOEXEC, kFirstHighFd));
    if (!high.valid()) return absl::ErrnoToStatus(errno, "duplicate fd for the child");
    high_fds.push_back(std::move(high));
  }
  SpawnSetup setup;
  int error = PrepareSpawn(options, high_fds, setup);
  if (error != 0) return absl::ErrnoToStatus(error, "prepare spawn of " + options.argv[0]);
  std::vector<std::string> env = MergeEnv(options.env);
  std::vector<char*> argv = CStrings(options.argv);
  std::vector<char*> envp = CStrings(env);
  pid_t pid = -1;
  // Registered: the orphan reaper leaves it to our waits.
  SpawnOwnedChild([&] {
    error = ::posix_spawn(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
    return error == 0 ? pid : -1;
  });
  if (error != 0) return absl::ErrnoToStatus(error, "spawn " + options.argv[0]);
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    absl::Status status = absl::ErrnoToStatus(errno, "pidfd_open");
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    ReleaseOwnedChild(pid);
    return status;
  }
  return Subprocess(pid, std::move(pidfd));
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      wait_status_(other.wait_status_) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    wait_status_ = other.wait_status_;
  }
  return *this;
}

Subprocess::~Subprocess() { KillAndReap(); }

void Subprocess::KillAndReap() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
  }
  ReleaseOwnedChild(std::exchange(pid_, -1));
  pidfd_.Reset();
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  if (pid_ < 0) return wait_status_;
  absl::Status ready = PollIn(pidfd_.get(), absl::Now() + timeout);
  if (!ready.ok()) {
    if (absl::IsDeadlineExceeded(ready)) {
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid_, " still runs after ", absl::FormatDuration(timeout)));
    }
    return ready;
  }
  while (::waitpid(pid_, &wait_status_, 0) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat("wait for ", pid_));
  }
  ReleaseOwnedChild(std::exchange(pid_, -1));
  pidfd_.Reset();
  return wait_status_;
}

absl::StatusOr<UniqueFd> MakeCaptureFd() {
  UniqueFd fd(::memfd_create("ocid-capture", MFD_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "memfd_create");
  return fd;
}

std::string ReadCaptureFd(int fd, size_t max_bytes) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) return "";
  std::string data(std::min(max_bytes, static_cast<size_t>(st.st_size)), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pread(fd, &data[done], data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

absl::StatusOr<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout) {
  constexpr size_t kMaxOutput = 4 << 20;
  ASSIGN_OR_RETURN(UniqueFd out, MakeCaptureFd());
  ASSIGN_OR_RETURN(UniqueFd err, MakeCaptureFd());
  Subprocess::Options options;
  options.argv = argv;
  options.stdout_fd = out.get();
  options.stderr_fd = err.get();
  ASSIGN_OR_RETURN(Subprocess child, Subprocess::Spawn(options));
  absl::StatusOr<int> status = child.Wait(timeout);
  if (!status.ok()) {
    return absl::Status(status.status().code(),
                        absl::StrCat(absl::StrJoin(argv, " "), ": ", status.status().message()));
  }
  CommandOutput output;
  output.wait_status = *status;
  output.stdout_data = ReadCaptureFd(out.get(), kMaxOutput);
  output.stderr_data = ReadCaptureFd(err.get(), kMaxOutput);
  return output;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exit status ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return absl::StrCat("killed by signal ", WTERMSIG(wait_status));
  return absl::StrCat("wait status ", wait_status);
}

std::string RuntimeMessage(absl::string_view stderr_text) {
  constexpr absl::string_view kMarker = "msg=\"";
  size_t start = stderr_text.rfind(kMarker);
  if (start == absl::string_view::npos) {
    return std::string(absl::StripAsciiWhitespace(stderr_text));
  }
  std::string message;
  for (size_t i = start + kMarker.size(); i < stderr_text.size(); ++i) {
    char c = stderr_text[i];
    if (c == '"') break;
    if (c == '\\' && i + 1 < stderr_text.size()) {
      c = stderr_text[++i];
      if (c == 'n') c = '\n';
      if (c == 't') c = '\t';
    }
    message.push_back(c);
  }
  return message;
}

absl::StatusOr<SyncMessage> ParseSyncMessage(absl::string_view text, absl::string_view key) {
  nlohmann::json json = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                              /*allow_exceptions=*/false);
  const std::string key_string(key);
  if (!json.is_object() || !json.contains(key_string) || !json[key_string].is_number_integer()) {
    return absl::InternalError(
        absl::StrCat("conmon sent an unexpected message: ", absl::StripAsciiWhitespace(text)));
  }
  int64_t value = json[key_string].get<int64_t>();
  if (value < INT_MIN || value > INT_MAX) {
    return absl::InternalError(absl::StrCat("conmon sent an out-of-range ", key, ": ", value));
  }
  SyncMessage message;
  message.value = static_cast<int>(value);
  if (json.contains("message") && json["message"].is_string()) {
    message.message = json["message"].get<std::string>();
  }
  return message;
}

absl::StatusOr<SyncMessage> ReadSyncMessage(int fd, absl::string_view key, absl::Duration timeout) {
  absl::Status ready = PollIn(fd, absl::Now() + timeout);
  if (absl::IsDeadlineExceeded(ready)) {
    return absl::DeadlineExceededError(
        absl::StrCat("conmon sent nothing within ", absl::FormatDuration(timeout)));
  }
  RETURN_IF_ERROR(ready);
  // One datagram per message; conmon's are at most a few KiB.
  std::string buffer(128 << 10, '\0');
  ssize_t n;
  do {
    n = ::recv(fd, &buffer[0], buffer.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "read conmon's sync pipe");
  if (n == 0) return absl::UnavailableError("conmon closed its sync pipe without a message");
  buffer.resize(static_cast<size_t>(n));
  return ParseSyncMessage(buffer, key);
}

void AppendCriLogLine(absl::string_view line, size_t max_per_stream, CriLogStreams& streams) {
  // <timestamp> <stream> <tag> <text>; the text may be empty.
  size_t first = line.find(' ');
  if (first == absl::string_view::npos) return;
  size_t second = line.find(' ', first + 1);
  if (second == absl::string_view::npos) return;
  absl::string_view stream = line.substr(first + 1, second - first - 1);
  absl::string_view rest = line.substr(second + 1);
  size_t third = rest.find(' ');
  absl::string_view tag = rest.substr(0, third);
  absl::string_view text =
      third == absl::string_view::npos ? absl::string_view() : rest.substr(third + 1);
  std::string* out = nullptr;
  if (stream == "stdout") out = &streams.stdout_data;
  if (stream == "stderr") out = &streams.stderr_data;
  if (out == nullptr || tag.empty()) return;
  std::string piece(text);
  if (tag[0] != 'P') piece.push_back('\n');
  size_t room = max_per_stream - std::min(max_per_stream, out->size());
  out->append(piece, 0, std::min(room, piece.size()));
}

absl::StatusOr<CriLogStreams> ReadCriLog(const std::string& path, size_t max_per_stream) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(::fopen(path.c_str(), "re"), &::fclose);
  if (file == nullptr) return absl::ErrnoToStatus(errno, "open " + path);
  CriLogStreams streams;
  char* line = nullptr;
  size_t capacity = 0;
  ssize_t n;
  while ((n = ::getline(&line, &capacity, file.get())) >= 0) {
    absl::string_view text(line, static_cast<size_t>(n));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    AppendCriLogLine(text, max_per_stream, streams);
  }
  bool failed = ::ferror(file.get()) != 0;
  ::free(line);
  if (failed) return absl::InternalError("read " + path);
  return streams;
}

}  // namespace oci_internal
}  // namespace ocid
