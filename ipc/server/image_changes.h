// Dockerfile-style `changes` for import and commit: CMD, ENTRYPOINT, ENV,
// WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL, VOLUME applied to an image config.
// Pure; any thread.
#pragma once

#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/engine/api_types.h"

namespace berth::ipc {

Result<void> apply_changes(const std::vector<std::string>& changes, engine::ImageConfig& cfg);

}  // namespace berth::ipc
