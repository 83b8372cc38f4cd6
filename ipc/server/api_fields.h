// What berth does with each request field and query parameter of the API
// (tools/api-fields.tsv, checked against the Docker Engine API spec and
// generated into api_fields.inc by tools/gen-api-fields; API_FIELDS.md is
// the same table to read): done, refused or warned. The server enforces it
// here, so no request field is accepted and silently ignored:
//   - a refused field or query parameter that is set gets 400 "berth does
//     not support <scope>.<field>: <why>";
//   - a warned one is accepted and reported in the answer's Warnings;
//   - a body member the API does not have at all (a client's own option,
//     like dockerode's `hijack`) is ignored, as every Docker daemon does,
//     with a warning where the answer has Warnings; query parameters the
//     API does not have are ignored too.
// "Set" means anything but null, false, 0, "", [], {} (an object whose
// members are all unset counts as unset) and the row's own unset values
// (e.g. MemorySwappiness -1, VolumeDriver "local").
//
// Pure; any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "ipc/proto/request.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

enum class FieldStatus { kDone, kRefused, kWarned };

struct ApiField {
  std::string_view scope;      // "HostConfig", "query GET /containers/json", ...
  std::string_view field;
  FieldStatus status;
  std::string_view type;       // the spec's: "string", "integer", "boolean", "array", "object"
  std::string_view unset_json; // a JSON array of the row's own unset values
  std::string_view note;
};

std::span<const ApiField> api_fields();
const ApiField* find_api_field(std::string_view scope, std::string_view field);

// Whether `v` is set, for `f` (nullptr: the generic rule only).
bool field_is_set(const Json& v, const ApiField* f);

// The members of `obj`, a JSON object of `scope` ("Config" is the create
// body's top level: its HostConfig and NetworkingConfig members are other
// scopes and skipped here). Appends warnings for warned fields that are set.
Result<void> check_fields(std::string_view scope, const Json& obj, std::vector<std::string>* warnings);

// The query of `req` on the route `pattern` ("/containers/{}/json"; any
// {..} segment matches the spec's {id} or {name}).
Result<void> check_query(const Request& req, std::string_view pattern);

}  // namespace berth::ipc
