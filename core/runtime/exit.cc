#include "core/runtime/exit.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/wait.h>
// After <sys/wait.h>: <linux/wait.h> defines P_PIDFD (Debian 12's glibc 2.36
// headers lack it) and macros for P_ALL & co. that would break glibc's enum.
#include <linux/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace berth::runtime {

Result<std::optional<ExitStatus>> reap(int pidfd) {
  siginfo_t info{};
  for (;;) {
    if (::waitid(idtype_t(P_PIDFD), id_t(pidfd), &info, WEXITED | WNOHANG) == 0) break;
    if (errno != EINTR) return Error::sys(errno, "waitid pidfd {}", pidfd);
  }
  if (info.si_pid == 0) return std::optional<ExitStatus>();  // still running
  ExitStatus st;
  if (info.si_code == CLD_EXITED) {
    st.exit_code = info.si_status;
  } else {  // CLD_KILLED or CLD_DUMPED
    st.signal = info.si_status;
    st.exit_code = 128 + info.si_status;
  }
  return std::optional<ExitStatus>(st);
}

Result<void> kill(int pidfd, int sig) {
  // The raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C", so its
  // pidfd_send_signal does not link from C++.
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0)
    return Error::sys(errno, "signal {} to pidfd {}", sig, pidfd);
  return ok();
}

namespace {

// Field 22 of /proc/<pid>/stat; the command (field 2) may hold spaces and
// parentheses, so the fields are counted from its last ')'.
Result<uint64_t> start_ticks(pid_t pid) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
  unique_fd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::sys(errno == ENOENT ? ESRCH : errno, "open {}", path);
  char buf[1024];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return Error::sys(n < 0 ? errno : ESRCH, "read {}", path);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  if (!p) return Error::make(Code::kSystem, "{}: no command field", path);
  p++;
  for (int field = 2; field < 22; field++) {  // fields 3..22 follow
    p = std::strchr(p, ' ');
    if (!p) return Error::make(Code::kSystem, "{}: too few fields", path);
    p++;
  }
  char* end = nullptr;
  unsigned long long v = std::strtoull(p, &end, 10);
  if (end == p) return Error::make(Code::kSystem, "{}: bad start time", path);
  return uint64_t(v);
}

}  // namespace

Result<uint64_t> identity(pid_t pid, int pidfd) {
  auto t = start_ticks(pid);
  // Alive after the read: what was read was this process's.
  BERTH_TRY_VOID(kill(pidfd, 0));
  return t;
}

Result<unique_fd> open_pidfd(pid_t pid, uint64_t start) {
  unique_fd fd(int(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) return Error::sys(errno, "pidfd_open {}", pid);
  auto t = identity(pid, fd.get());
  if (!t) return std::move(t.error());
  if (*t != start) return Error::sys(ESRCH, "pid {} is another process now", pid);
  return fd;
}

}  // namespace berth::runtime
