// A container's SecurityRequest (security_request.h) in its state file
// (state_store.h): the "security" object of the spec. Written as what the
// client asked for, normalized (capability names and the resulting set,
// the seccomp profile's text as given, devices as mappings: they are
// resolved on the host at each start, ulimits by name, device rules in
// the devices.allow syntax); read back into the same value.
//
// A state file from before this object existed (no "security") reads as
// Docker's defaults, which is what such a container ran with.
//
// Pure; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/engine/security_request.h"

namespace berth::engine {

nlohmann::json security_to_state(const SecurityRequest& r);
// kCorrupt when a field has the wrong type or a stored profile, rule or
// ulimit name no longer parses.
Result<SecurityRequest> security_from_state(const nlohmann::json& j);

}  // namespace berth::engine
