// A small structured logger on top of fmt: one line per event,
//   2026-11-27T05:00:00.123456Z info engine msg key=value ...
// written to stderr with one write(2) per batch of whole lines, so lines
// from job threads never interleave. Any thread. Never call from a
// post-clone child.
//
// With start_writer() (berthd), lines go to a bounded buffer that one
// writer thread drains: a log line never makes the reactor thread wait for
// the disk (an append to a file can wait for the journal or for another
// thread's write to the same file; the reactor's watchdog saw 8-35 ms).
// When the buffer is full (kMaxBuffered), lines are dropped and counted,
// and the writer says how many before the next line it writes. Without
// the writer (tools, tests), write() writes at once.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace berth::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level l);
Level level();
bool parse_level(std::string_view s, Level* out);
void write(Level l, std::string_view component, std::string_view msg);

inline constexpr size_t kMaxBuffered = 4 << 20;
// Starts the writer thread; stop_writer() writes what is buffered and
// joins it (call both from the main thread, at start and at exit).
void start_writer();
void stop_writer();
// The calling thread (the reactor's) never waits for the writer's lock:
// its lines wait in a buffer of its own while the lock is taken, and
// flush_pending() (once per loop turn) hands them over. Other threads
// just take the lock.
void never_wait_on_this_thread();
void flush_pending();

template <class... Args>
void debug(std::string_view comp, fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::kDebug) write(Level::kDebug, comp, fmt::format(f, std::forward<Args>(a)...));
}
template <class... Args>
void info(std::string_view comp, fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::kInfo) write(Level::kInfo, comp, fmt::format(f, std::forward<Args>(a)...));
}
template <class... Args>
void warn(std::string_view comp, fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::kWarn) write(Level::kWarn, comp, fmt::format(f, std::forward<Args>(a)...));
}
template <class... Args>
void error(std::string_view comp, fmt::format_string<Args...> f, Args&&... a) {
  write(Level::kError, comp, fmt::format(f, std::forward<Args>(a)...));
}

}  // namespace berth::log
