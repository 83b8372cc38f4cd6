// JSON helpers for API responses. Pure; any thread.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace berth::ipc {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// A JSON string literal for `s` (quoted, escaped). Invalid UTF-8 is replaced.
std::string json_quote(std::string_view s);
// Parses a request body; an empty body is an empty object. Errors are
// kInvalidArgument with Docker's wording.
Result<Json> parse_body(const std::string& body);
// The depth bound parse_body() applies, for bodies parsed elsewhere (the
// commit's config): 400 "nested deeper than N levels".
Result<void> check_body_depth(const std::string& body);

}  // namespace berth::ipc
