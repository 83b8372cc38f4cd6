// The engine's vocabulary for its callers: the image, filesystem-change and
// path types its verbs take and return, and the reference and config
// parsers the API needs to validate a request before it reaches a verb.
// They are fs/'s; ipc/server names them through this header so that it
// depends on the engine alone (tools/check-layers).
#pragma once

#include "fs/changes.h"
#include "fs/container_path.h"
#include "fs/image_config.h"
#include "fs/image_store.h"
#include "fs/reference.h"

namespace berth::engine {

using fs::Change;
using fs::go_file_mode;
using fs::Image;
using fs::ImageConfig;
using fs::LoadedImage;
using fs::parse_reference;
using fs::parse_runtime_config;
using fs::parse_tag_reference;
using fs::PathInfo;
using fs::Reference;
using fs::tree_file_bytes;

}  // namespace berth::engine
