// ocid-infra: PID 1 of a pod's shared PID namespace.
//
//   ocid-infra [--user PIN] [--net PIN] [--ipc PIN] [--uts PIN]
//
// joins the pinned namespaces given, in that order (a pod's user namespace
// first: its other namespaces are owned by it, and the PID namespace made
// next is too), unshares a PID namespace and forks the
// infra, which is PID 1 there; prints the infra's pid (in our namespace) on
// stdout and exits 0, or prints one line on stderr and exits 1. The infra
// holds the namespace open, reaps every zombie re-parented to it and exits 0
// on SIGTERM or SIGINT (which, as PID 1, takes the rest of the namespace with
// it).
//
// Doing the setns/unshare/fork here rather than in ocid keeps ocid's process
// starts to one kind (pkg/base/subprocess: posix_spawn, never fork in a
// multithreaded daemon); this process is single-threaded, so fork is safe.
// Plain libc on purpose: it runs once per pod and must start fast.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>

namespace {

// A handler, not SIG_DFL: the kernel drops signals that PID 1 of a namespace
// leaves at the default action and does not block. They stay blocked from
// before the fork (so none sent before the infra's loop runs is lost) and are
// taken by sigwaitinfo, so this never runs.
void Ignore(int) {}

void ReapAll() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

int Fail(const char* what, const char* detail) {
  fprintf(stderr, "%s%s%s: %s\n", what, detail[0] != '\0' ? " " : "", detail, strerror(errno));
  return 1;
}

// The infra itself: PID 1 of the new namespace.
[[noreturn]] void RunInfra(const sigset_t& handled) {
  // Its own session, so ocid's terminal and process group signals miss it;
  // "/" as cwd, so it pins no mount; nothing of the launcher's output.
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (setsid() < 0 || chdir("/") != 0 || null_fd < 0) _exit(1);
  for (int fd = 0; fd < 3; ++fd) {
    if (dup2(null_fd, fd) < 0) _exit(1);
  }
  close(null_fd);
  ReapAll();
  while (true) {
    int signal = sigwaitinfo(&handled, nullptr);
    if (signal < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (signal != SIGCHLD) _exit(0);
    ReapAll();
  }
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t handled;
  sigemptyset(&handled);
  struct sigaction action = {};
  action.sa_handler = Ignore;
  for (int signal : {SIGCHLD, SIGTERM, SIGINT}) {
    sigaddset(&handled, signal);
    if (sigaction(signal, &action, nullptr) != 0) return Fail("sigaction", "");
  }
  // SETMASK, not BLOCK: the mask we were started with is not ours.
  if (sigprocmask(SIG_SETMASK, &handled, nullptr) != 0) return Fail("sigprocmask", "");

  for (int i = 1; i < argc; i += 2) {
    int type = 0;
    if (strcmp(argv[i], "--user") == 0) type = CLONE_NEWUSER;
    if (strcmp(argv[i], "--net") == 0) type = CLONE_NEWNET;
    if (strcmp(argv[i], "--ipc") == 0) type = CLONE_NEWIPC;
    if (strcmp(argv[i], "--uts") == 0) type = CLONE_NEWUTS;
    if (type == 0 || i + 1 >= argc) {
      fprintf(stderr, "usage: ocid-infra [--user PIN] [--net PIN] [--ipc PIN] [--uts PIN]\n");
      return 2;
    }
    int fd = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail("open namespace pin", argv[i + 1]);
    if (setns(fd, type) != 0) return Fail("join namespace", argv[i + 1]);
    close(fd);
  }
  if (unshare(CLONE_NEWPID) != 0) return Fail("unshare pid namespace", "");
  pid_t pid = fork();
  if (pid < 0) return Fail("fork", "");
  if (pid == 0) RunInfra(handled);
  if (printf("%d\n", pid) < 0 || fflush(stdout) != 0) {
    kill(pid, SIGKILL);  // nobody would know its pid to stop it
    return Fail("write the infra's pid", "");
  }
  return 0;
}
