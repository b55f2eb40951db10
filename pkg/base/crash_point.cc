#include "pkg/base/crash_point.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace ocid {

#ifndef NDEBUG
void CrashPoint(const char* name) {
  // Read each time: set only by tests, before ocid starts.
  const char* wanted = ::getenv(kCrashPointEnv);
  if (wanted == nullptr || ::strcmp(wanted, name) != 0) return;
  // One line in ocid's log says where it stopped (write(2): no locks).
  const char prefix[] = "ocid: test crash point ";
  (void)!::write(STDERR_FILENO, prefix, sizeof(prefix) - 1);
  (void)!::write(STDERR_FILENO, name, ::strlen(name));
  (void)!::write(STDERR_FILENO, "\n", 1);
  ::_exit(137);
}
#endif

}  // namespace ocid
