// The files of one container's log and how they rotate.
//
// A container's log is the current file `container.log` plus up to
// max_file-1 rotated ones, `container.log.1` (newest) … `container.log.<n>`
// (oldest). Each log file has an index sidecar, `<log file>.idx`
// (log_index.h), renamed with it. Rotation renames, never truncates: the
// oldest file is renamed to `container.log.drop` (deleted later on the job
// pool), the others shift up by one, and the pump opens a fresh
// `container.log`. A reader holding an fd of a renamed file keeps reading it.
//
// LogConfig is HostConfig.LogConfig resolved: Docker's json-file options
// max-size/max-file (and mode/max-buffer-size), accepted for the types
// "json-file", "local" and "" (every type is stored in berth's own format).
//
// Thread: pure functions and the rename helper may be called from any
// thread; rotate_log_files() is called by the pump on the reactor thread (a
// few renames, no data is copied or freed there).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::engine {

struct LogConfig {
  std::string type;           // as given ("" = the daemon default, json-file)
  uint64_t max_size = 0;      // bytes before rotation; 0 = unset (daemon default; then never)
  int max_file = 0;           // files kept, current included; 0 = unset (daemon default; then 1)
  // mode=non-blocking: never block the container on the log; output that
  // does not fit in max_buffer is dropped and counted (log_pump.h).
  bool non_blocking = false;
  uint64_t max_buffer = 0;    // max-buffer-size for non-blocking mode; 0 = default (1 MiB)
  std::map<std::string, std::string> opts;   // Config as given, for inspect

  bool operator==(const LogConfig&) const = default;
};

// Docker's RAMInBytes: "10m", "4MiB", "512k", "100" (binary multiples).
std::optional<uint64_t> parse_log_size(std::string_view s);
// Validates LogConfig {Type, Config}; unknown options are rejected like Docker.
Result<LogConfig> parse_log_config(std::string_view type, const std::map<std::string, std::string>& opts);
// The container's options over the daemon's defaults (field by field).
LogConfig resolve_log_config(const LogConfig& container, const LogConfig& daemon);

// `container.log` for n = 0, `container.log.<n>` otherwise.
std::string log_file_path(const std::string& base, int n);
inline std::string log_index_path(const std::string& log_file) { return log_file + ".idx"; }
inline std::string log_drop_path(const std::string& base) { return base + ".drop"; }

// Shifts base.(n) → base.(n+1) for n = max_file-2 … 0 (with their indexes),
// after moving the oldest to log_drop_path(); afterwards `base` is free.
// Returns whether a drop file was made (the caller deletes it).
Result<bool> rotate_log_files(const std::string& base, int max_file);

}  // namespace berth::engine
