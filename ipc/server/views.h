// Engine and image-store objects rendered as Docker API JSON (inspect, ps,
// images). Pure functions of their inputs; reactor thread (they read engine
// state).
#pragma once

#include <string>

#include "core/engine/container.h"
#include "core/engine/engine.h"
#include "fs/image_store.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

OrderedJson container_inspect(const engine::Container& c);
OrderedJson container_summary(const engine::Container& c);
// "Up 5 seconds", "Exited (137) 2 seconds ago", "Created".
std::string container_status_text(const engine::Container& c, int64_t now);
OrderedJson image_summary(const fs::Image& img);
OrderedJson image_inspect(const fs::Image& img);
// DELETE /images and prune: [{"Untagged":"busybox:latest"},{"Deleted":"sha256:…"}]
OrderedJson image_delete_items(const std::vector<engine::Engine::ImageDeleteItem>& items);
OrderedJson image_config_json(const fs::ImageConfig& cfg);

}  // namespace berth::ipc
