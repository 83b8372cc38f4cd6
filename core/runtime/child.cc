// The post-clone child: from clone3 to execve. Async-signal-safe throughout
// (see child.h): every function here is a few syscalls on ChildArgs.
#include "core/runtime/child.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <iterator>

#include "core/runtime/child_error.h"
#include "core/runtime/child_fd.h"
#include "core/runtime/late.h"

namespace berth::runtime {

namespace {

[[noreturn]] void fail(const ChildArgs& a, int32_t stage, int err) {
  ChildError ce{stage, err ? err : EIO};
  ssize_t n = ::write(a.error_fd, &ce, sizeof ce);  // < PIPE_BUF: atomic
  (void)n;
  ::_exit(127);
}
[[noreturn]] void fail(const ChildArgs& a, Stage stage, int err) { fail(a, int32_t(stage), err); }

int err() { return errno ? errno : EIO; }

// Closes every inherited fd except the ones named in `a` (other containers'
// pipe ends, berthd's sockets and ring), then lifts the kept ones above 2 so
// the later dup2 onto 0..2 cannot clobber them. Done first, before blocking
// on the sync socket, so a sibling spawned meanwhile never holds our pipes.
int keep_only_needed_fds(ChildArgs& a) {
  int* refs[] = {&a.sync_fd,  &a.error_fd, &a.parent_pidfd, &a.netns_fd, &a.join_pidfd,
                 &a.join_ipc_pidfd, &a.stdio[0], &a.stdio[1],     &a.stdio[2], &a.userns_wait_fd, &a.overlay_fd,
                 &a.sysfs_netns_fd};
  int keep[std::size(refs)];
  int n = 0;
  for (int* r : refs) {
    if (*r < 0) continue;
    int i = n++;
    while (i > 0 && keep[i - 1] > *r) keep[i] = keep[i - 1], i--;
    keep[i] = *r;
  }
  unsigned lo = 0;
  for (int i = 0; i < n; i++) {
    unsigned fd = unsigned(keep[i]);
    if (fd > lo && ::close_range(lo, fd - 1, 0) < 0) return err();
    lo = fd + 1;
  }
  if (::close_range(lo, ~0U, 0) < 0) return err();
  for (int low = 0; low < 3; low++) {
    int moved = -1;
    for (int* r : refs) {
      if (*r != low) continue;
      if (moved < 0 && (moved = ::fcntl(low, F_DUPFD_CLOEXEC, 3)) < 0) return err();
      *r = moved;
    }
    if (moved >= 0) ::close(low);
  }
  return 0;
}

// Signal handlers and ignored signals are berthd's, not the container's
// (SIG_IGN would survive execve); the parent blocked all signals around
// clone3, so nothing ran in between.
int reset_signals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) < 0) continue;  // SIGKILL, glibc-internal ones
    if (old.sa_handler != SIG_DFL) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  return ::sigprocmask(SIG_SETMASK, &none, nullptr) < 0 ? err() : 0;
}

