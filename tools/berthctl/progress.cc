#include "tools/berthctl/progress.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipc/proto/progress_bar.h"

namespace berth::ctl {

namespace {

using json = nlohmann::json;

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t count(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

std::string ProgressDisplay::feed(std::string_view line, std::string* error) {
  json j = json::parse(line, nullptr, false);
  if (!j.is_object()) return "";
  if (auto e = j.find("errorDetail"); e != j.end() || j.contains("error")) {
    std::string msg = e != j.end() && e->is_object() ? text(*e, "message") : "";
    *error = msg.empty() ? text(j, "error") : msg;
    return "";
  }
  if (j.contains("aux")) return "";
  std::string id = text(j, "id"), status = text(j, "status");
  auto detail = j.find("progressDetail");
  bool has_progress = detail != j.end() && detail->is_object();
  std::string bar = has_progress ? ipc::progress_bar(count(*detail, "current"), count(*detail, "total"), width_) : "";
  std::string out;
  unsigned diff = 0;
  if (!id.empty() && has_progress) {
    auto [it, fresh] = lines_.try_emplace(id, unsigned(lines_.size()));
    if (fresh && terminal_) out += "\n";
    diff = unsigned(lines_.size()) - it->second;
    if (terminal_) out += fmt::format("\x1b[{}A", diff);
  } else {
    lines_.clear();  // anything else ends the block of layer lines
  }
  const char* endl = "";
  if (terminal_ && has_progress) {
    out += "\x1b[2K\r";
    endl = "\r";
  } else if (has_progress && !bar.empty()) {
    return "";  // byte counts are for terminals only
  }
  if (!id.empty()) out.append(id).append(": ");
  out.append(status);
  if (has_progress && terminal_) out.append(" ").append(bar).append(endl);
  else out.append(endl).append("\n");
  if (!id.empty() && terminal_) out += fmt::format("\x1b[{}B", diff);
  return out;
}

}  // namespace berth::ctl
