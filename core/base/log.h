// A small structured logger on top of fmt: one line per event,
//   2026-11-27T05:00:00.123456Z info engine msg key=value ...
// written to stderr with one write(2) so lines from job threads never
// interleave. Any thread. Never call from a post-clone child.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace berth::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level l);
Level level();
bool parse_level(std::string_view s, Level* out);
void write(Level l, std::string_view component, std::string_view msg);

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
