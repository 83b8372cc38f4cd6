// Parses the bodies of POST /containers/{id}/exec (an ExecConfig) and POST
// /containers/{id}/update (the new limits), with Docker's messages (400s).
// Pure; any thread (the fuzz targets call them too, tests/fuzz).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/engine/container.h"
#include "core/base/result.h"
#include "core/engine/exec.h"

namespace berth::ipc {

Result<engine::ExecConfig> parse_exec_config(const std::string& body);

// The update body: the resource fields (parse_resources, create_request.h)
// and RestartPolicy (unset, or Name "": keep it), checked against the field
// table (api_fields.h); fields Docker only warns about go to `warnings`
// when given.
struct UpdateRequest {
  cgroups::Resources resources;
  std::optional<engine::RestartPolicy> restart;
};
Result<UpdateRequest> parse_update_request(const std::string& body, std::vector<std::string>* warnings = nullptr);

}  // namespace berth::ipc
