#include "core/engine/log_files.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "core/base/strings.h"

namespace berth::engine {

std::optional<uint64_t> parse_log_size(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) i++;
  if (i == 0) return std::nullopt;
  std::string num(s.substr(0, i));
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || v < 0) return std::nullopt;
  std::string unit;
  for (char c : s.substr(i))
    if (c != ' ') unit += char(std::tolower(static_cast<unsigned char>(c)));
  if (unit.ends_with("ib")) unit.resize(unit.size() - 2);
  else if (unit.ends_with("b")) unit.resize(unit.size() - 1);
  static constexpr std::string_view kUnits = "kmgtp";
  double mult = 1;
  if (unit.empty()) {
  } else if (unit.size() == 1 && kUnits.find(unit[0]) != std::string_view::npos) {
    for (size_t k = 0; k <= kUnits.find(unit[0]); k++) mult *= 1024;
  } else {
    return std::nullopt;
  }
  return uint64_t(v * mult);
}

Result<LogConfig> parse_log_config(std::string_view type, const std::map<std::string, std::string>& opts) {
  if (type != "" && type != "json-file" && type != "local")
    return Error::invalid("logging driver {:?} is not supported (json-file and local are)", type);
  LogConfig c;
  c.type = std::string(type);
  c.opts = opts;
  for (auto& [k, v] : opts) {
    if (k == "max-size") {
      auto n = v == "-1" ? std::optional<uint64_t>(0) : parse_log_size(v);   // -1: unlimited
      if (!n || (*n == 0 && v != "-1")) return Error::invalid("invalid log opt max-size: {:?}", v);
      c.max_size = *n;
    } else if (k == "max-file") {
      auto n = parse_int(v);
      if (!n || *n < 1 || *n > 1000) return Error::invalid("invalid log opt max-file: {:?} (1 to 1000)", v);
      c.max_file = int(*n);
    } else if (k == "mode") {
      if (v != "blocking" && v != "non-blocking") return Error::invalid("invalid log opt mode: {:?}", v);
      c.non_blocking = v == "non-blocking";
    } else if (k == "max-buffer-size") {
      auto n = parse_log_size(v);
      if (!n || *n == 0) return Error::invalid("invalid log opt max-buffer-size: {:?}", v);
      c.max_buffer = *n;
    } else if (k != "compress" && k != "labels" && k != "env" && k != "env-regex" && k != "tag") {
      return Error::invalid("unknown log opt '{}' for {} log driver", k, type.empty() ? "json-file" : type);
    }
  }
  if (c.max_file > 1 && c.max_size == 0 && opts.count("max-size"))
    return Error::invalid("max-file cannot be greater than 1 when max-size is not set");
  return c;
}

LogConfig resolve_log_config(const LogConfig& container, const LogConfig& daemon) {
  LogConfig r = container;
  if (r.type.empty()) r.type = daemon.type.empty() ? "json-file" : daemon.type;
  if (!r.max_size && !r.opts.count("max-size")) r.max_size = daemon.max_size;
  if (!r.max_file) r.max_file = daemon.max_file ? daemon.max_file : 1;
  if (!r.opts.count("mode")) r.non_blocking = daemon.non_blocking;
  if (!r.max_buffer) r.max_buffer = daemon.max_buffer ? daemon.max_buffer : 1 << 20;
  return r;
}

std::string log_file_path(const std::string& base, int n) {
  return n == 0 ? base : base + "." + std::to_string(n);
}

namespace {
Result<bool> rename_pair(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) < 0) {
    if (errno == ENOENT) return false;
    return Error::sys(errno, "rename {} to {}", from, to);
  }
  // The index follows its log; a missing index is fine (readers scan).
  if (::rename(log_index_path(from).c_str(), log_index_path(to).c_str()) < 0 && errno != ENOENT)
    return Error::sys(errno, "rename {} to {}", log_index_path(from), log_index_path(to));
  return true;
}
}  // namespace

Result<bool> rotate_log_files(const std::string& base, int max_file) {
  if (max_file < 1) max_file = 1;
  // The oldest kept file leaves first, so no rename below replaces (and so
  // frees, inside the syscall) a file's blocks on the caller's thread.
  bool dropped = BERTH_TRY(rename_pair(log_file_path(base, max_file - 1), log_drop_path(base)));
  for (int n = max_file - 2; n >= 0; n--)
    BERTH_TRY(rename_pair(log_file_path(base, n), log_file_path(base, n + 1)));
  return dropped;
}

}  // namespace berth::engine
