// Fuzz target: ocid.conf and its drop-ins are operator-written TOML, read at
// every start. Whatever the bytes, MergeToml must return (never crash or
// throw); a document it accepts must print (ToToml, ConfigAsJson) and read
// back from its own printout to an equal Config.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "pkg/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  ocid::Config config;
  if (!ocid::MergeToml(text, "fuzz.conf", config).ok()) return 0;
  (void)ocid::Validate(config);
  (void)ocid::ConfigAsJson(config);
  ocid::Config again;
  again.runtimes.clear();  // the printout lists every handler
  if (!ocid::MergeToml(ocid::ToToml(config), "printed.conf", again).ok()) std::abort();
  if (!(again == config)) std::abort();
  return 0;
}
