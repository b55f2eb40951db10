// ocid-infra: PID 1 of a pod's shared PID namespace. It holds the namespace
// open, reaps every zombie re-parented to it and exits 0 on SIGTERM or SIGINT
// (which, as PID 1, takes the rest of the namespace with it).
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

namespace {

// A handler, not SIG_DFL: the kernel drops signals that PID 1 of a namespace
// leaves at the default action and does not block. They stay blocked (ocid
// starts us with them blocked already, so none sent before main runs is lost)
// and are taken by sigwaitinfo, so this never runs.
void Ignore(int) {}

void ReapAll() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

}  // namespace

int main() {
  sigset_t handled;
  sigemptyset(&handled);
  const int kSignals[] = {SIGCHLD, SIGTERM, SIGINT};
  struct sigaction action = {};
  action.sa_handler = Ignore;
  for (int signal : kSignals) {
    sigaddset(&handled, signal);
    if (sigaction(signal, &action, nullptr) != 0) return 1;
  }
  // SETMASK, not BLOCK: the mask inherited from ocid's thread is not ours.
  if (sigprocmask(SIG_SETMASK, &handled, nullptr) != 0) return 1;
  ReapAll();  // children that died before the handlers were set
  while (true) {
    int signal = sigwaitinfo(&handled, nullptr);
    if (signal < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (signal != SIGCHLD) return 0;
    ReapAll();
  }
}
