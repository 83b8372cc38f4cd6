// The keeper process (keeper.h): C-style, fixed tables, one poll loop.
#include "core/runtime/keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/reactor/fd_vault.h"
#include "core/runtime/child_fd.h"

namespace berth::runtime {

namespace {

constexpr int kKeeperConns = 8;
constexpr size_t kRequestMax = 256 << 10;

struct Kept {
  pid_t pid;          // 0: a free slot
  KeptKind kind;
  bool exited;
  bool unsent;        // exited, and no watcher took the news yet (a full socket)
  int exit_code, signal;
  int64_t exit_ns;
  // The read ends of its output pipes (or its pty master): vault keys
  // (g_vault), or descriptors where the kernel has no vault.
  int held[kKeeperMaxHeld];
  int nheld;
  bool vaulted;
  char id[72];
};

struct Conn {
  int fd;             // -1: a free slot
  bool watching;
};

// The tables, allocated once at start.
Kept* g_kept;
int g_kept_max;
int g_kept_hw;        // slots at and above it were never used: scans stop there
Conn g_conns[kKeeperConns];
char* g_request;      // one request at a time
// Held fds live here, not in the descriptor table: 10,000 containers' pipes
// would be 20,000 descriptors, the hard limit (reactor/fd_vault.h).
reactor::FdVault* g_vault;

int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Kept* find(pid_t pid) {
  for (int i = 0; i < g_kept_hw; i++)
    if (g_kept[i].pid == pid) return &g_kept[i];
  return nullptr;
}

// The lowest free slot, or null when the table is full.
Kept* take_slot() {
  if (Kept* k = find(0)) return k;
  return g_kept_hw < g_kept_max ? &g_kept[g_kept_hw++] : nullptr;
}

void drop_held(Kept* k) {
  for (int i = 0; i < k->nheld; i++) {
    if (k->vaulted) g_vault->drop(uint32_t(k->held[i]));
    else ::close(k->held[i]);
  }
  k->nheld = 0;
  k->vaulted = false;
}

void forget(Kept* k) {
  drop_held(k);
  std::memset(k, 0, sizeof *k);
}

// One datagram with fds; never blocks (a full berthd socket drops it: the
// exit stays in the table for the next kHello).
bool send_msg(int fd, const void* data, size_t len, const int* fds, int nfds, int flags) {
  FdMessage m(const_cast<void*>(data), len);
  m.put_fds(fds, nfds);
  for (;;) {
    if (::sendmsg(fd, &m.msg, MSG_NOSIGNAL | flags) >= 0) return true;
    if (errno != EINTR) return false;
  }
}

KeeperMsg describe(const Kept& k, KeeperType type) {
  KeeperMsg m;
  m.type = type;
  m.kind = k.kind;
  m.exited = k.exited;
  m.pid = k.pid;
  m.exit_code = k.exit_code;
  m.signal = k.signal;
  m.exit_ns = k.exit_ns;
  std::memcpy(m.id, k.id, sizeof m.id);
  return m;
}

bool watched() {
  for (Conn& c : g_conns)
    if (c.fd >= 0 && c.watching) return true;
  return false;
}

// The exit of k to every watcher. A watcher whose socket is full gets it
// later (flush_unsent, on POLLOUT): berthd waits for every exit. An exec's
// or an untaken warm init's record goes once told (nobody asks later).
void push_exit(Kept* k) {
  bool told = false;
  KeeperMsg m = describe(*k, KeeperType::kExit);
  for (Conn& c : g_conns)
    if (c.fd >= 0 && c.watching) told |= send_msg(c.fd, &m, sizeof m, nullptr, 0, MSG_DONTWAIT);
  k->unsent = !told && watched();
  if (k->kind != KeptKind::kInit && told) forget(k);
  else if (k->kind != KeptKind::kInit) drop_held(k);
}

bool any_unsent() {
  for (int i = 0; i < g_kept_hw; i++)
    if (g_kept[i].pid && g_kept[i].unsent) return true;
  return false;
}

void flush_unsent() {
  for (int i = 0; i < g_kept_hw; i++)
    if (g_kept[i].pid && g_kept[i].unsent) push_exit(&g_kept[i]);
}

// Reaping. SIGCHLD is a standard signal: one pending stands for any number
// of exits, so only a walk (waitid(P_ALL), which looks at every child of
// the keeper: 10,000 at density) finds them all. The siginfo of the one
// taken names its child, which waitid(P_PID) reaps looking at that child
// only; then one walk finds any other (usually none), where it took one
// walk to find the child and another to find none. (A realtime exit
// signal, queued one per exit, would need no walk, but exec resets a
// process's exit signal to SIGCHLD.)
void record_exit(const siginfo_t& si) {
  Kept* k = find(si.si_pid);
  if (!k) return;  // an orphan of a --pid host container: reaped, not ours
  k->exited = true;
  k->exit_ns = now_ns();
  k->signal = si.si_code == CLD_EXITED ? 0 : si.si_status;
  k->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
  push_exit(k);
}

// The child a SIGCHLD named, if it has ended.
void reap_one(pid_t pid) {
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  if (::waitid(idtype_t(P_PID), id_t(pid), &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0) return;
  record_exit(si);
}

// Every child that ended: recorded and pushed.
void reap_all() {
  for (;;) {
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    if (::waitid(idtype_t(P_ALL), 0, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0) return;
    record_exit(si);
  }
}

void hello(int fd) {
  for (int i = 0; i < g_kept_hw; i++) {
    Kept& k = g_kept[i];
    if (k.pid == 0) continue;
    KeeperMsg m = describe(k, KeeperType::kEntry);
    int fds[kKeeperMaxHeld];
    int n = 0;
    for (int j = 0; j < k.nheld; j++) {
      if (!k.vaulted) {
        fds[n++] = k.held[j];
      } else if (auto f = g_vault->open(uint32_t(k.held[j])); f) {
        fds[n++] = f->release();
      }
    }
    m.nfds = uint8_t(n);
    bool sent = send_msg(fd, &m, sizeof m, fds, n, 0);
    if (k.vaulted)
      for (int j = 0; j < n; j++) ::close(fds[j]);
    if (!sent) return;
  }
  KeeperMsg end;
  end.type = KeeperType::kEnd;
  end.pid = ::getpid();   // who answers (SO_PEERCRED would name the listen()er: berthd)
  (void)send_msg(fd, &end, sizeof end, nullptr, 0, 0);
}

void hold(const KeeperMsg& m, int* fds, int nfds) {
  Kept* k = find(m.pid);
  if (!k || k->exited) {
    for (int i = 0; i < nfds; i++) ::close(fds[i]);
    return;
  }
  drop_held(k);
  for (int i = 0; i < nfds && i < kKeeperMaxHeld; i++) k->held[k->nheld++] = fds[i];
  for (int i = kKeeperMaxHeld; i < nfds; i++) ::close(fds[i]);
  // Room for a burst while berthd is away (the container blocks when it
  // is full): 1 MiB, or less if the system's pipe-max-size says so.
  for (int i = 0; i < k->nheld; i++) (void)::fcntl(k->held[i], F_SETPIPE_SZ, 1 << 20);
  // Into the vault, all or none.
  uint32_t keys[kKeeperMaxHeld];
  if (g_vault && k->nheld > 0 && g_vault->stash_all(k->held, size_t(k->nheld), keys)) {
    for (int i = 0; i < k->nheld; i++) {
      ::close(k->held[i]);
      k->held[i] = int(keys[i]);
    }
    k->vaulted = true;
  }
  k->kind = KeptKind::kInit;
  std::memcpy(k->id, m.id, sizeof k->id);
  k->id[sizeof k->id - 1] = 0;
}

void kill_warm() {
  for (int i = 0; i < g_kept_hw; i++)
    if (g_kept[i].pid && g_kept[i].kind == KeptKind::kWarm && !g_kept[i].exited) ::kill(g_kept[i].pid, SIGKILL);
}

void spawn_request(Conn& c, size_t len, int* fds, int nfds) {
  std::vector<unique_fd> owned;
  for (int i = 0; i < nfds; i++) owned.emplace_back(fds[i]);
  Kept* slot = take_slot();
  if (!slot) {
    const char full[] = "{\"error\":\"the keeper's process table is full\",\"code\":7,\"errno\":0}";
    (void)send_msg(c.fd, full, sizeof full - 1, nullptr, 0, 0);
    return;
  }
  pid_t pid = 0;
  KeptKind kind = KeptKind::kInit;
  std::string id;
  auto [reply, out] = serve_spawn(std::string(g_request, len), std::move(owned), &pid, &kind, &id);
  if (pid > 0) {
    Kept* k = slot;
    k->pid = pid;
    k->kind = kind;
    std::snprintf(k->id, sizeof k->id, "%s", id.c_str());
  }
  int raw[3];
  int n = 0;
  for (auto& fd : out) raw[n++] = fd.get();
  (void)send_msg(c.fd, reply.data(), reply.size(), raw, n, 0);
}

void serve_conn(Conn& c) {
  FdMessage m(g_request, kRequestMax);
  ssize_t n;
  do {
    n = ::recvmsg(c.fd, &m.msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  int fds[FdMessage::kMaxFds];
  int nfds = m.take_fds(fds, FdMessage::kMaxFds);
  if (n <= 0 || (m.msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    for (int i = 0; i < nfds; i++) ::close(fds[i]);
    if (n < 0 && errno == EAGAIN) return;
    ::close(c.fd);
    c.fd = -1;
    c.watching = false;
    return;
  }
  if (g_request[0] == '{') return spawn_request(c, size_t(n), fds, nfds);
  KeeperMsg km;
  if (size_t(n) != sizeof km || g_request[0] != 'K') {
    for (int i = 0; i < nfds; i++) ::close(fds[i]);
    return;
  }
  std::memcpy(&km, g_request, sizeof km);
  if (km.type == KeeperType::kHold) return hold(km, fds, nfds);
  for (int i = 0; i < nfds; i++) ::close(fds[i]);
  switch (km.type) {
    case KeeperType::kHello: return hello(c.fd);
    case KeeperType::kWatch: {
      c.watching = true;
      int size = 4 << 20;   // room for a burst of exits (root: beyond wmem_max)
      (void)::setsockopt(c.fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
      return;
    }
    case KeeperType::kRelease:
      if (Kept* k = find(km.pid)) forget(k);
      return;
    case KeeperType::kKillWarm: return kill_warm();
    case KeeperType::kQuit: ::_exit(0);
    default: return;
  }
}

void accept_conn(int listen_fd) {
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  for (Conn& c : g_conns)
    if (c.fd < 0) {
      c.fd = fd;
      c.watching = false;
      return;
    }
  ::close(fd);  // more than kKeeperConns: refused
}

void detach_from_berthd(const char* exec_root) {
  ::setsid();  // no terminal's signals
  ::prctl(PR_SET_NAME, "berth:keeper", 0, 0, 0);
  ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::signal(sig, SIG_IGN);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::close(null);
  }
  char path[4096];
  std::snprintf(path, sizeof path, "%s/keeper.pid", exec_root);
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    char buf[32];
    int len = std::snprintf(buf, sizeof buf, "%d\n", int(::getpid()));
    (void)!::write(fd, buf, size_t(len));
    ::close(fd);
  }
}

}  // namespace

void keeper_main(int listen_fd, const char* exec_root) {
  // Inherited without close-on-exec: no child of ours may keep it open
  // (a dead keeper's socket must refuse connections).
  (void)::fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
  detach_from_berthd(exec_root);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_SETMASK, &chld, nullptr);
  int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) ::_exit(1);
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  // Held fds go to the vault where the kernel has one: then the table is
  // bounded by pid_max-like sizes, not the fd limit (65,536 rows, 8 MiB of
  // address space, touched only as far as used).
  static reactor::FdVault vault;
  if (vault.available()) g_vault = &vault;
  g_kept_max = g_vault ? 65536 : int(rl.rlim_cur / 2 + 64 > 65536 ? 65536 : rl.rlim_cur / 2 + 64);
  g_kept = static_cast<Kept*>(std::calloc(size_t(g_kept_max), sizeof(Kept)));
  g_request = static_cast<char*>(std::malloc(kRequestMax));
  if (!g_kept || !g_request) ::_exit(1);
  for (Conn& c : g_conns) c.fd = -1;
  for (;;) {
    pollfd p[2 + kKeeperConns];
    p[0] = {listen_fd, POLLIN, 0};
    p[1] = {sfd, POLLIN, 0};
    short out = any_unsent() ? POLLOUT : 0;
    for (int i = 0; i < kKeeperConns; i++)
      p[2 + i] = {g_conns[i].fd, short(POLLIN | (g_conns[i].watching ? out : 0)), 0};  // -1: ignored
    if (::poll(p, 2 + kKeeperConns, -1) < 0) continue;
    if (p[1].revents) {
      // The signalfd only wakes the loop; the signal is taken with
      // sigtimedwait, whose siginfo_t is the kernel's own (see Reaping).
      const timespec now{0, 0};
      for (;;) {
        siginfo_t info;
        int sig = ::sigtimedwait(&chld, &info, &now);
        if (sig < 0) {
          if (errno == EINTR) continue;
          break;  // EAGAIN: none left
        }
        if (info.si_code > 0) reap_one(info.si_pid);  // from the kernel, not kill(2)
      }
      reap_all();
    }
    for (int i = 0; i < kKeeperConns; i++)
      if (g_conns[i].fd >= 0 && (p[2 + i].revents & ~POLLOUT)) serve_conn(g_conns[i]);
    if (out) flush_unsent();
    if (p[0].revents) accept_conn(listen_fd);
    // No reap here on every turn: waitid(P_ALL) walks every child (10,000
    // at density), and a child that failed at once sends SIGCHLD, which
    // the signalfd reports at the next poll.
  }
}

}  // namespace berth::runtime
