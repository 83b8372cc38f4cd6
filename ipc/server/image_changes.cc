#include "ipc/server/image_changes.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "core/base/json_depth.h"
#include "core/base/strings.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

namespace {

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// A JSON array of strings; nullopt when `args` is not a JSON array.
Result<std::optional<std::vector<std::string>>> json_form(const std::string& args) {
  if (args.empty() || args[0] != '[') return std::nullopt;
  if (!json_depth_ok(args)) return Error::invalid("invalid JSON array in change: nested too deeply");
  Json j = Json::parse(args, nullptr, false);
  if (!j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (auto& e : j) {
    if (!e.is_string()) return Error::invalid("invalid JSON array in change: {}", args);
    out.push_back(e.get<std::string>());
  }
  return out;
}

// JSON array form, or shell form wrapped in /bin/sh -c.
Result<std::vector<std::string>> command_form(const std::string& args) {
  if (auto j = BERTH_TRY(json_form(args))) return std::move(*j);
  return std::vector<std::string>{"/bin/sh", "-c", args};
}

// VOLUME ["/a", "/b"] or VOLUME /a /b: absolute paths, added to the set.
Result<void> add_volumes(const std::string& args, std::vector<std::string>& volumes) {
  std::vector<std::string> paths;
  if (auto j = BERTH_TRY(json_form(args))) paths = std::move(*j);
  else paths = split(args, ' ');
  for (const std::string& p : paths) {
    if (p.empty()) continue;
    if (p[0] != '/') return Error::invalid("VOLUME {}: the path must be absolute", p);
    if (std::find(volumes.begin(), volumes.end(), p) == volumes.end()) volumes.push_back(p);
  }
  std::sort(volumes.begin(), volumes.end());
  return ok();
}

// KEY=VALUE pairs (one or more) or the legacy "KEY VALUE" form.
std::vector<std::pair<std::string, std::string>> key_values(const std::string& args) {
  std::vector<std::pair<std::string, std::string>> out;
  if (args.find('=') == std::string::npos) {
    auto sp = args.find_first_of(" \t");
    if (sp != std::string::npos) out.emplace_back(args.substr(0, sp), trim(args.substr(sp)));
    return out;
  }
  for (const auto& word : split(args, ' ')) {
    if (word.empty()) continue;
    auto eq = word.find('=');
    std::string v = eq == std::string::npos ? "" : word.substr(eq + 1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    out.emplace_back(word.substr(0, eq), v);
  }
  return out;
}

}  // namespace

Result<void> apply_changes(const std::vector<std::string>& changes, engine::ImageConfig& cfg) {
  for (const auto& raw : changes) {
    std::string line = trim(raw);
    if (line.empty()) continue;
    auto sp = line.find_first_of(" \t");
    std::string instr = line.substr(0, sp);
    std::string args = sp == std::string::npos ? "" : trim(line.substr(sp));
    for (auto& ch : instr) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    if (instr == "CMD") cfg.cmd = BERTH_TRY(command_form(args));
    else if (instr == "ENTRYPOINT") cfg.entrypoint = BERTH_TRY(command_form(args));
    else if (instr == "WORKDIR") cfg.working_dir = args;
    else if (instr == "USER") cfg.user = args;
    else if (instr == "STOPSIGNAL") cfg.stop_signal = args;
    else if (instr == "EXPOSE") {
      for (auto& p : split(args, ' '))
        if (!p.empty()) cfg.exposed_ports.push_back(p.find('/') == std::string::npos ? p + "/tcp" : p);
    } else if (instr == "ENV") {
      for (auto& [k, v] : key_values(args)) {
        std::erase_if(cfg.env, [&k](const std::string& e) { return starts_with(e, k + "="); });
        cfg.env.push_back(k + "=" + v);
      }
    } else if (instr == "LABEL") {
      for (auto& [k, v] : key_values(args)) cfg.labels[k] = v;
    } else if (instr == "VOLUME") {
      BERTH_TRY_VOID(add_volumes(args, cfg.volumes));
    } else {
      return Error::invalid("{} is not a valid change command", instr);
    }
  }
  return ok();
}

}  // namespace berth::ipc
