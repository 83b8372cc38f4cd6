#include "core/base/signals.h"

#include <csignal>

#include "core/base/strings.h"

namespace berth {

Result<int> parse_signal(std::string_view s) {
  static const struct { const char* name; int sig; } kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
      {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
      {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
      {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
      {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},   {"PWR", SIGPWR},   {"SYS", SIGSYS}};
  if (auto n = parse_int(s)) {
    if (*n > 0 && *n <= 64) return int(*n);
    return Error::invalid("Invalid signal: {}", s);
  }
  std::string_view name = s;
  if (starts_with(name, "SIG")) name.remove_prefix(3);
  for (auto& e : kSignals)
    if (name == e.name) return e.sig;
  return Error::invalid("Invalid signal: {}", s);
}

}  // namespace berth
