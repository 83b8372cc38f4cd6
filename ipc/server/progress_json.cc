#include "ipc/server/progress_json.h"

#include <fmt/format.h>

#include "ipc/server/json_util.h"

namespace berth::ipc {

namespace {

// Go's encoding/json escapes <, > and & inside strings; none of them can
// appear outside a string in this output.
std::string go_escapes(std::string s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else out += c;
  }
  return out;
}

// Messages (progress.Message in moby) carry no progressDetail: the ones
// without a layer id, and "Pulling from" (whose id is the tag).
bool is_message(const engine::RegistryProgress& e) {
  return e.id.empty() || e.status.starts_with("Pulling from ");
}

std::string detail_json(const engine::RegistryProgress& e) {
  if (!e.has_detail || (e.current <= 0 && e.total <= 0)) return "{}";
  std::string out = "{";
  if (e.current != 0) out += fmt::format("\"current\":{}", e.current);
  if (e.total != 0) out += fmt::format("{}\"total\":{}", e.current != 0 ? "," : "", e.total);
  return out + "}";
}

}  // namespace

std::string go_human_size(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  size_t i = 0;
  while (bytes >= 1000.0 && i + 1 < std::size(kUnits)) {
    bytes /= 1000.0;
    i++;
  }
  return fmt::format("{:.4g}{}", bytes, kUnits[i]);
}

std::string progress_bar(int64_t current, int64_t total) {
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) return fmt::format("{:>8}", go_human_size(double(current)));
  int pct = int(double(current) / double(total) * 100) / 2;
  if (pct > 50) pct = 50;
  if (pct < 0) pct = 0;
  std::string bar = "[" + std::string(size_t(pct), '=') + ">" + std::string(size_t(50 - pct), ' ') + "] ";
  if (current > total) return bar + fmt::format("{:>8}", go_human_size(double(current)));
  return bar + fmt::format("{:>8}/{}", go_human_size(double(current)), go_human_size(double(total)));
}

std::string progress_json(const engine::RegistryProgress& e) {
  std::string line;
  if (!e.status.empty()) {
    line = "{\"status\":" + json_quote(e.status);
    if (!is_message(e)) {
      line += ",\"progressDetail\":" + detail_json(e);
      if (e.has_detail) {
        std::string bar = progress_bar(e.current, e.total);
        if (!bar.empty()) line += ",\"progress\":" + json_quote(bar);
      }
    }
    if (!e.id.empty()) line += ",\"id\":" + json_quote(e.id);
    line += "}\n";
  }
  // Push's result (moby's progress.Aux of a PushResult) on a line of its own.
  if (!e.aux_digest.empty())
    line += fmt::format("{{\"progressDetail\":{{}},\"aux\":{{\"Tag\":{},\"Digest\":{},\"Size\":{}}}}}\n",
                        json_quote(e.aux_tag), json_quote(e.aux_digest), e.aux_size);
  return go_escapes(std::move(line));
}

std::string progress_error_json(std::string_view message) {
  std::string m = json_quote(message);
  return go_escapes(fmt::format("{{\"errorDetail\":{{\"message\":{}}},\"error\":{}}}\n", m, m));
}

}  // namespace berth::ipc
