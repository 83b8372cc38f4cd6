// The route table: method + path pattern → handler. Handlers live in
// handlers_<group>.cc and answer through the Connection (now or later).
// Thread: reactor thread only.
#pragma once

#include <string>
#include <vector>

namespace berth::ipc {

class Server;
class Connection;

using Params = std::vector<std::string>;
using Handler = void (*)(Server&, Connection&, const Params&);

struct Route {
  const char* method;
  const char* pattern;  // "/containers/{}/json"; "{*}" matches one or more segments (image names)
  Handler handler;
};

void route(Server& s, Connection& c);
// Matches `path` against `pattern`, filling params. Exposed for unit tests.
bool match_route(const std::string& pattern, const std::string& path, Params* params);

// Handler groups.
void add_system_routes(std::vector<Route>& r);
void add_container_routes(std::vector<Route>& r);
void add_image_routes(std::vector<Route>& r);
void add_log_routes(std::vector<Route>& r);
void add_resource_routes(std::vector<Route>& r);
void add_event_routes(std::vector<Route>& r);
void add_exec_routes(std::vector<Route>& r);
void add_changes_routes(std::vector<Route>& r);   // diff, commit, export
void add_volume_routes(std::vector<Route>& r);
void add_prune_routes(std::vector<Route>& r);     // image/container prune, system df
void add_archive_routes(std::vector<Route>& r);   // cp: HEAD/GET/PUT /containers/{id}/archive
void add_network_routes(std::vector<Route>& r);   // /networks: create ls inspect rm connect disconnect prune
void add_registry_routes(std::vector<Route>& r);  // push, auth (pull: handlers_images.cc)

}  // namespace berth::ipc
