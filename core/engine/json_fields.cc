#include "core/engine/json_fields.h"

namespace berth::engine {

using Json = nlohmann::json;

Result<std::vector<std::string>> str_slice(const Json& j, const char* field, bool* set) {
  std::vector<std::string> out;
  bool ignored;
  if (!set) set = &ignored;
  *set = false;
  if (!j.contains(field) || j[field].is_null()) return out;
  const Json& v = j[field];
  *set = true;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) return Error::invalid("invalid {}: expected an array of strings", field);
  for (const Json& e : v) {
    if (!e.is_string()) return Error::invalid("invalid {}: expected an array of strings", field);
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::string> str_field(const Json& j, const char* field) {
  if (!j.contains(field) || j[field].is_null()) return std::string();
  if (!j[field].is_string()) return Error::invalid("invalid {}: expected a string", field);
  return j[field].get<std::string>();
}

Result<bool> bool_field(const Json& j, const char* field, bool dflt) {
  if (!j.contains(field) || j[field].is_null()) return dflt;
  if (!j[field].is_boolean()) return Error::invalid("invalid {}: expected a boolean", field);
  return j[field].get<bool>();
}

}  // namespace berth::engine
