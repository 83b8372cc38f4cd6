#include "ipc/proto/progress_bar.h"

#include <iterator>

#include <fmt/format.h>

namespace berth::ipc {

std::string go_human_size(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  size_t i = 0;
  while (bytes >= 1000.0 && i + 1 < std::size(kUnits)) {
    bytes /= 1000.0;
    i++;
  }
  return fmt::format("{:.4g}{}", bytes, kUnits[i]);
}

std::string progress_bar(int64_t current, int64_t total, int width) {
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) return fmt::format("{:>8}", go_human_size(double(current)));
  int pct = int(double(current) / double(total) * 100) / 2;
  if (pct > 50) pct = 50;
  if (pct < 0) pct = 0;
  std::string bar;
  if (width > 110) bar = "[" + std::string(size_t(pct), '=') + ">" + std::string(size_t(50 - pct), ' ') + "] ";
  if (current > total) return bar + fmt::format("{:>8}", go_human_size(double(current)));
  return bar + fmt::format("{:>8}/{}", go_human_size(double(current)), go_human_size(double(total)));
}

}  // namespace berth::ipc
