// berth-testinit: the static multi-verb payload run inside test containers
// (crun's tests/init.c, youki's runtimetest). Libc only; one verb per run:
//
//   echo ARGS...           print ARGS joined by spaces and a newline
//   cat                    copy stdin to stdout until EOF
//   exit N                 exit with status N
//   isatty                 "stdin tty|notty", same for stdout and stderr
//   pid                    print getpid()
//   hostname               print the UTS node name
//   ls DIR                 print DIR's entries, sorted, one a line (no . and ..)
//   pause [--term-exits]   sleep until killed; with --term-exits, SIGTERM and
//                          SIGINT exit 0 (a pid-1 init ignores signals it has
//                          no handler for, so plain `pause` ignores SIGTERM)
//   write-bytes N [CHUNK]  write N bytes in CHUNK-byte writes (default 65536):
//                          byte i is '\n' when i % 64 == 63, else 'a' + i % 26
//   lines N                print "000000001\n" ... up to N
//   linegen LEN N [CHUNK]  N lines of LEN bytes (line i: LEN-1 times 'a' + i % 26,
//                          then '\n'), fast: from one prepared buffer, in
//                          CHUNK-byte writes (default 65536), as stdio would
//                          with a buffer that size
//   numbered N [AT MS]     16-byte numbered lines in 64 KiB writes; after line AT sleep MS ms,
//                          or with MS -1 wait for a byte on stdin
//   fds                    print each open fd as "N -> target" (not the dir fd used to list)
//   env                    print the environment, one a line
//   cwd                    print the working directory
//   id                     print "uid gid"
//   groups                 print the supplementary group ids, space separated
//   sleep SECONDS          sleep, then exit 0
//   syscall NAME...        try each syscall with harmless arguments and print
//                          "NAME: ok" or "NAME: EPERM" (the errno's name); names:
//                          keyctl add_key request_key perf_event_open io_uring_setup
//                          personality-norandom personality-query bpf userfaultfd
//                          clone3 unshare-user mount kexec_load open_by_handle_at
//                          socket-vsock socket-inet mkdir chroot
//   open PATH r|w|rw       open PATH and print "open: ok" or "open: EACCES"...
//   readkey DESC           find the "user" key DESC in the user keyring and print
//                          "readkey: PAYLOAD" (or the errno's name)
//   pause-print            print "ready", then sleep until killed
//
// Exit status 2 for usage errors, 1 for failed system calls.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char** environ;

namespace {

int usage() {
  fputs("usage: berth-testinit VERB [ARGS...] (see tests/testinit/main.cc)\n", stderr);
  return 2;
}

int die(const char* what) {
  fprintf(stderr, "berth-testinit: %s: %s\n", what, strerror(errno));
  return 1;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

long arg_num(int argc, char** argv, int i, long dflt) {
  return i < argc ? strtol(argv[i], nullptr, 10) : dflt;
}

int cmd_echo(int argc, char** argv) {
  for (int i = 2; i < argc; i++) printf("%s%s", i > 2 ? " " : "", argv[i]);
  printf("\n");
  return 0;
}

int cmd_cat() {
  char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return die("read stdin");
    if (n == 0) return 0;
    if (!write_all(1, buf, size_t(n))) return die("write stdout");
  }
}

int cmd_isatty() {
  const char* names[] = {"stdin", "stdout", "stderr"};
  for (int fd = 0; fd < 3; fd++) printf("%s %s\n", names[fd], isatty(fd) ? "tty" : "notty");
  return 0;
}

int cmd_ls(const char* dir) {
  struct dirent** list;
  int n = scandir(dir, &list, nullptr, alphasort);
  if (n < 0) return die(dir);
  for (int i = 0; i < n; i++) {
    if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0)
      printf("%s\n", list[i]->d_name);
    free(list[i]);
  }
  free(list);
  return 0;
}

void exit_zero(int) { _exit(0); }

int cmd_pause(int argc, char** argv) {
  if (argc > 2 && strcmp(argv[2], "--term-exits") == 0) {
    signal(SIGTERM, exit_zero);
    signal(SIGINT, exit_zero);
  }
  for (;;) pause();
}

int cmd_write_bytes(long total, long chunk) {
  if (total < 0 || chunk <= 0) return usage();
  char* buf = static_cast<char*>(malloc(size_t(chunk)));
  if (!buf) return die("malloc");
  long off = 0;
  while (off < total) {
    long n = total - off < chunk ? total - off : chunk;
    for (long i = 0; i < n; i++) {
      long at = off + i;
      buf[i] = at % 64 == 63 ? '\n' : char('a' + at % 26);
    }
    if (!write_all(1, buf, size_t(n))) return die("write stdout");
    off += n;
  }
  free(buf);
  return 0;
}

