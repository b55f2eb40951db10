// The entrypoint of the critest NoNewPrivs image: installed setuid root, it
// prints the effective uid it runs with. Started as uid 1000 it prints 0
// unless no_new_privs kept the setuid bit from taking effect.
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("Effective uid: %d\n", (int)geteuid());
  return fflush(stdout) == 0 ? 0 : 1;
}
