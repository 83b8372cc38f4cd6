#include "ipc/server/progress_json.h"

#include <fmt/format.h>

#include "ipc/proto/progress_bar.h"
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
