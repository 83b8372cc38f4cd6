// The parent's side of spawn: prepare, clone3, hand back the handles.
#include "core/runtime/spawn.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/file.h"
#include "core/runtime/child.h"
#include "core/runtime/child_fd.h"
#include "core/runtime/exit.h"
#include "core/runtime/late.h"
#include "core/runtime/prepare.h"
#include "core/runtime/security.h"
#include "core/runtime/userns.h"

namespace berth::runtime {

namespace {

struct Channels {
  unique_fd sync_parent, sync_child;    // socketpair: send(MSG_NOSIGNAL), no SIGPIPE
  unique_fd error_read, error_write;    // pipe, both ends O_CLOEXEC
  unique_fd self;                       // pidfd of this process, for the child (close-on-exec)
};

Result<Channels> open_channels(bool sibling) {
  Channels c;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return Error::sys(errno, "socketpair");
  c.sync_parent.reset(sv[0]);
  c.sync_child.reset(sv[1]);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Error::sys(errno, "pipe");
  c.error_read.reset(p[0]);
  c.error_write.reset(p[1]);
  // The process whose death the child watches: ours, or with CLONE_PARENT
  // our parent's, which becomes the child's parent.
  pid_t watched = sibling ? ::getppid() : ::getpid();
  int self = int(::syscall(SYS_pidfd_open, watched, 0));  // always O_CLOEXEC
  if (self < 0) return Error::sys(errno, "pidfd_open {}", watched);
  c.self.reset(self);
  return c;
}

uint64_t clone_flags(const Spec& spec) {
  if (spec.join_pidfd >= 0)  // exec: existing namespaces, an existing cgroup
    return CLONE_PIDFD | (spec.cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0) | (spec.sibling ? CLONE_PARENT : 0);
  const Security& sec = spec.security;
  uint64_t f = CLONE_PIDFD | CLONE_NEWNS;
  // --pid host / container:X (joined around clone3 by the caller's
  // thread), --uts host, --ipc host / container:X (the child joins X's).
  if (spec.userns) f |= CLONE_NEWUSER;   // first: it owns every namespace made with it
  if (!sec.host_pid && sec.join_pid_pidfd < 0) f |= CLONE_NEWPID;
  if (!sec.host_uts) f |= CLONE_NEWUTS;
  if (!sec.host_ipc && sec.join_ipc_pidfd < 0) f |= CLONE_NEWIPC;
  if (spec.sibling) f |= CLONE_PARENT;
  if (spec.new_netns && spec.netns_fd < 0) f |= CLONE_NEWNET;  // else the child joins netns_fd
  // With CLONE_INTO_CGROUP the child starts in its cgroup, so a cgroup
  // namespace made here is rooted right; otherwise the child unshares it
  // after release(), once the caller has moved it (see spawn.h).
  if (spec.cgroup_fd >= 0) f |= CLONE_INTO_CGROUP | (spec.cgroupns_host ? 0 : CLONE_NEWCGROUP);
  return f;
}

// clone3 with every signal blocked, so no berthd signal handler can run in
// the child before it resets them (the child unblocks after the reset).
// Returns the pid in the parent; never returns in the child.
pid_t clone_child(const Spec& spec, const ChildArgs& args, int* pidfd) {
  clone_args ca{};
  ca.flags = clone_flags(spec);
  ca.pidfd = uint64_t(uintptr_t(pidfd));
  // clone3 takes no exit signal with CLONE_PARENT: the child gets the
  // caller's own (SIGCHLD, for a spawner forked by berthd).
  ca.exit_signal = spec.sibling ? 0 : SIGCHLD;
  if (spec.cgroup_fd >= 0) ca.cgroup = uint64_t(spec.cgroup_fd);
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  long pid = ::syscall(SYS_clone3, &ca, sizeof ca);
  if (pid == 0) child_main(args);
  int saved = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return pid_t(pid);
}

// exec: a process cannot move itself into another pid namespace, but a
// thread can choose the one its children are born in. So the calling thread
// joins the container's pid namespace for its children just around clone3
// and returns to its own after (setns(CLONE_NEWPID) affects only children,
// and only of this thread; the job-pool threads are untouched).
class PidnsForChildren {
 public:
  static Result<PidnsForChildren> enter(int target_pidfd) {
    static int own = ::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);  // berthd's, kept for its life
    if (own < 0) return Error::sys(errno, "open /proc/self/ns/pid");
    if (::setns(target_pidfd, CLONE_NEWPID) < 0) return Error::sys(errno, "join the container's pid namespace");
    return PidnsForChildren(own);
  }
  PidnsForChildren(PidnsForChildren&& o) noexcept : own_(std::exchange(o.own_, -1)) {}
  PidnsForChildren(const PidnsForChildren&) = delete;
  ~PidnsForChildren() {
    // Back to berthd's own namespace for later children; this cannot fail
    // (it is the thread's active pid namespace), and must not be skipped.
    if (own_ >= 0 && ::setns(own_, CLONE_NEWPID) < 0) std::abort();
  }