int cmd_linegen(long len, long n, long chunk) {
  if (len < 1 || n < 0 || chunk <= 0) return usage();
  // One period of 26 lines, repeated to at least CHUNK bytes plus a period.
  size_t period = size_t(len) * 26;
  size_t cap = (size_t(chunk) / period + 2) * period;
  char* buf = static_cast<char*>(malloc(cap));
  if (!buf) return die("malloc");
  for (size_t i = 0; i < cap; i++) {
    size_t line = i / size_t(len), col = i % size_t(len);
    buf[i] = col == size_t(len) - 1 ? '\n' : char('a' + line % 26);
  }
  uint64_t total = uint64_t(len) * uint64_t(n), off = 0;
  while (off < total) {
    size_t at = size_t(off % period);  // the same bytes as at `off`
    size_t k = size_t(total - off < uint64_t(chunk) ? total - off : uint64_t(chunk));
    if (!write_all(1, buf + at, k)) return die("write stdout");
    off += k;
  }
  free(buf);
  return 0;
}

int cmd_lines(long n) {
  for (long i = 1; i <= n; i++) printf("%09ld\n", i);
  return 0;
}

// Lines "000000000000001\n" … (16 bytes each) to stdout, whole lines packed
// into 64 KiB writes (4,096 lines each). With PAUSE_AT, pauses after the
// write that holds line PAUSE_AT (tests start a follower there): PAUSE_MS
// milliseconds, or with -1 until a byte (or EOF) arrives on stdin.
int cmd_numbered(long n, long pause_at, long pause_ms) {
  enum { kWidth = 15, kLine = kWidth + 1, kChunk = 65536 };
  static char buf[kChunk];
  char num[kLine];
  memset(num, '0', kWidth);
  num[kWidth] = '\n';
  size_t used = 0;
  for (long i = 1; i <= n; i++) {
    for (int d = kWidth - 1; d >= 0; d--) {   // increment the decimal counter in place
      if (num[d] != '9') {
        num[d]++;
        break;
      }
      num[d] = '0';
    }
    memcpy(buf + used, num, kLine);
    used += kLine;
    if (used == kChunk || i == n) {
      if (!write_all(1, buf, used)) return die("write stdout");
      if (pause_at > 0 && i >= pause_at && i - long(used / kLine) < pause_at) {
        char b;
        if (pause_ms < 0) (void)!read(0, &b, 1);
        else usleep(useconds_t(pause_ms) * 1000);
      }
      used = 0;
    }
  }
  return 0;
}

int cmd_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return die("opendir /proc/self/fd");
  int self = dirfd(d);
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (atoi(e->d_name) == self) continue;
    char path[300], target[4096];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = '\0';
    printf("%s -> %s\n", e->d_name, target);
  }
  closedir(d);
  return 0;
}

int cmd_groups() {
  gid_t groups[256];
  int n = getgroups(256, groups);
  if (n < 0) return die("getgroups");
  for (int i = 0; i < n; i++) printf("%s%u", i ? " " : "", unsigned(groups[i]));
  printf("\n");
  return 0;
}

const char* errno_name(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "E?";
}

// One raw syscall; returns 0 or an errno. What succeeds is undone (fds
// closed, the persona restored); unshare-user leaves this process in a new
// user namespace, which ends with it.
int try_syscall(const char* name) {
  long r = -1;
  errno = 0;
  if (!strcmp(name, "keyctl")) {
    r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -4 /* KEY_SPEC_USER_KEYRING */, 0);
  } else if (!strcmp(name, "add_key")) {
    r = syscall(SYS_add_key, "user", "berth-test", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */);
  } else if (!strcmp(name, "request_key")) {
    r = syscall(SYS_request_key, "user", "berth-test-none", nullptr, 0);
  } else if (!strcmp(name, "perf_event_open")) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.exclude_kernel = 1;
    r = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
    if (r >= 0) close(int(r));
  } else if (!strcmp(name, "io_uring_setup")) {
    char params[120];
    memset(params, 0, sizeof params);
    r = syscall(SYS_io_uring_setup, 1, params);
    if (r >= 0) close(int(r));
  } else if (!strcmp(name, "personality-norandom")) {
    r = syscall(SYS_personality, ADDR_NO_RANDOMIZE);
    if (r >= 0) syscall(SYS_personality, r);
  } else if (!strcmp(name, "personality-query")) {
    r = syscall(SYS_personality, 0xffffffffUL);
  } else if (!strcmp(name, "bpf")) {
    char attr[128];
    memset(attr, 0, sizeof attr);
    r = syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr);
    if (r >= 0) close(int(r));
  } else if (!strcmp(name, "userfaultfd")) {
    r = syscall(SYS_userfaultfd, O_CLOEXEC);
    if (r >= 0) close(int(r));
  } else if (!strcmp(name, "clone3")) {
    r = syscall(SYS_clone3, nullptr, 0);  // EINVAL from the kernel, ENOSYS from a filter
  } else if (!strcmp(name, "unshare-user")) {
    r = syscall(SYS_unshare, CLONE_NEWUSER);
  } else if (!strcmp(name, "mount")) {
    r = syscall(SYS_mount, "berth", "/tmp", "tmpfs", 0, nullptr);
    if (r == 0) umount2("/tmp", MNT_DETACH);
  } else if (!strcmp(name, "kexec_load")) {
    r = syscall(SYS_kexec_load, 0, 0, nullptr, 0);
  } else if (!strcmp(name, "open_by_handle_at")) {
    char handle[136];
    memset(handle, 0, sizeof handle);
    r = syscall(SYS_open_by_handle_at, AT_FDCWD, handle, O_RDONLY);
    if (r >= 0) close(int(r));
  } else if (!strcmp(name, "socket-vsock")) {
    r = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
    if (r >= 0) close(int(r));
  } else if (!strcmp(name, "socket-inet")) {
    r = socket(AF_INET, SOCK_DGRAM, 0);
    if (r >= 0) close(int(r));
  } else if (!strcmp(name, "mkdir")) {
    r = mkdir("/tmp/berth-testinit-dir", 0755);
    if (r == 0) rmdir("/tmp/berth-testinit-dir");
  } else if (!strcmp(name, "chroot")) {
    r = chroot("/");
  } else {
    return -1;
  }
  return r < 0 ? errno : 0;
}

