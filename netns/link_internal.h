// Names and helpers shared by link_bridge.cc and link_attach.cc (internal).
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::netns {

// "bl<tag>.<n>" (leaf bridge), "bd<tag>.<n>" (its uplink's root end),
// "bu<tag>.<n>" (its uplink's leaf end).
std::string leaf_name(std::string_view tag, unsigned n, std::string_view kind = "bl");
// n if `name` is "<kind><tag>.<n>" with n >= 1, else 0.
unsigned parse_leaf_number(std::string_view tag, std::string_view kind, std::string_view name);
// A link group number for one group deletion.
uint32_t next_delete_group();

}  // namespace berth::netns