// Deferred: the release is the late part (late.h), its stdio fds on the
// first bytes. Received fds land on the lowest free numbers, which may be
// 0..2 (keep_only_needed_fds closed them): lifted above 2, as there.
void receive_late(ChildArgs& a) {
  FdMessage m(a.late_buf, kLateMax);
  ssize_t n;
  do {
    n = ::recvmsg(a.sync_fd, &m.msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n == 0) ::_exit(0);
  if (n < 0) fail(a, Stage::kSync, errno);
  int fds[FdMessage::kMaxFds];
  int nfds = m.take_fds(fds, FdMessage::kMaxFds);
  if (m.msg.msg_flags & MSG_CTRUNC) fail(a, Stage::kSync, EPROTO);
  for (int i = 0; i < nfds; i++) {
    if (fds[i] > 2) continue;
    int moved = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    if (moved < 0) fail(a, Stage::kSync, errno);
    ::close(fds[i]);
    fds[i] = moved;
  }
  size_t got = size_t(n);
  LateHeader h;
  if (got < sizeof h) fail(a, Stage::kSync, EPROTO);
  std::memcpy(&h, a.late_buf, sizeof h);
  if (h.size < got || h.size > kLateMax) fail(a, Stage::kSync, EPROTO);
  while (got < h.size) {
    n = ::read(a.sync_fd, a.late_buf + got, h.size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(a, Stage::kSync, n == 0 ? EPROTO : errno);
    got += size_t(n);
  }
  if (int e = decode_late(a.late_buf, got, fds, nfds, &a)) fail(a, Stage::kSync, e);
}

// Blocks until release(). EOF means berthd gave up on (or lost) this child.
void wait_for_release(ChildArgs& a) {
  if (a.deferred) {
    receive_late(a);
  } else {
    char b;
    for (;;) {
      ssize_t n = ::read(a.sync_fd, &b, 1);
      if (n == 1) break;
      if (n == 0) ::_exit(0);
      if (errno != EINTR) fail(a, Stage::kSync, errno);
    }
  }
  if (a.tty) return;  // it carries the pty master next (open_pty)
  ::close(a.sync_fd);
  a.sync_fd = -1;
}

// tty: a pty from the devpts instance mounted at the container's /dev/pts
// (its /dev/ptmx links to pts/ptmx), so the container sees /dev/pts/0 and
// berthd never needs a path into the container. TIOCGPTPEER opens the slave
// through the master, without a racy lookup by name. The master goes to
// berthd over the sync socket (SCM_RIGHTS, queued before execve, so it is
// there once the exec status says "ok"); the slave becomes stdio in
// setup_stdio.
void open_pty(ChildArgs& a) {
  if (!a.tty) return;
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(a, Stage::kPty, errno);
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) < 0) fail(a, Stage::kPty, errno);
  int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) fail(a, Stage::kPty, errno);
  if (a.tty_rows && a.tty_cols) {
    struct winsize ws {};
    ws.ws_row = a.tty_rows;
    ws.ws_col = a.tty_cols;
    if (::ioctl(slave, TIOCSWINSZ, &ws) < 0) fail(a, Stage::kPty, errno);
  }
  char byte = 't';
  FdMessage m(&byte, 1);
  m.put_fds(&master, 1);
  for (;;) {
    if (::sendmsg(a.sync_fd, &m.msg, MSG_NOSIGNAL) == 1) break;
    if (errno != EINTR) fail(a, Stage::kPtySend, errno);
  }
  ::close(master);
  ::close(a.sync_fd);
  a.sync_fd = -1;
  for (int& fd : a.stdio) fd = slave;
}

// runc's fixStdioPermissions: a non-root user owns its terminal, so it can
// reopen /dev/tty (or /proc/self/fd/0) and change its modes.
void chown_pty(const ChildArgs& a, const ResolvedUser& u) {
  if (a.tty && u.uid != 0 && ::fchown(a.stdio[0], u.uid, gid_t(-1)) < 0) fail(a, Stage::kPty, errno);
}

// Joins the pre-made network namespace (Spec::netns_fd) and closes its fd,
// so it never reaches the container. Before release(), so the caller finds
// the child in its final netns, as after clone3(CLONE_NEWNET); and before
// sysfs is mounted, which shows the network devices of the mounter's netns.
// Root of the user namespace: the uid and gid 0 the parent mapped (until
// then this process is the host's root, unmapped here: the overflow id),
// without the host's supplementary groups. The capabilities in the
// namespace are whole already (clone3 or setns gave them).
int become_userns_root() {
  if (::setgroups(0, nullptr) < 0) return err();
  if (::setresgid(0, 0, 0) < 0) return err();
  if (::setresuid(0, 0, 0) < 0) return err();
  return 0;
}

