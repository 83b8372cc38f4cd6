// Networks and a container's place on them rendered as Docker API JSON:
// NetworkSettings (inspect), Ports and NetworkSettings.Networks (ps), a
// network's object (GET /networks, /networks/{id}). Reactor thread (they
// read engine state).
#pragma once

#include "core/engine/container.h"
#include "core/engine/networks.h"
#include "ipc/server/json_util.h"
#include "ipc/server/json_writer.h"

namespace berth::ipc {

// inspect's NetworkSettings: Ports (while running), the default bridge's
// top-level IPAddress, Gateway, MacAddress (as Docker fills them: only for
// the network "bridge"), and Networks{name: EndpointSettings}.
OrderedJson network_settings(const engine::NetworkService& n, const engine::Container& c);
// ps: [{"IP","PrivatePort","PublicPort","Type"}] and {"Networks": {...}}.
void write_summary_ports(JsonWriter& w, const engine::NetworkService& n, const engine::Container& c);
void write_summary_network_settings(JsonWriter& w, const engine::NetworkService& n, const engine::Container& c);
// inspect's ResolvConfPath, HostnamePath, HostsPath: "" for a container of
// another's network (container:<id>), as the files are that container's.
std::string etc_file_path(const engine::Container& c, const char* file);
// A network; `members` adds Containers{id: {Name, EndpointID, ...}}.
OrderedJson network_json(const engine::NetworkService& n, const engine::NetworkConfig& cfg, bool members);

}  // namespace berth::ipc
