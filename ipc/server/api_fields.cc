// The API field table's enforcement (api_fields.h).
#include "ipc/server/api_fields.h"

#include <map>

#include "ipc/proto/http_types.h"

namespace berth::ipc {

namespace {

constexpr ApiField kFields[] = {
#include "ipc/server/api_fields.inc"
};

// "/containers/{id}/json" and "/containers/{}/json" compare equal.
std::string placeholder_free(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size(); i++) {
    if (path[i] == '{') {
      size_t end = path.find('}', i);
      if (end == std::string_view::npos) break;
      out += "{}";
      i = end;
      continue;
    }
    out += path[i];
  }
  return out;
}

using Index = std::map<std::pair<std::string, std::string>, const ApiField*>;

const Index& index() {
  static const Index ix = [] {
    Index m;
    for (const ApiField& f : kFields) {
      std::string scope(f.scope);
      if (scope.starts_with("query ")) {
        size_t sp = scope.find(' ', 6);
        scope = scope.substr(0, sp + 1) + placeholder_free(scope.substr(sp + 1));
      }
      m[{scope, std::string(f.field)}] = &f;
    }
    return m;
  }();
  return ix;
}

bool generically_unset(const Json& v) {
  if (v.is_null()) return true;
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number()) return v.get<double>() == 0;
  if (v.is_string()) return v.get<std::string>().empty();
  if (v.is_array()) return v.empty();
  if (v.is_object()) {
    for (const auto& [k, m] : v.items())
      if (!generically_unset(m)) return false;
    return true;
  }
  return false;
}

Error refused(const ApiField& f) {
  std::string_view scope = f.scope;
  if (scope.starts_with("query ")) return Error::invalid("berth does not support the query parameter {} of {}: {}", f.field, scope.substr(6), f.note);
  return Error::invalid("berth does not support {}.{}: {}", scope, f.field, f.note);
}

}  // namespace

std::span<const ApiField> api_fields() { return kFields; }

const ApiField* find_api_field(std::string_view scope, std::string_view field) {
  auto it = index().find({std::string(scope), std::string(field)});
  return it == index().end() ? nullptr : it->second;
}

bool field_is_set(const Json& v, const ApiField* f) {
  if (generically_unset(v)) return false;
  if (f && f->unset_json != "[]") {
    Json unset = Json::parse(f->unset_json, nullptr, false);
    for (const Json& u : unset)
      if (u == v) return false;
  }
  return true;
}

Result<void> check_fields(std::string_view scope, const Json& obj, std::vector<std::string>* warnings) {
  if (!obj.is_object()) return ok();
  for (const auto& [name, value] : obj.items()) {
    if (scope == "Config" && (name == "HostConfig" || name == "NetworkingConfig")) continue;
    const ApiField* f = find_api_field(scope, name);
    if (!field_is_set(value, f)) continue;
    if (!f) {
      // Not an API field at all (a client's own option serialized along,
      // like dockerode's `hijack`): no Docker daemon acts on it; berth says
      // so where the answer has Warnings.
      if (warnings) warnings->push_back(fmt::format("{}.{} is not a Docker Engine API field; ignored", scope, name));
      continue;
    }
    if (f->status == FieldStatus::kRefused) return refused(*f);
    if (f->status == FieldStatus::kWarned && warnings)
      warnings->push_back(fmt::format("{}.{}: {}", scope, name, f->note));
  }
  return ok();
}

Result<void> check_query(const Request& req, std::string_view pattern) {
  std::string scope = "query " + req.method + " " + placeholder_free(pattern);
  for (const auto& [k, v] : req.query) {
    auto it = index().find({scope, k});
    if (it == index().end()) continue;  // unknown query parameters are ignored, as Docker does
    const ApiField& f = *it->second;
    if (f.status != FieldStatus::kRefused) continue;
    // Docker's false: "", "0", "false", "no", "none", in any case.
    Json value = v;
    if (v == "0" || iequals(v, "false") || iequals(v, "no") || iequals(v, "none")) value = false;
    if (field_is_set(value, &f)) return refused(f);
  }
  return ok();
}

}  // namespace berth::ipc
