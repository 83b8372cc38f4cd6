/* berth-init: the init of `--init` containers (HostConfig.Init). berthd
 * bind-mounts this static binary read-only at /sbin/berth-init and runs
 * `/sbin/berth-init -- CMD ARGS...` as the container's PID 1.
 *
 * It forks the command and then only waits for signals (every signal is
 * blocked and taken with sigwaitinfo(2), so none interrupts anything):
 *   - SIGCHLD: reaps every exited child (orphans re-parented to PID 1
 *     included, so no zombie stays); when the command is reaped, exits
 *     with its status (128 + the signal when a signal killed it).
 *   - any other signal that can be caught (TERM, INT, HUP, QUIT, USR1,
 *     USR2, WINCH, ...): forwarded to the command. A namespace's PID 1 gets
 *     only the signals it handles, which is why the command alone, as PID 1,
 *     ignores a SIGTERM it has no handler for; under berth-init it gets it.
 * berthd execs it with every signal blocked already, so a signal sent
 * right after the start waits for the sigwaitinfo instead of being dropped
 * (PID 1 without a handler); the command starts with none blocked.
 * The command runs in a process group of its own, in the terminal's
 * foreground when stdin is one, so a terminal's ^C reaches it once.
 *
 * Single-threaded; no allocation after the fork. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void start_command(char **argv) {
  /* Its own process group, foreground on a terminal (SIGTTOU ignored for
   * the tcsetpgrp, as a background group's call would stop us). */
  (void)setpgid(0, 0);
  if (isatty(STDIN_FILENO)) {
    struct sigaction ign = {.sa_handler = SIG_IGN}, prev;
    sigaction(SIGTTOU, &ign, &prev);
    (void)tcsetpgrp(STDIN_FILENO, getpgrp());
    sigaction(SIGTTOU, &prev, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execvp(argv[0], argv);
  int e = errno;
  fprintf(stderr, "berth-init: exec %s: %s\n", argv[0], strerror(e));
  _exit(e == ENOENT ? 127 : 126);
}

/* Reaps every exited child; returns 1 (and sets *status) once `command`
 * is among them. */
static int reap_all(pid_t command, int *status) {
  int done = 0;
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) break;
    if (p != command) continue;
    done = 1;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
  }
  return done;
}

int main(int argc, char **argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    fprintf(stderr, "usage: berth-init [--] COMMAND [ARG...]\n");
    return 127;
  }
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  pid_t command = fork();
  if (command < 0) {
    fprintf(stderr, "berth-init: fork: %s\n", strerror(errno));
    return 126;
  }
  if (command == 0) start_command(argv + first);
  /* The parent sets the group too: whichever runs first, a forwarded
   * signal never finds the command outside its group. */
  (void)setpgid(command, command);
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue; /* EINTR: nothing to do */
    if (sig == SIGCHLD) {
      int status = 0;
      if (reap_all(command, &status)) return status;
      continue;
    }
    if (kill(command, sig) < 0 && errno != ESRCH)
      fprintf(stderr, "berth-init: forward signal %d: %s\n", sig, strerror(errno));
  }
}
