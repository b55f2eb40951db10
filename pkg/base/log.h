// Leveled logging to stderr. The level is set once at start-up from the
// config; lower layers return errors instead of logging them (STYLE.md).
#ifndef OCID_PKG_BASE_LOG_H_
#define OCID_PKG_BASE_LOG_H_

#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

enum class LogLevel { kFatal = 0, kError, kWarn, kInfo, kDebug, kTrace };

// Parses "fatal", "error", "warn", "info", "debug" or "trace" (crio's names).
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
absl::string_view LogLevelName(LogLevel level);

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// One formatted line: "<RFC3339 time> <level> <message>".
void LogLine(LogLevel level, absl::string_view message);

namespace log_internal {
class LineBuilder {
 public:
  explicit LineBuilder(LogLevel level) : level_(level) {}
  ~LineBuilder() { LogLine(level_, stream_.str()); }
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Lets OCID_LOG be one expression, so it nests safely inside if/else.
struct Voidify {
  void operator&(std::ostream&) {}
};
}  // namespace log_internal

}  // namespace ocid

// OCID_LOG(kInfo) << "text"; the message is only built when the level is on.
#define OCID_LOG(level)                            \
  !::ocid::LogEnabled(::ocid::LogLevel::level)     \
      ? (void)0                                    \
      : ::ocid::log_internal::Voidify() &          \
            ::ocid::log_internal::LineBuilder(::ocid::LogLevel::level).stream()

#endif  // OCID_PKG_BASE_LOG_H_
