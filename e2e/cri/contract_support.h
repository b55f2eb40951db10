// What the CRI contract tests share: checks on a call's status (code and the
// field its message names) and snapshots of what ocid holds, so that a test
// can show that a refused call changed nothing.
#ifndef OCID_E2E_CRI_CONTRACT_SUPPORT_H_
#define OCID_E2E_CRI_CONTRACT_SUPPORT_H_

#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {

// Success when `status` has `code` and its message contains `needle` (the
// field a bad-input error must name; "" for any message).
inline ::testing::AssertionResult HasCode(const absl::Status& status, absl::StatusCode code,
                                          const std::string& needle = "") {
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "want " << absl::StatusCodeToString(code) << ", got " << status;
  }
  if (!needle.empty() && !absl::StrContains(status.message(), needle)) {
    return ::testing::AssertionFailure()
           << "want a message naming \"" << needle << "\", got " << status;
  }
  return ::testing::AssertionSuccess();
}

// A whole file's text; "" when it cannot be read.
inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The names in `dir`; none when it cannot be read.
inline std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

class ContractTest : public CriTest {
 protected:
  // The IDs ocid lists now; an error here fails the test (fatally for the
  // caller's ASSERT_NO_FATAL_FAILURE).
  std::set<std::string> PodIds() {
    std::set<std::string> ids;
    absl::StatusOr<std::vector<v1::PodSandbox>> pods = ListPods();
    EXPECT_TRUE(pods.ok()) << pods.status();
    if (pods.ok()) {
      for (const v1::PodSandbox& pod : *pods) ids.insert(pod.id());
    }
    return ids;
  }
  std::set<std::string> ContainerIds() {
    std::set<std::string> ids;
    absl::StatusOr<std::vector<v1::Container>> containers = ListContainers();
    EXPECT_TRUE(containers.ok()) << containers.status();
    if (containers.ok()) {
      for (const v1::Container& container : *containers) ids.insert(container.id());
    }
    return ids;
  }
  std::set<std::string> ImageIds() {
    std::set<std::string> ids;
    absl::StatusOr<std::vector<v1::Image>> images = ListImages();
    EXPECT_TRUE(images.ok()) << images.status();
    if (images.ok()) {
      for (const v1::Image& image : *images) ids.insert(image.id());
    }
    return ids;
  }

  // An ID no object has (ocid's IDs are 64 hex digits).
  static std::string UnknownId() { return std::string(64, 'f'); }

  // ocid's pid: the process serving the suite's socket; 0 if none.
  static pid_t OcidPid() {
    for (const std::string& name : Entries("/proc")) {
      pid_t pid = 0;
      if (!absl::SimpleAtoi(name, &pid)) continue;
      std::vector<std::string> argv = absl::StrSplit(ReadAll("/proc/" + name + "/cmdline"), '\0');
      for (size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--listen" && argv[i + 1] == Info().socket) return pid;
      }
    }
    return 0;
  }
};

}  // namespace ocid::e2e

#endif  // OCID_E2E_CRI_CONTRACT_SUPPORT_H_
