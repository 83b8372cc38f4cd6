// in_child(): runs `fn` in a forked child and returns what it returned,
// passed back through a pipe, so that what `fn` does to its process (a
// seccomp filter, a mount namespace, unshare) never touches the caller.
// For the benchmarks; `fn`'s result must be trivially copyable.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <type_traits>

namespace berth::bench {

// `failed` when the child could not answer (it died, or the pipe failed).
template <class F, class T = std::invoke_result_t<F&>>
T in_child(F&& fn, std::type_identity_t<T> failed) {
  static_assert(std::is_trivially_copyable_v<T>);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return failed;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    return failed;
  }
  if (pid == 0) {
    ::close(p[0]);
    T v = fn();
    _exit(::write(p[1], &v, sizeof v) == ssize_t(sizeof v) ? 0 : 1);
  }
  ::close(p[1]);
  T v = failed;
  if (::read(p[0], &v, sizeof v) != ssize_t(sizeof v)) v = failed;
  ::close(p[0]);
  ::waitpid(pid, nullptr, 0);
  return v;
}

}  // namespace berth::bench
