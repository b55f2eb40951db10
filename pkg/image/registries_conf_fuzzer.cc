// Fuzz target: registries.conf and its drop-ins are operator-written TOML
// that decide where every pull goes. Whatever the bytes, parsing and merging
// must return (never crash or throw), and a file that parses must be usable
// for lookups and short-name resolution.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "pkg/image/registries_conf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  ocid::RegistriesConf merged;  // the defaults, as with no main file
  (void)ocid::MergeRegistriesConf(text, "fuzz.conf.d/01.conf", merged);
  absl::StatusOr<ocid::RegistriesConf> conf = ocid::ParseRegistriesConf(text, "fuzz.conf");
  if (!conf.ok()) return 0;
  (void)ocid::MergeRegistriesConf(text, "fuzz.conf.d/02.conf", *conf);
  const std::map<std::string, std::string> cached = {{"app", "quay.io/cached/app"}};
  for (const char* name : {"busybox", "ns/app:v1", "app",
                           "quay.io/a/b@sha256:"
                           "0000000000000000000000000000000000000000000000000000000000000000",
                           "localhost:5000/x"}) {
    (void)ocid::ResolveCandidates(name, *conf, cached);
  }
  for (const char* name : {"docker.io/library/busybox", "quay.io/a/b", "example.com"}) {
    (void)conf->Find(name);
  }
  return 0;
}
