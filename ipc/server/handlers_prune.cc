// POST /images/prune, POST /containers/prune and GET /system/df: filters
// and Docker's JSON shapes around the engine's prune and disk-usage calls.
#include <algorithm>

#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "ipc/proto/api_json.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"
#include "ipc/server/views.h"

#include "ipc/server/filters.h"

namespace berth::ipc {

namespace {

using engine::Engine;

// Docker's prune filters: until (timestamp or duration before now), label,
// label! and, for images, dangling.
Result<engine::PruneFilters> prune_filters(const Request& req, bool images) {
  engine::PruneFilters pf;
  Filters f;
  if (auto raw = req.query_value("filters"); raw && !raw->empty()) f = BERTH_TRY(parse_filters(*raw));
  for (const auto& [key, values] : f) {
    for (const std::string& v : values) {
      if (key == "until") {
        auto ts = parse_until_ns(v);
        if (!ts) return Error::invalid("invalid filter 'until={}'", v);
        pf.until_ns = *ts;
      } else if (key == "label" || key == "label!") {
        auto eq = v.find('=');
        auto& m = key == "label" ? pf.labels : pf.not_labels;
        m[v.substr(0, eq)] = eq == std::string::npos ? "" : v.substr(eq + 1);
      } else if (key == "dangling" && images) {
        if (v == "true" || v == "1") pf.dangling_only = true;
        else if (v == "false" || v == "0") pf.dangling_only = false;
        else return Error::invalid("invalid filter 'dangling={}'", v);
      } else {
        return Error::invalid("invalid filter '{}'", key);
      }
    }
  }
  return pf;
}

void prune_images(Server& s, Connection& c, const Params&) {
  auto f = prune_filters(c.request(), true);
  if (!f) return c.respond_error(f.error());
  uint64_t serial = c.serial();
  s.engine().images().prune(*f, [&s, serial](Result<engine::PruneReport> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    OrderedJson out{{"ImagesDeleted", r->images.empty() ? OrderedJson(nullptr) : image_delete_items(r->images)},
                    {"SpaceReclaimed", r->bytes}};
    conn->respond(200, out.dump());
  });
}

void prune_containers(Server& s, Connection& c, const Params&) {
  auto f = prune_filters(c.request(), false);
  if (!f) return c.respond_error(f.error());
  uint64_t serial = c.serial();
  s.engine().prune(*f, [&s, serial](Result<engine::PruneReport> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    std::sort(r->containers.begin(), r->containers.end());
    OrderedJson out{{"ContainersDeleted", r->containers.empty() ? OrderedJson(nullptr) : OrderedJson(r->containers)},
                    {"SpaceReclaimed", r->bytes}};
    conn->respond(200, out.dump());
  });
}

OrderedJson df_json(Server& s, const engine::ImageService::DiskUsage& du) {
  OrderedJson images = OrderedJson::array();
  for (const engine::Image& img : du.images) {
    OrderedJson j = image_summary(img);
    auto n = du.image_containers.find(img.id);
    j["Containers"] = n == du.image_containers.end() ? 0 : n->second;
    images.push_back(std::move(j));
  }
  OrderedJson containers = OrderedJson::array();
  for (const auto& [id, c] : s.engine().containers()) {
    OrderedJson j = container_summary(*c);
    auto rw = du.container_rw_bytes.find(id);
    j["SizeRw"] = rw == du.container_rw_bytes.end() ? 0 : rw->second;
    auto img = std::find_if(du.images.begin(), du.images.end(), [&](const engine::Image& i) { return i.id == c->image_id; });
    j["SizeRootFs"] = j["SizeRw"].get<int64_t>() + (img == du.images.end() ? 0 : img->size_bytes);
    containers.push_back(std::move(j));
  }
  OrderedJson volumes = OrderedJson::array();
  for (const auto& [name, v] : s.engine().volumes().store().all()) {
    auto size = du.volume_bytes.find(name);
    auto refs = du.volume_refs.find(name);
    volumes.push_back({{"CreatedAt", format_rfc3339_nano(v.created_ns)},
                       {"Driver", v.driver},
                       {"Labels", v.labels},
                       {"Mountpoint", v.data_dir()},
                       {"Name", name},
                       {"Options", v.options},
                       {"Scope", "local"},
                       {"UsageData",
                        {{"Size", size == du.volume_bytes.end() ? -1 : size->second},
                         {"RefCount", refs == du.volume_refs.end() ? 0 : refs->second}}}});
  }
  return {{"LayersSize", du.layers_bytes},
          {"Images", std::move(images)},
          {"Containers", std::move(containers)},
          {"Volumes", std::move(volumes)},
          {"BuildCache", OrderedJson::array()}};
}

void system_df(Server& s, Connection& c, const Params&) {
  uint64_t serial = c.serial();
  s.engine().images().disk_usage([&s, serial](Result<engine::ImageService::DiskUsage> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    conn->respond(200, df_json(s, *r).dump(-1, ' ', false, OrderedJson::error_handler_t::replace));
  });
}

}  // namespace

void add_prune_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/images/prune", prune_images});
  r.push_back({"POST", "/containers/prune", prune_containers});
  r.push_back({"GET", "/system/df", system_df});
}

}  // namespace berth::ipc
