#include "ipc/server/json_util.h"

#include "core/base/json_depth.h"

namespace berth::ipc {

std::string json_quote(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<void> check_body_depth(const std::string& body) {
  if (!json_depth_ok(body))
    return Error::invalid("invalid JSON in request body: nested deeper than {} levels", kMaxJsonDepth);
  return ok();
}

Result<Json> parse_body(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  BERTH_TRY_VOID(check_body_depth(body));
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) return Error::invalid("invalid JSON in request body");
  if (!j.is_object()) return Error::invalid("invalid JSON: request body must be an object");
  return j;
}

}  // namespace berth::ipc
