// Engine and image-store objects rendered as Docker API JSON (inspect, ps,
// images). Pure functions of their inputs; reactor thread (they read engine
// state).
#pragma once

#include <string>

#include "core/engine/container.h"
#include "core/engine/engine.h"
#include "core/engine/networks.h"
#include "core/engine/api_types.h"
#include "ipc/server/json_util.h"
#include "ipc/server/json_writer.h"

namespace berth::ipc {

OrderedJson container_inspect(const engine::Container& c, const engine::NetworkService& nets);
// ps's entry of a container, written to `w` (the list writes thousands);
// container_summary() is the same read back as a tree.
void write_container_summary(JsonWriter& w, const engine::Container& c, const engine::NetworkService& nets,
                             int64_t now);
OrderedJson container_summary(const engine::Container& c, const engine::NetworkService& nets);
// "Up 5 seconds", "Exited (137) 2 seconds ago", "Created".
std::string container_status_text(const engine::Container& c, int64_t now);
OrderedJson image_summary(const engine::Image& img);
OrderedJson image_inspect(const engine::Image& img);
// DELETE /images and prune: [{"Untagged":"busybox:latest"},{"Deleted":"sha256:…"}]
OrderedJson image_delete_items(const std::vector<engine::ImageDeleteItem>& items);
OrderedJson image_config_json(const engine::ImageConfig& cfg);

}  // namespace berth::ipc
