// Fuzz target: a checkpoint archive to restore from is a file (or an image)
// from elsewhere. Whatever the bytes, ReadCheckpointArchive and then
// ApplyRootfsDiff must return without a crash, a leaked fd, or anything
// written beside their dirs: each run works in <tmp>/run/{archive.tar,
// unpacked,upper} next to an empty <tmp>/run/canary, and aborts if anything
// else shows up.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "pkg/checkpoint/archive.h"

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

// Under `bazel test` the sandbox's TEST_TMPDIR, else /tmp.
std::string MakeTempDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/checkpoint_archive_fuzz.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t fds_before = CountEntries("/proc/self/fd");
  fs::path root = MakeTempDir();
  fs::path run = root / "run";
  for (const char* dir : {"unpacked", "upper", "canary"}) fs::create_directories(run / dir);
  {
    std::ofstream out(run / "archive.tar", std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out.flush()) std::abort();
  }
  absl::StatusOr<ocid::CheckpointContents> contents =
      ocid::ReadCheckpointArchive((run / "archive.tar").string(), (run / "unpacked").string());
  if (contents.ok()) {
    (void)contents->spec.dump();
    (void)ocid::ApplyRootfsDiff((run / "unpacked").string(), contents->deleted_files,
                                (run / "upper").string());
  }
  bool escaped =
      CountEntries(root) != 1 || CountEntries(run) != 4 || CountEntries(run / "canary") != 0;
  std::error_code error;
  fs::remove_all(root, error);
  if (escaped || error || CountEntries("/proc/self/fd") != fds_before) std::abort();
  return 0;
}
