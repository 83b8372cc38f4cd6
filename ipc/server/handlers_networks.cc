// /networks/...: create, list, inspect, remove, connect, disconnect, prune
// (Docker's bridge driver; host and null are the predefined networks).
// The networks are the engine's (core/engine/networks.h); this file maps
// the API's JSON and filters onto them.
#include <algorithm>

#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/networks.h"
#include "ipc/proto/api_json.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/create_request.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/json_util.h"
#include "ipc/server/network_views.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

namespace berth::ipc {

namespace {

using engine::NetworkConfig;

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

// A field berth cannot act on must be absent, null, false or empty.
Result<void> refuse(const Json& body, const char* field, std::string_view what) {
  if (!body.contains(field)) return ok();
  const Json& v = body[field];
  if (v.is_null() || (v.is_boolean() && !v.get<bool>()) || ((v.is_object() || v.is_array() || v.is_string()) && v.empty()))
    return ok();
  return Error::invalid("{} ({}) is not supported by berth", what, field);
}

Result<void> parse_ipam(const Json& body, engine::NetworkCreate& req) {
  if (!body.contains("IPAM") || body["IPAM"].is_null()) return ok();
  const Json& ipam = body["IPAM"];
  if (!ipam.is_object()) return Error::invalid("invalid IPAM: expected an object");
  std::string driver = BERTH_TRY(str_field(ipam, "Driver"));
  if (!driver.empty() && driver != "default") return Error::not_found("plugin \"{}\" not found", driver);
  BERTH_TRY_VOID(refuse(ipam, "Options", "IPAM options"));
  if (!ipam.contains("Config") || ipam["Config"].is_null()) return ok();
  if (!ipam["Config"].is_array()) return Error::invalid("invalid IPAM.Config: expected an array");
  for (const Json& c : ipam["Config"]) {
    if (!c.is_object()) return Error::invalid("invalid IPAM.Config: expected objects");
    std::string subnet = BERTH_TRY(str_field(c, "Subnet"));
    if (subnet.find(':') != std::string::npos)
      return Error::invalid("invalid subnet {}: IPv6 networks are not supported", subnet);
    if (!req.subnet.empty()) return Error::invalid("berth networks have one IPv4 subnet; {} is a second", subnet);
    req.subnet = subnet;
    req.ip_range = BERTH_TRY(str_field(c, "IPRange"));
    req.gateway = BERTH_TRY(str_field(c, "Gateway"));
    BERTH_TRY_VOID(refuse(c, "AuxiliaryAddresses", "auxiliary addresses"));
  }
  return ok();
}

Result<engine::NetworkCreate> parse_create(const std::string& text) {
  Json body = BERTH_TRY(parse_body(text));
  engine::NetworkCreate req;
  req.name = BERTH_TRY(str_field(body, "Name"));
  if (req.name.empty()) return Error::invalid("network name is required");
  req.driver = BERTH_TRY(str_field(body, "Driver"));
  req.internal = BERTH_TRY(bool_field(body, "Internal", false));
  req.attachable = BERTH_TRY(bool_field(body, "Attachable", false));
  req.labels = BERTH_TRY(string_map(body, "Labels"));
  req.options = BERTH_TRY(string_map(body, "Options"));
  std::string scope = BERTH_TRY(str_field(body, "Scope"));
  if (!scope.empty() && scope != "local") return Error::invalid("network scope {} is not supported by berth", scope);
  BERTH_TRY_VOID(refuse(body, "EnableIPv6", "IPv6"));
  BERTH_TRY_VOID(refuse(body, "Ingress", "an ingress network"));
  BERTH_TRY_VOID(refuse(body, "ConfigOnly", "a config-only network"));
  if (body.contains("ConfigFrom") && body["ConfigFrom"].is_object())
    BERTH_TRY_VOID(refuse(body["ConfigFrom"], "Network", "a network made from another's config"));
  if (body.contains("EnableIPv4") && body["EnableIPv4"].is_boolean() && !body["EnableIPv4"].get<bool>())
    return Error::invalid("a network without IPv4 (EnableIPv4) is not supported by berth");
  BERTH_TRY_VOID(parse_ipam(body, req));
  return req;
}

void networks_create(Server& s, Connection& c, const Params&) {
  auto req = parse_create(c.body());
  if (!req) return c.respond_error(req.error());
  s.engine().networks().create(std::move(*req), [&s, serial = c.serial()](Result<std::string> id) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!id) return conn->respond_error(id.error());
    conn->respond(201, OrderedJson{{"Id", *id}, {"Warning", ""}}.dump());
  });
}

bool has_label(const NetworkConfig& n, const std::string& filter) {
  auto eq = filter.find('=');
  auto it = n.labels.find(filter.substr(0, eq));
  return it != n.labels.end() && (eq == std::string::npos || it->second == filter.substr(eq + 1));
}

Result<Filters> request_filters(const Request& req, std::initializer_list<const char*> allowed) {
  Filters f;
  if (auto raw = req.query_value("filters"); raw && !raw->empty()) f = BERTH_TRY(parse_filters(*raw));
  for (const auto& [key, values] : f)
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) == allowed.end())
      return Error::invalid("invalid filter '{}'", key);
  return f;
}

