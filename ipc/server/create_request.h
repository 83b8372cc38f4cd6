// Parses the body of POST /containers/create into an engine::CreateSpec,
// validating types with Docker-style messages. Pure; any thread.
#pragma once

#include <string>

#include "core/base/result.h"
#include "core/engine/container.h"

namespace berth::ipc {

Result<engine::CreateSpec> parse_create_request(const std::string& body, const std::string& name);

}  // namespace berth::ipc
