// Small JSON pieces of the Docker Engine API that both sides need, so that
// nlohmann::json stays inside ipc/proto: the `filters` query parameter and
// the {"message": "..."} error body. Pure functions; any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::ipc {

// Key → values, keys sorted, values sorted and unique.
using Filters = std::map<std::string, std::vector<std::string>>;

// Parses a decoded `filters` query value. Docker clients send
// {"name":{"x":true}} (key → {value: bool}; the bool is ignored, as dockerd
// does); older ones {"name":["x","y"]}. "" and "{}" give an empty map.
// Anything else → kInvalidArgument "invalid filters: …".
Result<Filters> parse_filters(std::string_view json);

// {"message":"<text>"}, JSON-escaped: the body of every API error.
std::string error_body(std::string_view message);

// The "message" of an API error body; the trimmed raw body when it is not a
// JSON object with a string "message" (e.g. a proxy's plain-text error).
std::string message_from_error_body(std::string_view body);

}  // namespace berth::ipc
