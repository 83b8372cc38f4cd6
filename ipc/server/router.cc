#include "ipc/server/router.h"

#include "ipc/server/api_fields.h"

#include "core/base/strings.h"
#include "ipc/proto/url.h"
#include "ipc/server/connection.h"
#include "ipc/server/server.h"

namespace berth::ipc {

namespace {

const std::vector<Route>& routes() {
  static const std::vector<Route> table = [] {
    std::vector<Route> r;
    add_system_routes(r);
    add_container_routes(r);
    add_image_routes(r);
    add_log_routes(r);
    add_resource_routes(r);
    add_event_routes(r);
    add_exec_routes(r);
    add_changes_routes(r);
    add_volume_routes(r);
    add_prune_routes(r);
    add_archive_routes(r);
    add_network_routes(r);
    add_registry_routes(r);
    return r;
  }();
  return table;
}

// A version above ours is refused like dockerd does; below the minimum too.
bool version_ok(const std::string& v, std::string* msg) {
  if (v.empty()) return true;
  auto parts = split(v, '.');
  auto mj = parse_int(parts[0]);
  auto mn = parts.size() > 1 ? parse_int(parts[1]) : std::optional<int64_t>(0);
  if (!mj || !mn) {
    *msg = fmt::format("invalid API version: {}", v);
    return false;
  }
  int64_t n = *mj * 1000 + *mn;
  if (n > 1050) {
    *msg = fmt::format("client version {} is too new. Maximum supported API version is {}", v, kApiVersion);
    return false;
  }
  if (n < 1024) {
    *msg = fmt::format("client version {} is too old. Minimum supported API version is {}, please upgrade your client to a newer version", v, kMinApiVersion);
    return false;
  }
  return true;
}

}  // namespace

// The request target's path, still percent-encoded, without the /v1.NN
// prefix: routes split on '/' before decoding, so an encoded "%2F" (a name
// typed as "/web") stays inside its segment.
static std::string raw_path(const Request& req) {
  std::string_view t = req.target;
  t = t.substr(0, t.find('?'));
  if (t.size() > 3 && t.substr(0, 3) == "/v1") {
    size_t slash = t.find('/', 1);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  return std::string(t);
}

bool match_route(const std::string& pattern, const std::string& path, Params* params) {
  auto pp = split(pattern, '/');
  auto sp = split(path, '/');
  params->clear();
  size_t i = 0, j = 0;
  for (; i < pp.size(); i++, j++) {
    if (j >= sp.size()) return false;
    if (pp[i] == "{}") {
      auto seg = path_decode(sp[j]);
      if (!seg || seg->empty()) return false;
      params->push_back(*seg);
    } else if (pp[i] == "{*}") {
      // Greedy but leaves room for the remaining pattern segments.
      size_t rest = pp.size() - i - 1;
      if (sp.size() < j + 1 + rest) return false;
      size_t end = sp.size() - rest;
      std::string joined;
      for (size_t k = j; k < end; k++) {
        auto seg = path_decode(sp[k]);
        if (!seg) return false;
        joined += (k > j ? "/" : "") + *seg;
      }
      if (joined.empty()) return false;
      params->push_back(joined);
      j = end - 1;
    } else if (pp[i] != sp[j]) {
      return false;
    }
  }
  return j == sp.size();
}

void route(Server& s, Connection& c) {
  const Request& req = c.request();
  std::string msg;
  if (!version_ok(req.api_version, &msg)) return c.respond_error(Error::invalid("{}", msg));
  std::string path = raw_path(req);
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  Params params;
  bool path_known = false;
  for (const Route& r : routes()) {
    if (!match_route(r.pattern, path, &params)) continue;
    path_known = true;
    if (req.method == r.method || (req.method == "HEAD" && std::string_view(r.method) == "GET")) {
      if (auto q = check_query(req, r.pattern); !q) return c.respond_error(q.error());
      return r.handler(s, c, params);
    }
  }
  if (path_known) return c.respond(405, "{\"message\":\"method not allowed\"}\n");
  c.respond(404, "{\"message\":\"page not found\"}\n");
}

}  // namespace berth::ipc
