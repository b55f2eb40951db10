// ocic: the test CLI for ocid (the seed README's walkthrough). Parses the
// command line, connects, and runs one command.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "cmd/ocic/args.h"
#include "cmd/ocic/client.h"
#include "cmd/ocic/commands.h"
#include "pkg/base/version.h"

namespace ocid::ocic {
namespace {

void PrintUsage(std::ostream& out) {
  out << "usage: ocic [--connect SOCKET] [--output table|json] [--timeout SECONDS] COMMAND\n\n"
         "  --connect   ocid's socket (default $OCIC_CONNECT or "
      << kDefaultEndpoint
      << ")\n  --output    table (default) or json\n"
         "  --timeout   seconds per call (default 60; 0 waits forever)\n\ncommands:\n";
  for (const Command& command : AllCommands()) {
    std::string left = absl::StrCat("  ", command.name, " ", command.synopsis);
    out << left << std::string(left.size() < 58 ? 58 - left.size() : 1, ' ')
        << command.summary << "\n";
  }
}

int Fail(const std::string& message) {
  std::cerr << "ocic: " << message << std::endl;
  return 1;
}

int Run(int argc, char** argv) {
  auto args = ParseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!args.ok()) return Fail(std::string(args.status().message()));
  if (args->Has("help") || args->words.empty()) {
    PrintUsage(args->words.empty() && !args->Has("help") ? std::cerr : std::cout);
    return args->Has("help") ? 0 : 2;
  }
  size_t used = 0;
  const Command* command = FindCommand(args->words, used);
  if (command == nullptr) {
    PrintUsage(std::cerr);
    return Fail(absl::StrCat("unknown command \"", args->words[0], "\""));
  }

  std::string output = args->Flag("output").value_or(args->Flag("o").value_or("table"));
  if (output != "table" && output != "json") {
    return Fail(absl::StrCat("--output: \"", output, "\" is not table or json"));
  }
  int64_t timeout_seconds = 60;
  if (auto value = args->Flag("timeout"); value && command->name != "ctr stop" &&
                                          command->name != "ctr exec") {
    if (!absl::SimpleAtoi(*value, &timeout_seconds) || timeout_seconds < 0) {
      return Fail(absl::StrCat("--timeout: \"", *value, "\" is not a number of seconds"));
    }
  }
  if (command->name == "image pull") timeout_seconds = 0;  // pulls take what they take
  if (command->name == "events") timeout_seconds = 0;  // a stream lasts until stopped

  const char* env_endpoint = std::getenv("OCIC_CONNECT");
  std::string endpoint = args->Flag("connect").value_or(
      env_endpoint != nullptr && *env_endpoint != '\0' ? env_endpoint : kDefaultEndpoint);
  auto client = Client::Connect(endpoint, absl::Seconds(timeout_seconds));
  if (!client.ok()) return Fail(std::string(client.status().message()));

  Invocation invocation{**client,  *args, {args->words.begin() + used, args->words.end()},
                        output == "json", ::isatty(STDOUT_FILENO) == 1, std::cout, std::cerr};
  absl::Status status = command->run(invocation);
  if (!status.ok()) {
    return Fail(absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message()));
  }
  return invocation.exit_code;
}

}  // namespace
}  // namespace ocid::ocic

int main(int argc, char** argv) {
  // Blocked before any thread starts, so that every thread inherits it: a
  // terminal session takes SIGWINCH from a signalfd (streaming.cc); no thread
  // may swallow it first.
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  pthread_sigmask(SIG_BLOCK, &winch, nullptr);
  return ocid::ocic::Run(argc, argv);
}
