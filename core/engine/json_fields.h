// Typed fields of a Docker API JSON object, with Docker-style messages:
// the request parsers of ipc/server and the security options of the engine
// (security_options.h) read Config and HostConfig through these. Pure; any
// thread.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace berth::engine {

// Docker's StrSlice: null or absent (empty, *set false; set may be null), a string, or an
// array of strings.
Result<std::vector<std::string>> str_slice(const nlohmann::json& j, const char* field, bool* set);
// A string field ("" when null or absent) and a boolean one (`dflt` then);
// other types are 400s naming the field.
Result<std::string> str_field(const nlohmann::json& j, const char* field);
Result<bool> bool_field(const nlohmann::json& j, const char* field, bool dflt);

}  // namespace berth::engine
