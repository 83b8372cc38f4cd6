// The container state file, <root>/containers/<id>/config.v2.json: one JSON
// object holding the container's identity, CreateSpec (with the raw Config
// and HostConfig as received) and State. Written atomically (temp, fsync,
// rename) off the reactor thread; read once at daemon start.
// Pure functions; any thread.
#pragma once

#include <memory>
#include <string>

#include "core/base/result.h"
#include "core/engine/container.h"

namespace berth::engine {

inline constexpr const char* kStateFile = "config.v2.json";

std::string encode_container(const Container& c);
Result<std::unique_ptr<Container>> decode_container(const std::string& json);

}  // namespace berth::engine