 private:
  explicit PidnsForChildren(int own) : own_(own) {}
  int own_;
};

// A remapped container's pre-made netns (owned by the host's user
// namespace, so the child could not setns into it): the calling thread
// enters it just around clone3, and the child is born there. Meanwhile the
// thread writes the netns's sysctls the container's root may not: its own
// net.* ones, and Docker's two defaults that let a remapped root bind
// ports below 1024 and ping (CAP_NET_BIND_SERVICE and CAP_NET_RAW count
// in the user namespace owning the netns, which is not the container's).
class NetnsForChildren {
 public:
  static Result<NetnsForChildren> enter(const Spec& spec) {
    unique_fd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!own) return Error::sys(errno, "open /proc/thread-self/ns/net");
    if (::setns(spec.netns_fd, CLONE_NEWNET) < 0) return Error::sys(errno, "join the container's network namespace");
    NetnsForChildren n(std::move(own));
    std::vector<std::pair<std::string, std::string>> sysctls = {
        {"net.ipv4.ip_unprivileged_port_start", "0"}, {"net.ipv4.ping_group_range", "0 2147483647"}};
    for (const auto& [k, v] : spec.security.sysctls) {
      if (!parent_writes_sysctl(spec, k)) continue;
      std::string path = sysctl_proc_path(k);
      std::erase_if(sysctls, [&](const auto& d) { return sysctl_proc_path(d.first) == path; });
      sysctls.emplace_back(k, v);
    }
    for (const auto& [k, v] : sysctls) {
      unique_fd fd = BERTH_TRY_CTX(open_fd("/proc/sys/" + sysctl_proc_path(k), O_WRONLY), "write sysctl {}", k);
      if (auto r = write_all(fd.get(), v); !r) return std::move(r.error()).context("write sysctl {}", k);
    }
    return n;
  }
  NetnsForChildren(NetnsForChildren&&) noexcept = default;
  NetnsForChildren(const NetnsForChildren&) = delete;
  ~NetnsForChildren() {
    // Back to the thread's own namespace: cannot fail, must not be skipped.
    if (own_ && ::setns(own_.get(), CLONE_NEWNET) < 0) std::abort();
  }

 private:
  explicit NetnsForChildren(unique_fd own) : own_(std::move(own)) {}
  unique_fd own_;
};

// CVE-2019-5736: a child cloned into a running container's pid namespace
// (exec, --pid container:X) is visible to that container's processes, and
// until its execve it is a copy of berthd: /proc/<pid>/exe would open
// berthd's binary. Made non-dumpable, its /proc files need CAP_SYS_PTRACE
// over it (ptrace access mode checks, proc(5)), which containers lack by
// default. The flag is set on this process just around clone3, so the
// child has it from its first instruction (fork copies it: the dumpable
// bits live in the mm and are copied with it), and execve resets it for
// the container's command. Restored afterwards for berthd.
class NotDumpable {
 public:
  explicit NotDumpable(bool active) : old_(active ? ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) : -1) {
    if (old_ > 0) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  }
  ~NotDumpable() {
    if (old_ > 0) ::prctl(PR_SET_DUMPABLE, old_, 0, 0, 0);
  }
  NotDumpable(const NotDumpable&) = delete;
  NotDumpable& operator=(const NotDumpable&) = delete;

 private:
  int old_;
};

}  // namespace

Result<Process> spawn(const Spec& spec) {
  Prepared prep;
  BERTH_TRY_VOID(prepare(spec, &prep));
  Channels ch = BERTH_TRY(open_channels(spec.sibling));
  prep.args.sync_fd = ch.sync_child.get();
  prep.args.error_fd = ch.error_write.get();
  prep.args.parent_pidfd = ch.self.get();

  // --userns-remap: the overlay is mounted here; the child waits for its
  // id maps on a pipe (userns.h).
  bool userns = spec.userns && spec.join_pidfd < 0;
  unique_fd overlay, maps_read, maps_write;
  if (userns) {
    if (spec.deferred) return Error::invalid("container {}: a warm init cannot take a user namespace", spec.id);
    int ns = BERTH_TRY(mapping_userns(spec.userns));
    overlay = BERTH_TRY(mount_idmapped_overlay(spec, ns));
    int mp[2];
    if (::pipe2(mp, O_CLOEXEC) < 0) return Error::sys(errno, "pipe");
    maps_read.reset(mp[0]);
    maps_write.reset(mp[1]);
    prep.args.overlay_fd = overlay.get();
    prep.args.userns_wait_fd = maps_read.get();
  }

  int pidfd = -1;
  pid_t pid;
  int join_pid = spec.join_pidfd >= 0 ? spec.join_pidfd : spec.security.join_pid_pidfd;
  if (join_pid >= 0) {
    auto pidns = BERTH_TRY(PidnsForChildren::enter(join_pid));
    NotDumpable hidden(true);
    pid = clone_child(spec, prep.args, &pidfd);
    if (pid < 0 && spec.join_pidfd >= 0)
      return Error::sys(errno, "clone3 exec process in container {}", spec.id.substr(0, 12));
    if (pid < 0) return Error::sys(errno, "clone3 init of container {}", spec.id.substr(0, 12));
  } else {
    std::optional<NetnsForChildren> netns;
    if (userns && spec.netns_fd >= 0) netns.emplace(BERTH_TRY(NetnsForChildren::enter(spec)));
    pid = clone_child(spec, prep.args, &pidfd);
    if (pid < 0) return Error::sys(errno, "clone3 init of container {}", spec.id.substr(0, 12));
  }
  Process p;
  p.pid = pid;
  p.pidfd.reset(pidfd);
  if (userns) {
    maps_read.reset();
    overlay.reset();
    char b = 1;
    auto maps = write_id_maps(pid, spec.userns);
    if (maps && ::write(maps_write.get(), &b, 1) != 1) maps = Error::sys(errno, "wake the child");
    if (!maps) {
      // The child waits on the pipe: it goes now, reaped here.
      (void)kill(pidfd, SIGKILL);
      siginfo_t si;
      while (::waitid(idtype_t(P_PIDFD), id_t(pidfd), &si, WEXITED) < 0 && errno == EINTR) {
      }
      return std::move(maps.error()).context("user namespace of container {}", spec.id.substr(0, 12));
    }
  }
  p.sync_fd = std::move(ch.sync_parent);
  p.tty = spec.tty;
  p.deferred = spec.deferred;
  p.error_fd = std::move(ch.error_read);
  return p;  // the child's ends close here, in the parent only
}

