#include "core/runtime/exit.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/wait.h>
// After <sys/wait.h>: <linux/wait.h> defines P_PIDFD (Debian 12's glibc 2.36
// headers lack it) and macros for P_ALL & co. that would break glibc's enum.
#include <linux/wait.h>

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

}  // namespace berth::runtime