int cmd_syscalls(int argc, char** argv) {
  for (int i = 2; i < argc; i++) {
    int e = try_syscall(argv[i]);
    if (e < 0) return usage();
    printf("%s: %s\n", argv[i], e ? errno_name(e) : "ok");
  }
  return 0;
}

int cmd_open(const char* path, const char* mode) {
  int flags = !strcmp(mode, "r") ? O_RDONLY : !strcmp(mode, "w") ? O_WRONLY : !strcmp(mode, "rw") ? O_RDWR : -1;
  if (flags < 0) return usage();
  int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);
  printf("open: %s\n", fd >= 0 ? "ok" : errno_name(errno));
  if (fd >= 0) close(fd);
  return 0;
}

int cmd_readkey(const char* desc) {
  long key = syscall(SYS_keyctl, 10 /* KEYCTL_SEARCH */, -4 /* KEY_SPEC_USER_KEYRING */, "user", desc, 0);
  char buf[256];
  long n = key < 0 ? -1 : syscall(SYS_keyctl, 11 /* KEYCTL_READ */, key, buf, sizeof buf - 1);
  if (n < 0) return printf("readkey: %s\n", errno_name(errno)), 0;
  buf[n < long(sizeof buf) - 1 ? n : long(sizeof buf) - 1] = '\0';
  return printf("readkey: %s\n", buf), 0;
}

int run(int argc, char** argv) {
  if (argc < 2) return usage();
  const char* v = argv[1];
  if (!strcmp(v, "echo")) return cmd_echo(argc, argv);
  if (!strcmp(v, "cat")) return cmd_cat();
  if (!strcmp(v, "exit")) return int(arg_num(argc, argv, 2, 0));
  if (!strcmp(v, "isatty")) return cmd_isatty();
  if (!strcmp(v, "pid")) return printf("%d\n", int(getpid())), 0;
  if (!strcmp(v, "hostname")) {
    struct utsname u;
    if (uname(&u) < 0) return die("uname");
    return printf("%s\n", u.nodename), 0;
  }
  if (!strcmp(v, "ls")) return argc < 3 ? usage() : cmd_ls(argv[2]);
  if (!strcmp(v, "pause")) return cmd_pause(argc, argv);
  if (!strcmp(v, "write-bytes"))
    return argc < 3 ? usage() : cmd_write_bytes(arg_num(argc, argv, 2, 0), arg_num(argc, argv, 3, 65536));
  if (!strcmp(v, "lines")) return argc < 3 ? usage() : cmd_lines(arg_num(argc, argv, 2, 0));
  if (!strcmp(v, "linegen"))
    return argc < 4 ? usage()
                    : cmd_linegen(arg_num(argc, argv, 2, 0), arg_num(argc, argv, 3, 0), arg_num(argc, argv, 4, 65536));
  if (!strcmp(v, "numbered"))
    return argc < 3 ? usage() : cmd_numbered(arg_num(argc, argv, 2, 0), arg_num(argc, argv, 3, 0), arg_num(argc, argv, 4, 0));
  if (!strcmp(v, "fds")) return cmd_fds();
  if (!strcmp(v, "env")) {
    for (char** e = environ; *e; e++) printf("%s\n", *e);
    return 0;
  }
  if (!strcmp(v, "cwd")) {
    char buf[4096];
    if (!getcwd(buf, sizeof buf)) return die("getcwd");
    return printf("%s\n", buf), 0;
  }
  if (!strcmp(v, "id")) return printf("%u %u\n", unsigned(getuid()), unsigned(getgid())), 0;
  if (!strcmp(v, "groups")) return cmd_groups();
  if (!strcmp(v, "sleep")) return sleep(unsigned(arg_num(argc, argv, 2, 0))), 0;
  if (!strcmp(v, "syscall")) return cmd_syscalls(argc, argv);
  if (!strcmp(v, "open")) return argc < 4 ? usage() : cmd_open(argv[2], argv[3]);
  if (!strcmp(v, "readkey")) return argc < 3 ? usage() : cmd_readkey(argv[2]);
  if (!strcmp(v, "pause-print")) {
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  int rc = run(argc, argv);
  if (fflush(stdout) != 0) return 1;
  return rc;
}
