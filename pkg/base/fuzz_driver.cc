// A main() for fuzz targets built with gcc, which has no libFuzzer: replays
// every corpus file given (files or dirs), then feeds a bounded number of
// deterministic mutations of them. A crash or sanitizer report fails it.
//   fuzz_target [CORPUS...]   (FUZZ_ITERATIONS, default 5000)
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "pkg/base/fs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Collect(const std::string& path, std::vector<std::string>& inputs) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return;  // no corpus yet is fine
  if (S_ISDIR(st.st_mode)) {
    absl::StatusOr<std::vector<std::string>> names = ocid::ListDir(path);
    if (!names.ok()) {
      // A corpus that cannot be read would make the smoke test pass on nothing.
      std::fprintf(stderr, "%s\n", names.status().ToString().c_str());
      std::abort();
    }
    for (const std::string& name : *names) {
      if (name[0] != '.') Collect(path + "/" + name, inputs);
    }
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  inputs.push_back(bytes.str());
}

std::string Mutate(std::string input, std::mt19937& random) {
  int edits = 1 + random() % 8;
  for (int i = 0; i < edits; ++i) {
    size_t at = input.empty() ? 0 : random() % input.size();
    switch (random() % 5) {
      case 0:
        if (!input.empty()) input[at] = static_cast<char>(random());
        break;
      case 1:
        input.insert(at, 1, static_cast<char>(random()));
        break;
      case 2:
        if (!input.empty()) input.erase(at, 1 + random() % 16);
        break;
      case 3:
        input.resize(at);
        break;
      default:
        if (!input.empty()) input.insert(at, input.substr(random() % input.size(), 32));
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) Collect(argv[i], corpus);
  if (corpus.empty()) corpus.push_back("");
  for (const std::string& input : corpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  const char* env = std::getenv("FUZZ_ITERATIONS");
  long iterations = env != nullptr ? std::atol(env) : 5000;
  std::mt19937 random(20261128);
  for (long i = 0; i < iterations; ++i) {
    std::string input = Mutate(corpus[random() % corpus.size()], random);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("fuzz smoke: %zu corpus inputs, %ld mutations, no crash\n", corpus.size(),
              iterations);
  return 0;
}