// Every key's values are alternatives (any may hold); every key must hold.
Result<bool> list_match(engine::NetworkService& ns, const NetworkConfig& n, const Filters& f) {
  for (const auto& [key, values] : f) {
    bool any = values.empty();
    for (const auto& v : values) {
      if (key == "name") any = any || n.name.find(v) != std::string::npos;
      else if (key == "id") any = any || starts_with(n.id, v);
      else if (key == "driver") any = any || n.driver == v;
      else if (key == "label") any = any || has_label(n, v);
      else if (key == "scope") any = any || v == "local";
      else if (key == "type") {
        if (v != "custom" && v != "builtin") return Error::invalid("invalid filter: 'type'='{}'", v);
        any = any || (v == "builtin") == n.predefined();
      } else if (key == "dangling") {
        if (v != "true" && v != "false" && v != "1" && v != "0") return Error::invalid("invalid filter 'dangling={}'", v);
        bool want = v == "true" || v == "1";
        any = any || (!n.predefined() && !ns.in_use(n.id)) == want;
      }
    }
    if (!any) return false;
  }
  return true;
}

void networks_list(Server& s, Connection& c, const Params&) {
  auto f = request_filters(c.request(), {"name", "id", "driver", "label", "scope", "type", "dangling"});
  if (!f) return c.respond_error(f.error());
  OrderedJson arr = OrderedJson::array();
  auto& ns = s.engine().networks();
  for (const NetworkConfig* n : ns.list()) {
    auto match = list_match(ns, *n, *f);
    if (!match) return c.respond_error(match.error());
    if (*match) arr.push_back(network_json(ns, *n, false));
  }
  c.respond(200, arr.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void networks_inspect(Server& s, Connection& c, const Params& p) {
  auto verbose = c.request().query_bool("verbose", false);
  if (!verbose) return c.respond_error(verbose.error());
  if (*verbose) return c.respond_error(Error::invalid("verbose network inspect (swarm services) is not supported"));
  auto n = s.engine().networks().find(p[0]);
  if (!n) return c.respond_error(n.error());
  c.respond(200, network_json(s.engine().networks(), **n, true).dump(-1, ' ', false, Json::error_handler_t::replace));
}

void networks_remove(Server& s, Connection& c, const Params& p) {
  s.engine().networks().remove(p[0], reply(s, c, 204));
}

void connect(Server& s, Connection& c, const Params& p) {
  auto body = parse_body(c.body());
  if (!body) return c.respond_error(body.error());
  auto ref = str_field(*body, "Container");
  if (!ref) return c.respond_error(ref.error());
  Json cfg = body->contains("EndpointConfig") ? (*body)["EndpointConfig"] : Json();
  auto ep = engine::parse_endpoint_settings(cfg, p[0]);
  if (!ep) return c.respond_error(ep.error());
  engine::Container* ct = find_or_respond(s, c, *ref);
  if (!ct) return;
  s.engine().networks().connect(p[0], *ct, std::move(*ep), reply(s, c, 200));
}

void disconnect(Server& s, Connection& c, const Params& p) {
  auto body = parse_body(c.body());
  if (!body) return c.respond_error(body.error());
  auto ref = str_field(*body, "Container");
  auto force = bool_field(*body, "Force", false);
  if (!ref || !force) return c.respond_error(!ref ? ref.error() : force.error());
  engine::Container* ct = find_or_respond(s, c, *ref);
  if (!ct) return;
  s.engine().networks().disconnect(p[0], *ct, *force, reply(s, c, 200));
}

void networks_prune(Server& s, Connection& c, const Params&) {
  auto f = request_filters(c.request(), {"until", "label", "label!"});
  if (!f) return c.respond_error(f.error());
  int64_t until = 0;
  if (auto it = f->find("until"); it != f->end())
    for (const auto& v : it->second) {
      auto t = parse_unix_timestamp_ns(v);
      if (!t) return c.respond_error(Error::invalid("invalid filter 'until={}'", v));
      until = *t;
    }
  std::vector<std::string> ids;
  for (const NetworkConfig* n : s.engine().networks().list()) {
    if (n->predefined()) continue;
    if (until && n->created_ns >= until) continue;
    bool ok_ = true;
    if (auto it = f->find("label"); it != f->end())
      for (const auto& l : it->second) ok_ = ok_ && has_label(*n, l);
    if (auto it = f->find("label!"); it != f->end())
      for (const auto& l : it->second) ok_ = ok_ && !has_label(*n, l);
    if (ok_) ids.push_back(n->id);
  }
  s.engine().networks().prune(std::move(ids), [&s, serial = c.serial()](Result<std::vector<std::string>> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    conn->respond(200, OrderedJson{{"NetworksDeleted", *r}}.dump());
  });
}

}  // namespace

void add_network_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/networks/create", networks_create});
  r.push_back({"POST", "/networks/prune", networks_prune});
  r.push_back({"GET", "/networks", networks_list});
  r.push_back({"GET", "/networks/{}", networks_inspect});
  r.push_back({"DELETE", "/networks/{}", networks_remove});
  r.push_back({"POST", "/networks/{}/connect", connect});
  r.push_back({"POST", "/networks/{}/disconnect", disconnect});
}

}  // namespace berth::ipc
