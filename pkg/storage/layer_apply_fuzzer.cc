// Fuzzes ApplyLayer with arbitrary layer bytes. Whatever the input, it must
// not crash, leak an fd, or put anything beside its target dir: each run
// unpacks into <tmp>/layer/target next to an empty <tmp>/layer/canary, and
// aborts if anything shows up outside target/.
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "pkg/base/unique_fd.h"
#include "pkg/storage/layer_apply.h"

namespace {

namespace fs = std::filesystem;

size_t CountEntries(const fs::path& dir) {
  std::error_code error;
  size_t count = 0;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    ++count;
  }
  if (error) std::abort();
  return count;
}

size_t CountOpenFds() { return CountEntries("/proc/self/fd"); }

ocid::UniqueFd LayerFd(const uint8_t* data, size_t size) {
  ocid::UniqueFd fd(memfd_create("layer", MFD_CLOEXEC));
  if (!fd.valid()) std::abort();
  for (size_t done = 0; done < size;) {
    ssize_t written = write(fd.get(), data + done, size - done);
    if (written <= 0) std::abort();
    done += static_cast<size_t>(written);
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) std::abort();
  return fd;
}

// Under `bazel test` the sandbox's TEST_TMPDIR, else /tmp.
std::string MakeTempDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/layer_apply_fuzz.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t fds_before = CountOpenFds();
  fs::path root = MakeTempDir();
  fs::path layer = root / "layer";
  fs::create_directories(layer / "target");
  fs::create_directories(layer / "canary");
  {
    ocid::UniqueFd fd = LayerFd(data, size);
    (void)ocid::ApplyLayer(fd.get(), (layer / "target").string());
  }
  bool escaped =
      CountEntries(root) != 1 || CountEntries(layer) != 2 || CountEntries(layer / "canary") != 0;
  std::error_code error;
  fs::remove_all(root, error);
  if (escaped || error || CountOpenFds() != fds_before) std::abort();
  return 0;
}
