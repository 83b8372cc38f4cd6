// /volumes/...: create, list, inspect, remove, prune (Docker's local driver
// only). Volumes are the engine's (core/engine/volumes.h); this file maps
// the API's JSON and filters onto it.
#include <algorithm>

#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "ipc/proto/api_json.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/create_request.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

#include "ipc/server/api_fields.h"

#include "ipc/server/filters.h"

namespace berth::ipc {

namespace {

using engine::Volume;

// Docker's volume CreatedAt is RFC 3339 to the second.
std::string created_at(int64_t ns) {
  std::string t = format_rfc3339_nano(ns);
  auto dot = t.find('.');
  if (dot != std::string::npos) t.erase(dot, t.size() - 1 - dot);
  return t;
}

OrderedJson volume_json(const Volume& v) {
  return {{"CreatedAt", created_at(v.created_ns)},
          {"Driver", v.driver},
          {"Labels", v.labels},
          {"Mountpoint", v.data_dir()},
          {"Name", v.name},
          {"Options", v.options},
          {"Scope", "local"}};
}

Result<std::map<std::string, std::string>> string_map(const Json& body, const char* key) {
  std::map<std::string, std::string> out;
  if (!body.contains(key) || body[key].is_null()) return out;
  if (!body[key].is_object()) return Error::invalid("invalid {}: expected an object", key);
  for (auto& [k, v] : body[key].items()) {
    if (!v.is_string()) return Error::invalid("invalid {}.{}: expected a string", key, k);
    out[k] = v.get<std::string>();
  }
  return out;
}

// "key" or "key=value" against a volume's labels.
bool has_label(const Volume& v, const std::string& filter) { return labels_match(v.labels, {filter}); }

// Every value of `key` must hold (an absent key holds).
template <class Pred>
Result<bool> all_of(const Filters& f, const char* key, Pred pred) {
  auto it = f.find(key);
  if (it == f.end()) return true;
  for (const auto& v : it->second)
    if (!BERTH_TRY(pred(v))) return false;
  return true;
}

void volumes_create(Server& s, Connection& c, const Params&) {
  auto body = parse_body(c.body());
  if (!body) return c.respond_error(body.error());
  if (auto f = check_fields("VolumeCreate", *body, nullptr); !f) return c.respond_error(f.error());
  auto name = str_field(*body, "Name");
  auto driver = str_field(*body, "Driver");
  auto labels = string_map(*body, "Labels");
  auto opts = string_map(*body, "DriverOpts");
  if (!name || !driver || !labels || !opts)
    return c.respond_error(!name ? name.error() : !driver ? driver.error() : !labels ? labels.error() : opts.error());
  s.engine().volumes().create(*name, *driver, *labels, *opts, [&s, serial = c.serial()](Result<Volume> v) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!v) return conn->respond_error(v.error());
    conn->respond(201, volume_json(*v).dump());
  });
}

Result<bool> list_match(engine::Engine& e, const Volume& v, const Filters& f) {
  bool in_use = e.volumes().store().in_use(v.name);
  bool ok_name = BERTH_TRY(all_of(f, "name", [&](const std::string& n) -> Result<bool> {
    return v.name.find(n) != std::string::npos;
  }));
  bool ok_dangling = BERTH_TRY(all_of(f, "dangling", [&](const std::string& d) -> Result<bool> {
    return BERTH_TRY(filter_bool("dangling", d)) == !in_use;
  }));
  bool ok_driver = BERTH_TRY(all_of(f, "driver", [&](const std::string& d) -> Result<bool> { return d == v.driver; }));
  bool ok_label = BERTH_TRY(all_of(f, "label", [&](const std::string& l) -> Result<bool> { return has_label(v, l); }));
  return ok_name && ok_dangling && ok_driver && ok_label;
}

void volumes_list(Server& s, Connection& c, const Params&) {
  auto f = request_filters(c.request(), {"name", "dangling", "driver", "label"});
  if (!f) return c.respond_error(f.error());
  OrderedJson arr = OrderedJson::array();
  for (const auto& [name, v] : s.engine().volumes().store().all()) {
    auto match = list_match(s.engine(), v, *f);
    if (!match) return c.respond_error(match.error());
    if (*match) arr.push_back(volume_json(v));
  }
  OrderedJson out = {{"Volumes", arr}, {"Warnings", nullptr}};
  c.respond(200, out.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void volumes_inspect(Server& s, Connection& c, const Params& p) {
  std::optional<Volume> v = s.engine().volumes().store().find(p[0]);
  if (!v) return c.respond_error(Error::not_found("get {}: no such volume", p[0]));
  c.respond(200, volume_json(*v).dump(-1, ' ', false, Json::error_handler_t::replace));
}

void volumes_remove(Server& s, Connection& c, const Params& p) {
  auto force = c.request().query_bool("force", false);
  if (!force) return c.respond_error(force.error());
  s.engine().volumes().remove(p[0], *force, [&s, serial = c.serial()](Result<void> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    conn->respond_empty(204);
  });
}

// API < 1.42 pruned every unused volume; 1.42 added the `all` filter and
// made anonymous ones the default.
bool old_api(const std::string& version) {
  auto parts = split(version, '.');
  if (parts.size() != 2) return false;
  auto major = parse_int(parts[0]), minor = parse_int(parts[1]);
  return major && minor && (*major * 1000 + *minor) < 1042;
}

Result<bool> prune_match(const Volume& v, const Filters& f, bool all) {
  if (!all && !v.anonymous()) return false;
  bool with = BERTH_TRY(all_of(f, "label", [&](const std::string& l) -> Result<bool> { return has_label(v, l); }));
  bool without = BERTH_TRY(all_of(f, "label!", [&](const std::string& l) -> Result<bool> { return !has_label(v, l); }));
  return with && without;
}

void volumes_prune(Server& s, Connection& c, const Params&) {
  auto f = request_filters(c.request(), {"all", "label", "label!"});
  if (!f) return c.respond_error(f.error());
  bool all = old_api(c.request().api_version);
  if (auto it = f->find("all"); it != f->end())
    for (const auto& v : it->second) {
      auto b = filter_bool("all", v);
      if (!b) return c.respond_error(b.error());
      all = *b;
    }
  std::vector<std::string> names;
  for (const auto& [name, v] : s.engine().volumes().store().all()) {
    if (s.engine().volumes().store().in_use(name)) continue;
    auto match = prune_match(v, *f, all);
    if (!match) return c.respond_error(match.error());
    if (*match) names.push_back(name);
  }
  s.engine().volumes().prune(names, [&s, serial = c.serial()](engine::VolumeService::PruneReport r) {
    s.engine().volumes().emit("", "prune", {{"reclaimed", std::to_string(r.bytes)}});
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    OrderedJson out = {{"VolumesDeleted", r.deleted}, {"SpaceReclaimed", r.bytes}};
    conn->respond(200, out.dump());
  });
}

}  // namespace

void add_volume_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/volumes/create", volumes_create});
  r.push_back({"POST", "/volumes/prune", volumes_prune});
  r.push_back({"GET", "/volumes", volumes_list});
  r.push_back({"GET", "/volumes/{}", volumes_inspect});
  r.push_back({"DELETE", "/volumes/{}", volumes_remove});
}

}  // namespace berth::ipc
