// The pause stand-in of the critest images (registry.k8s.io/pause): the
// process that holds a pod's namespaces. It sleeps until SIGINT or SIGTERM
// and reaps every child that is reparented to it, since as PID 1 of a shared
// PID namespace it inherits orphans that nobody else would wait for.
// Static, no dependencies: the image holds this one file.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal = 0;

static void OnStop(int sig) { stop_signal = sig; }

// Empty: SIGCHLD only has to interrupt sigsuspend(); reaping happens in the
// main loop, where waitpid() is not racing with anything.
static void OnChild(int sig) { (void)sig; }

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    printf("ocid pause stand-in\n");
    return 0;
  }
  if (getpid() != 1) {
    fprintf(stderr, "pause: warning: not PID 1 of its namespace\n");
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = OnStop;
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
    perror("pause: sigaction");
    return 1;
  }
  sa.sa_handler = OnChild;
  sa.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGCHLD, &sa, NULL) != 0) {
    perror("pause: sigaction");
    return 1;
  }

  // Block the signals we wait for, so that one arriving between the checks
  // below and sigsuspend() is not lost.
  sigset_t blocked, waiting;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &blocked, &waiting) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }
  sigdelset(&waiting, SIGINT);
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGCHLD);
  for (;;) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (stop_signal != 0) {
      fprintf(stderr, "pause: shutting down, got signal %d\n", (int)stop_signal);
      return 0;
    }
    sigsuspend(&waiting);
    if (errno != EINTR) {
      perror("pause: sigsuspend");
      return 1;
    }
  }
}
