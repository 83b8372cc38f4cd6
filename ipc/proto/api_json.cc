#include "ipc/proto/api_json.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace berth::ipc {

namespace {

using nlohmann::json;

// json::parse without exceptions: a discarded value on any syntax error.
json parse_quietly(std::string_view text) {
  return json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
}

Result<std::vector<std::string>> filter_values(const std::string& key, const json& v) {
  std::vector<std::string> out;
  if (v.is_object()) {  // {"x": true}
    for (auto it = v.begin(); it != v.end(); ++it) out.push_back(it.key());
  } else if (v.is_array()) {  // ["x", "y"]
    for (const json& e : v) {
      if (!e.is_string()) return Error::invalid("invalid filters: values of {:?} must be strings", key);
      out.push_back(e.get<std::string>());
    }
  } else {
    return Error::invalid("invalid filters: {:?} must map to an object or an array", key);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

Result<Filters> parse_filters(std::string_view text) {
  Filters out;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;
  json j = parse_quietly(text);
  if (j.is_discarded()) return Error::invalid("invalid filters: not valid JSON: {:?}", text);
  if (!j.is_object()) return Error::invalid("invalid filters: expected a JSON object, got {:?}", text);
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::vector<std::string> values = BERTH_TRY(filter_values(it.key(), it.value()));
    out.emplace(it.key(), std::move(values));
  }
  return out;
}

std::string error_body(std::string_view message) {
  // Replace invalid UTF-8 instead of throwing (e.g. a path with odd bytes).
  return json{{"message", std::string(message)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string message_from_error_body(std::string_view body) {
  json j = parse_quietly(body);
  if (j.is_object()) {
    auto it = j.find("message");
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  size_t b = body.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = body.find_last_not_of(" \t\r\n");
  return std::string(body.substr(b, e - b + 1));
}

}  // namespace berth::ipc
