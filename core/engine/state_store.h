// The container state file, <root>/containers/<id>/config.v2.json: one JSON
// object holding the container's identity, CreateSpec (with the raw Config
// and HostConfig as received) and State. Written atomically (temp, rename)
// off the reactor thread; read once at daemon start.
//
// Not fsynced, on purpose: the failure this file must survive is a crash of
// berthd, and a crashed process loses nothing the kernel's page cache holds.
// A power loss can roll a container back to an earlier state (created rather
// than exited), which is harmless: every container is dead after a reboot.
// Three fsyncs per `run` cost ~1.5 ms here, a third of berth's start budget.
// Image metadata, which is expensive to rebuild, is fsynced (fs/).
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
