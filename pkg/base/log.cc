#include "pkg/base/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ocid {
namespace {

constexpr absl::string_view kLevelNames[] = {"fatal", "error", "warn",
                                             "info",  "debug", "trace"};

// The one process-wide setting: written at start-up, read on every log call.
std::atomic<int> current_level{static_cast<int>(LogLevel::kInfo)};

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  for (int i = 0; i < 6; ++i) {
    if (kLevelNames[i] == name) return static_cast<LogLevel>(i);
  }
  if (name == "warning") return LogLevel::kWarn;
  return absl::InvalidArgumentError(absl::StrCat(
      "log level \"", name, "\" is not one of fatal, error, warn, info, debug, trace"));
}

absl::string_view LogLevelName(LogLevel level) {
  return kLevelNames[static_cast<int>(level)];
}

void SetLogLevel(LogLevel level) { current_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= current_level.load(std::memory_order_relaxed);
}

void LogLine(LogLevel level, absl::string_view message) {
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3S%Ez", absl::Now(), absl::LocalTimeZone()), " ",
      LogLevelName(level), " ", message, "\n");
  // One write() per line keeps lines from concurrent threads whole.
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace ocid