// A new user namespace: its id maps are written by the parent after
// clone3; nothing here may run before them (one byte, or EOF if the
// parent failed).
void enter_userns(ChildArgs& a) {
  if (a.userns_wait_fd < 0) return;
  char b = 0;
  ssize_t n;
  do {
    n = ::read(a.userns_wait_fd, &b, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(0);
  ::close(a.userns_wait_fd);
  a.userns_wait_fd = -1;
  if (int e = become_userns_root()) fail(a, Stage::kUserns, e);
}

void join_netns(ChildArgs& a) {
  if (a.netns_fd < 0) return;
  if (::setns(a.netns_fd, CLONE_NEWNET) < 0) fail(a, Stage::kJoinNetns, errno);
  ::close(a.netns_fd);
  a.netns_fd = -1;
}

// --ipc container:X: X's IPC namespace, before the mount plan mounts
// /dev/mqueue (an mqueue mount shows the mounter's IPC namespace).
void join_ipc(ChildArgs& a) {
  if (a.join_ipc_pidfd < 0) return;
  if (::setns(a.join_ipc_pidfd, CLONE_NEWIPC) < 0) fail(a, Stage::kJoinIpc, errno);
  ::close(a.join_ipc_pidfd);
  a.join_ipc_pidfd = -1;
}

// exec: joins the container init's namespaces (one setns on its pidfd,
// Linux 5.8). The pid namespace was joined by the parent around clone3 (a
// process cannot change its own); the mount namespace switch also moves root
// and cwd to the container's root.
void join_container(ChildArgs& a) {
  if (a.join_pidfd < 0) return;
  int ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
  if (a.join_userns) ns |= CLONE_NEWUSER;   // entered first by the kernel, then the rest as its root
  if (::setns(a.join_pidfd, ns) < 0) fail(a, Stage::kJoinContainer, errno);
  ::close(a.join_pidfd);
  a.join_pidfd = -1;
  if (a.join_userns)
    if (int e = become_userns_root()) fail(a, Stage::kUserns, e);
}

// Reads a whole file of the container into buf; a missing file reads empty.
// O_NONBLOCK and the regular-file check: an image's /etc/passwd could be a
// FIFO or a device, which must not hang or flood the child.
int read_container_file(const char* path, char* buf, size_t cap, size_t* len) {
  *len = 0;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno == ENOENT ? 0 : err();
  struct stat st;
  int e = ::fstat(fd, &st) < 0 ? err() : S_ISREG(st.st_mode) ? 0 : EINVAL;
  while (!e) {
    if (*len == cap) {
      e = EFBIG;
      break;
    }
    ssize_t n = ::read(fd, buf + *len, cap - *len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) e = err();
    if (n <= 0) break;
    *len += size_t(n);
  }
  ::close(fd);
  return e;
}

void resolve_container_user(const ChildArgs& a, ResolvedUser* u) {
  size_t plen, glen;
  if (int e = read_container_file("/etc/passwd", a.passwd_buf, kUserFileMax, &plen))
    fail(a, Stage::kReadPasswd, e);
  if (int e = read_container_file("/etc/group", a.group_buf, kUserFileMax, &glen))
    fail(a, Stage::kReadGroup, e);
  switch (resolve_user(a.user, a.passwd_buf, plen, a.group_buf, glen, u)) {
    case UserLookup::kOk: break;
    case UserLookup::kUserNotFound: fail(a, Stage::kUserNotFound, ENOENT);
    case UserLookup::kGroupNotFound: fail(a, Stage::kGroupNotFound, ENOENT);
    case UserLookup::kExtraGroupNotFound:
      fail(a, int32_t(Stage::kGroupAddNotFound) + int32_t(u->missing_extra), ENOENT);
  }
  if (a.home_slot < 0) return;
  size_t n = std::strlen(u->home);
  std::memcpy(a.home_buf, "HOME=", 5);
  std::memcpy(a.home_buf + 5, u->home, n + 1);
  a.envp[a.home_slot] = a.home_buf;
}

// Bounding set first: dropping needs CAP_SETPCAP, which setuid may take.
int drop_bounding_set(const ChildArgs& a) {
  for (int cap = 0; cap <= a.cap_last; cap++) {
    if (a.cap_keep & (uint64_t(1) << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return err();
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return err();
  return 0;
}

// Raw syscalls, see child.h. setresuid away from 0 clears the permitted and
// effective sets (no SECBIT_KEEP_CAPS), as it does for Docker's non-root users.
void switch_user(const ChildArgs& a, const ResolvedUser& u) {
  if (::syscall(SYS_setgroups, u.group_count, u.groups) < 0) fail(a, Stage::kSetgroups, errno);
  if (::syscall(SYS_setresgid, u.gid, u.gid, u.gid) < 0) fail(a, Stage::kSetgid, errno);
  if (::syscall(SYS_setresuid, u.uid, u.uid, u.uid) < 0) fail(a, Stage::kSetuid, errno);
}

// The kernel clears PDEATHSIG on any change of credentials (a non-root
// user), so arm it again; the parent's pidfd tells whether berthd died in
// between, since getppid() is 0 across a pid namespace.
void rearm_death_signal(const ChildArgs& a) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail(a, Stage::kDeathSignal, errno);
  pollfd p{a.parent_pidfd, POLLIN, 0};
  if (::poll(&p, 1, 0) != 0) ::_exit(127);  // berthd is gone (or the check failed)
  ::close(a.parent_pidfd);
}

// --sysctl: each value written through the container's own /proc/sys
// (proc_sys_fd, from the mount plan: below its read-only bind), resolved
// beneath it without symlinks, magic links or mount crossings: nothing in
// the container can redirect the write (CVE-2025-52881). Then the fd is
// closed.
void write_sysctls(const ChildArgs& a, int proc_sys_fd) {
  if (a.sysctl_count && proc_sys_fd < 0) fail(a, Stage::kSysctl, ENOENT);
  for (size_t i = 0; i < a.sysctl_count; i++) {
    open_how how{};
    how.flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    int fd = int(::syscall(SYS_openat2, proc_sys_fd, a.sysctl_paths[i], &how, sizeof how));
    if (fd < 0) fail(a, int32_t(Stage::kSysctl) + int32_t(i), errno);
    size_t n = std::strlen(a.sysctl_values[i]);
    ssize_t w = ::write(fd, a.sysctl_values[i], n);
    int e = w == ssize_t(n) ? 0 : w < 0 ? errno : EIO;
    ::close(fd);
    if (e) fail(a, int32_t(Stage::kSysctl) + int32_t(i), e);
  }
  if (proc_sys_fd >= 0) ::close(proc_sys_fd);
}

// --ulimit, before the capability drop (raising a hard limit needs
// CAP_SYS_RESOURCE). Only what was asked is set.
void set_rlimits(const ChildArgs& a) {
  for (size_t i = 0; i < a.rlimit_count; i++) {
    struct rlimit64 lim {a.rlimits[i].soft, a.rlimits[i].hard};
    if (::syscall(SYS_prlimit64, 0, a.rlimits[i].resource, &lim, nullptr) < 0) fail(a, Stage::kRlimit, errno);
  }
}

// Installs the prepared seccomp program (no allocation: the parent compiled
// it). Without no_new_privs the kernel asks for CAP_SYS_ADMIN, so the
// caller runs this while still root with every capability.
void load_seccomp(const ChildArgs& a) {
  if (!a.seccomp_len) return;
  sock_fprog prog{a.seccomp_len, const_cast<sock_filter*>(a.seccomp_filter)};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) fail(a, Stage::kSeccomp, errno);
}

// CVE-2024-21626: the working directory must be inside the container's
// root. An inherited fd (/proc/self/fd/N) or a path that leaves the root
// would make getcwd(2) answer "(unreachable)/..." instead of "/...".
void check_cwd_inside_root(const ChildArgs& a) {
  char buf[PATH_MAX];
  long n = ::syscall(SYS_getcwd, buf, sizeof buf);
  if (n < 0) fail(a, Stage::kChdir, errno);
  if (buf[0] != '/') fail(a, Stage::kChdir, ENOENT);
}

// Root keeps Docker's default set; inheritable stays empty (moby dropped it
// for CVE-2022-24769), so execve gives non-root users no capabilities.
int set_capabilities(const ChildArgs& a, uint32_t uid) {
  uint64_t keep = uid == 0 ? a.cap_keep : 0;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  data[0].effective = data[0].permitted = uint32_t(keep);
  data[1].effective = data[1].permitted = uint32_t(keep >> 32);
  return ::syscall(SYS_capset, &hdr, data) < 0 ? err() : 0;
}

// dup2 the caller's fds (or the container's /dev/null) onto 0..2, then mark
// every other fd close-on-exec (the error pipe already is).
int setup_stdio(const ChildArgs& a) {
  int devnull = -1;
  for (int i = 0; i < 3; i++) {
    int src = a.stdio[i];
    if (src < 0) {
      if (devnull < 0 && (devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) return err();
      src = devnull;
    }
    if (::dup2(src, i) < 0) return err();
    // dup2(fd, fd) keeps FD_CLOEXEC: /dev/null may have landed on i itself.
    if (::fcntl(i, F_SETFD, 0) < 0) return err();
  }
  return ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? err() : 0;
}

// The pty slave as the session's controlling terminal (setsid() ran at
// release), with the session as its foreground process group, so ^C and
// SIGWINCH reach the container's command.
void set_controlling_tty(const ChildArgs& a) {
  if (a.tty && ::ioctl(0, TIOCSCTTY, 0) < 0) fail(a, Stage::kControllingTty, errno);
}

// A path with '/' is exec'd as is. A PATH lookup has execvp's semantics over
// the prepared candidates: keep looking after ENOENT and ENOTDIR, remember
// EACCES, stop on any other error.
[[noreturn]] void exec_command(const ChildArgs& a) {
  if (!a.path_lookup) {
    ::execve(a.exec_paths[0], a.argv, a.envp);
    fail(a, Stage::kExec, errno);
  }
  bool denied = false;
  for (size_t i = 0; i < a.exec_path_count; i++) {
    ::execve(a.exec_paths[i], a.argv, a.envp);
    int e = errno;
    if (e == EACCES) denied = true;
    else if (e != ENOENT && e != ENOTDIR) fail(a, Stage::kExec, e);
  }
  fail(a, Stage::kExec, denied ? EACCES : ENOENT);
}

}  // namespace

int loopback_up() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return err();
  struct ifreq ifr {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  int e = 0;
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) < 0) e = err();
  ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
  if (!e && ::ioctl(s, SIOCSIFFLAGS, &ifr) < 0) e = err();
  ::close(s);
  return e;
}

// The container's /sys/fs/cgroup, in its own cgroup namespace (so each
// filesystem's root is the container's cgroup): v2's one mount, or v1's
// hierarchies on the directories of the shared skeleton the plan bound
// there (read-only already) or of a tmpfs made read-only when filled.
void mount_cgroup_view(const ChildArgs& a) {
  if (!a.cgroup_view_count) return;
  unsigned long ro = a.cgroup_view_rw ? 0 : MS_RDONLY;
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  const char* dir = "/sys/fs/cgroup";
  if (a.cgroup_view_count == 1 && __builtin_strcmp(a.cgroup_view[0].path, dir) == 0) {
    if (::mount("cgroup2", dir, "cgroup2", flags | ro, nullptr) < 0) fail(a, Stage::kCgroupView, errno);
    return;
  }
  if (!a.cgroup_skeleton && ::mount("tmpfs", dir, "tmpfs", flags, "mode=755") < 0) fail(a, Stage::kCgroupView, errno);
  for (size_t i = 0; i < a.cgroup_view_count; i++) {
    const auto& m = a.cgroup_view[i];
    if (::mkdir(m.path, 0555) < 0 && errno != EEXIST) fail(a, Stage::kCgroupView, errno);
    if (::mount(m.fstype, m.path, m.fstype, flags | ro, m.options[0] ? m.options : nullptr) < 0)
      fail(a, Stage::kCgroupView, errno);
  }
  if (!a.cgroup_view_rw && !a.cgroup_skeleton && ::mount(nullptr, dir, nullptr, MS_REMOUNT | MS_RDONLY | flags, "mode=755") < 0)
    fail(a, Stage::kCgroupView, errno);
}

[[noreturn]] void child_main(ChildArgs a) {
  if (int e = keep_only_needed_fds(a)) fail(a, Stage::kKeepFds, e);
  enter_userns(a);
  join_netns(a);
  join_ipc(a);
  join_container(a);
  // A warm init shows as such in ps until a container takes it.
  ::prctl(PR_SET_NAME, a.deferred ? "berth:warm" : "berth:init", 0, 0, 0);
  // getppid() is 0 in a new pid namespace, so the usual re-check after
  // PR_SET_PDEATHSIG cannot work; the sync socket closes that race instead:
  // a parent that died before this line leaves EOF on it.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail(a, Stage::kDeathSignal, errno);
  if (int e = reset_signals()) fail(a, Stage::kSignals, e);

  // The hostname, loopback and the whole mount plan need nothing berthd
  // does before release(), so they run while berthd makes and joins the
  // cgroups (v1): the two halves of a start overlap on two cores instead of
  // following each other. A failure waits for release() to be reported, so
  // that berthd, which may be writing this pid into cgroup.procs, meets a
  // live process and then reads the real error from the error pipe. On v1
  // the kernel memory of these mounts is charged to berthd's memory cgroup
  // (it is not moved with the child), and berthd's devices cgroup, not the
  // container's, decides whether mknod works (else /dev nodes are bound).
  ::umask(0);  // the mount plan's modes are exact (device nodes are 0666)
  int32_t early_stage = 0;
  int early_errno = 0;
  if (!a.plan || a.deferred || !a.set_hostname) {
    // exec: the container's hostname and mounts are already there;
    // deferred: its hostname comes with the release; --uts host: the host's.
  } else if (::sethostname(a.hostname, a.hostname_len) < 0) {
    early_stage = int32_t(Stage::kHostname), early_errno = errno;
  }
  if (!early_errno && a.loopback_up)
    if (int e = loopback_up()) early_stage = int32_t(Stage::kLoopback), early_errno = e;
  size_t step = 0;
  int proc_sys_fd = -1;
  if (!early_errno && a.plan)
    if (int e = run_mount_plan(*a.plan, &step, &proc_sys_fd, a.overlay_fd, a.sysfs_netns_fd))
      early_stage = int32_t(Stage::kMountStep) + int32_t(step), early_errno = e;
  // A warm init that cannot be used says so at once: berthd drops it from
  // its pool (or its build fails) rather than giving it to a container.
  if (early_errno && a.deferred) fail(a, early_stage, early_errno);
  wait_for_release(a);
  if (early_errno) fail(a, early_stage, early_errno);
  if (a.deferred) {
    ::prctl(PR_SET_NAME, "berth:init", 0, 0, 0);
    if (::setpriority(PRIO_PROCESS, 0, a.nice) < 0) fail(a, Stage::kPriority, errno);
    if (::sethostname(a.hostname, a.hostname_len) < 0) fail(a, Stage::kHostname, errno);
    if (a.mkdir_step >= 0)
      if (int e = make_working_dir(a.cwd)) fail(a, int32_t(Stage::kMountStep) + a.mkdir_step, e);
  }

  if (::setsid() < 0) fail(a, Stage::kSetsid, errno);
  if (a.unshare_cgroupns && ::unshare(CLONE_NEWCGROUP) < 0) fail(a, Stage::kCgroupns, errno);
  mount_cgroup_view(a);
  open_pty(a);
  ::umask(022);  // berthd's own umask is not the container's (runc's default)
  write_sysctls(a, proc_sys_fd);
  set_rlimits(a);

  ResolvedUser user;
  resolve_container_user(a, &user);
  chown_pty(a, user);
  if (int e = drop_bounding_set(a)) fail(a, Stage::kBoundingSet, e);
  // Seccomp: with no_new_privs, last before execve, so the filter needs to
  // allow nothing but execve. Without it, loading needs CAP_SYS_ADMIN, so
  // here, before the user switch and capset: the filter must then allow
  // what follows (setgroups, setres[ug]id, prctl, poll, capset, chdir,
  // getcwd, open, dup2, fcntl, close_range, ioctl, execve), as Docker's
  // does. Docker's (runc's) order is the same.
  // Blocked before the filter, which may not allow rt_sigprocmask; nothing
  // from here to execve takes a signal.
  if (a.signals_blocked) {
    sigset_t all;
    sigfillset(&all);
    if (::sigprocmask(SIG_SETMASK, &all, nullptr) < 0) fail(a, Stage::kSignals, errno);
  }
  if (!a.no_new_privs) load_seccomp(a);
  if (a.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(a, Stage::kNoNewPrivs, errno);
  switch_user(a, user);
  rearm_death_signal(a);
  if (int e = set_capabilities(a, user.uid)) fail(a, Stage::kCapset, e);
  // After pivot_root (or, for exec, the setns into the container's mount
  // namespace) a relative or absolute path resolves inside the root.
  if (::chdir(a.cwd) < 0) fail(a, Stage::kChdir, errno);
  check_cwd_inside_root(a);
  if (int e = setup_stdio(a)) fail(a, Stage::kStdio, e);
  set_controlling_tty(a);
  if (a.no_new_privs) load_seccomp(a);
  exec_command(a);
}

}  // namespace berth::runtime