Result<void> release(Process& p) {
  if (!p.sync_fd) return Error::invalid("release pid {}: already released", p.pid);
  if (p.deferred) return Error::invalid("release pid {}: a deferred init needs its final spec", p.pid);
  unique_fd fd = std::move(p.sync_fd);
  char b = 1;
  for (;;) {
    if (::send(fd.get(), &b, 1, MSG_NOSIGNAL) == 1) break;
    if (errno != EINTR) return Error::sys(errno, "release container init (pid {})", p.pid);
  }
  if (p.tty) p.sync_fd = std::move(fd);  // the pty master comes back on it
  return ok();
}

Result<void> release(Process& p, const Spec& late) {
  if (!p.sync_fd) return Error::invalid("release pid {}: already released", p.pid);
  if (!p.deferred) return Error::invalid("release pid {}: not a deferred init", p.pid);
  std::string msg = BERTH_TRY(encode_late(late));
  int fds[FdMessage::kMaxFds];
  int nfds = 0;
  for (int fd : {late.stdin_fd, late.stdout_fd, late.stderr_fd})
    if (!late.tty && fd >= 0) fds[nfds++] = fd;
  FdMessage m(msg.data(), msg.size());
  m.put_fds(fds, nfds);
  unique_fd fd = std::move(p.sync_fd);
  size_t sent = 0;
  while (sent < msg.size()) {
    ssize_t n = sent == 0 ? ::sendmsg(fd.get(), &m.msg, MSG_NOSIGNAL)
                          : ::send(fd.get(), msg.data() + sent, msg.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys(errno, "release container init (pid {})", p.pid);
    sent += size_t(n);
  }
  p.deferred = false;
  p.tty = late.tty;
  if (p.tty) p.sync_fd = std::move(fd);  // the pty master comes back on it
  return ok();
}

Result<unique_fd> receive_pty(Process& p) {
  if (!p.tty || !p.sync_fd) return Error::invalid("pid {}: no pseudo-terminal to receive", p.pid);
  unique_fd sock = std::move(p.sync_fd);
  char byte;
  FdMessage m(&byte, 1);
  ssize_t n;
  do {
    n = ::recvmsg(sock.get(), &m.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys(errno, "receive the pseudo-terminal of pid {}", p.pid);
  int fds[FdMessage::kMaxFds];
  int got = m.take_fds(fds, FdMessage::kMaxFds);
  for (int i = 1; i < got; i++) ::close(fds[i]);
  if (n != 1 || got < 1) return Error(Code::kSystem, fmt::format("pid {} sent no pseudo-terminal", p.pid));
  return unique_fd(fds[0]);
}

Result<void> wait_exec(Process& p, const Spec& spec) {
  if (!p.error_fd) return Error::invalid("wait for exec of pid {}: no error pipe", p.pid);
  unique_fd fd = std::move(p.error_fd);
  ChildError ce{};
  size_t got = 0;
  while (got < sizeof ce) {
    ssize_t n = ::read(fd.get(), reinterpret_cast<char*>(&ce) + got, sizeof ce - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys(errno, "read exec status of pid {}", p.pid);
    if (n == 0) break;
    got += size_t(n);
  }
  if (got == 0) return ok();
  if (got != sizeof ce) return Error(Code::kSystem, fmt::format("read exec status of pid {}: short read", p.pid));
  return describe_child_error(ce, spec);
}

}  // namespace berth::runtime
