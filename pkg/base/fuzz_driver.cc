// A main() for fuzz targets built with gcc, which has no libFuzzer: replays
// every corpus file given (files or dirs), then feeds a bounded number of
// deterministic mutations of them. A crash or sanitizer report fails it.
//   fuzz_target [CORPUS...]   (FUZZ_ITERATIONS, default 10000)
// On an abort (a failed check, an uncaught exception) or a sanitizer report
// the input being run is written to $TEST_UNDECLARED_OUTPUTS_DIR (else the
// current dir) as crash-input, so that it can be replayed: fuzz_target FILE.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

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
// Provided by the sanitizer runtimes (a weak reference: null without one).
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace {

// What SaveCurrentInput writes; set before each input, read in a signal
// handler (hence plain pointers and a path made up front).
const std::string* current_input = nullptr;
std::string crash_path;

void SaveCurrentInput() {
  if (current_input == nullptr) return;
  int fd = ::open(crash_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  for (size_t done = 0; done < current_input->size();) {
    ssize_t n = ::write(fd, current_input->data() + done, current_input->size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  static const char kNote[] = "fuzz smoke: the failing input is in crash-input\n";
  (void)!::write(STDERR_FILENO, kNote, sizeof(kNote) - 1);
}

void OnAbort(int signal_number) {
  SaveCurrentInput();
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void RunOne(const std::string& input) {
  current_input = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  current_input = nullptr;
}

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
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  crash_path = std::string(outputs != nullptr ? outputs : ".") + "/crash-input";
  ::signal(SIGABRT, OnAbort);
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(SaveCurrentInput);
  for (const std::string& input : corpus) RunOne(input);
  const char* env = std::getenv("FUZZ_ITERATIONS");
  long iterations = env != nullptr ? std::atol(env) : 10000;
  std::mt19937 random(20261128);
  for (long i = 0; i < iterations; ++i) {
    RunOne(Mutate(corpus[random() % corpus.size()], random));
  }
  std::printf("fuzz smoke: %zu corpus inputs, %ld mutations, no crash\n", corpus.size(),
              iterations);
  return 0;
}
