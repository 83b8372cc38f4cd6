// The X-Docker-Container-Path-Stat header of HEAD/GET/PUT
// /containers/{id}/archive (docker cp): base64 (standard alphabet, padded)
// of the JSON {"name","size","mode","mtime","linkTarget"}, where mode is
// Go's os.FileMode (type bits high, see fs::go_file_mode) and mtime is
// RFC 3339 with nanoseconds. Encoded by berthd, decoded by berthctl.
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::ipc {

inline constexpr std::string_view kPathStatHeader = "X-Docker-Container-Path-Stat";

// Go os.FileMode bits a client needs.
inline constexpr uint32_t kGoModeDir = 1u << 31;
inline constexpr uint32_t kGoModeSymlink = 1u << 27;

struct PathStat {
  std::string name;
  int64_t size = 0;
  uint32_t mode = 0;        // Go os.FileMode
  std::string mtime;        // RFC 3339, as sent
  std::string link_target;  // "" unless a symlink
  bool is_dir() const { return (mode & kGoModeDir) != 0; }
  bool is_symlink() const { return (mode & kGoModeSymlink) != 0; }
};

std::string base64_encode(std::string_view in);
// Standard alphabet; padding optional; kInvalidArgument on other bytes.
Result<std::string> base64_decode(std::string_view in);

std::string encode_path_stat(const PathStat& s);
Result<PathStat> decode_path_stat(std::string_view header_value);

}  // namespace berth::ipc
