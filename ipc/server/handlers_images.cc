// /images/...: import (create?fromSrc=-), list, inspect, tag, remove,
// history, save (get) and load. Pull (create?fromImage=) and push:
// handlers_registry.cc. Prune and df: handlers_prune.cc.
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/api_types.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/image_changes.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"
#include "ipc/server/views.h"

#include "ipc/server/filters.h"

namespace berth::ipc {

void pull_image(Server& s, Connection& c);  // handlers_registry.cc

namespace {

void import(Server& s, Connection& c) {
  const Request& req = c.request();
  if (!req.query_value("platform").value_or("").empty())
    return c.respond_error(Error::invalid("import: platform is not supported (an imported image has the host's platform)"));
  std::string repo = req.query_value("repo").value_or("");
  std::string tag = req.query_value("tag").value_or("");
  if (!repo.empty() && !tag.empty()) repo += ":" + tag;
  engine::ImageConfig changes;
  auto applied = apply_changes(req.query_values("changes"), changes);
  if (!applied) return c.respond_error(applied.error());
  std::string tar = c.upload_path();
  uint64_t serial = c.serial();
  // The engine deletes the upload file when the import ends.
  s.engine().images().import(tar, repo, changes, req.query_value("message").value_or(""),
                          [&s, serial](Result<engine::Image> r) {
                            Connection* conn = s.lookup(serial);
                            if (!conn) return;
                            if (!r) return conn->respond_error(r.error());
                            conn->respond(200, fmt::format("{{\"status\":{}}}\n", json_quote(r->id)));
                          });
}

void images_create(Server& s, Connection& c, const Params&) {
  const Request& req = c.request();
  if (req.query_value("fromSrc").value_or("") == "-") return import(s, c);
  if (req.query_value("fromSrc")) return c.respond_error(Error::invalid("importing from a URL is not supported; use fromSrc=-"));
  std::string image = req.query_value("fromImage").value_or("");
  if (image.empty()) return c.respond_error(Error::invalid("fromImage or fromSrc is required"));
  pull_image(s, c);  // handlers_registry.cc
}

void images_list(Server& s, Connection& c, const Params&) {
  auto filter = ImageFilter::make(s.engine(), c.request());
  if (!filter) return c.respond_error(filter.error());
  auto images = s.engine().images().store().list();
  std::sort(images.begin(), images.end(), [](auto& a, auto& b) { return a.created_ns > b.created_ns; });
  OrderedJson arr = OrderedJson::array();
  for (const auto& img : images)
    if (filter->match(img.id, img.repo_tags, img.created_ns, img.config.labels)) arr.push_back(image_summary(img));
  c.respond(200, arr.dump());
}

void images_inspect(Server& s, Connection& c, const Params& p) {
  auto img = s.engine().images().store().resolve(p[0]);
  if (!img) return c.respond_error(img.error());
  c.respond(200, image_inspect(*img).dump(-1, ' ', false, Json::error_handler_t::replace));
}

// docker tag: 400 for a bad repo/tag, 404 for an unknown image, else 201.
void tag(Server& s, Connection& c, const Params& p) {
  const Request& req = c.request();
  std::string repo = req.query_value("repo").value_or("");
  std::string tag = req.query_value("tag").value_or("");
  if (repo.empty()) return c.respond_error(Error::invalid("repository name (repo) is required"));
  auto parsed = engine::parse_reference(repo);
  if (!parsed) return c.respond_error(parsed.error());
  if (!parsed->digest.empty()) return c.respond_error(Error::invalid("refusing to create a tag with a digest reference"));
  auto target = engine::parse_tag_reference(tag.empty() ? repo : parsed->familiar_name() + ":" + tag);
  if (!target) return c.respond_error(target.error());
  s.engine().images().tag(p[0], target->familiar_string(), reply(s, c, 201));
}

void images_remove(Server& s, Connection& c, const Params& p) {
  auto force = c.request().query_bool("force", false);
  if (!force) return c.respond_error(force.error());
  uint64_t serial = c.serial();
  s.engine().images().remove(p[0], *force, [&s, serial](Result<std::vector<engine::ImageDeleteItem>> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    conn->respond(200, image_delete_items(*r).dump());
  });
}

void history(Server& s, Connection& c, const Params& p) {
  uint64_t serial = c.serial();
  s.engine().images().history(p[0], [&s, serial](Result<std::vector<engine::ImageService::HistoryItem>> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    OrderedJson arr = OrderedJson::array();
    for (const auto& h : *r)
      arr.push_back({{"Id", h.id},
                     {"Created", h.created_s},
                     {"CreatedBy", h.created_by},
                     {"Tags", h.tags.empty() ? OrderedJson(nullptr) : OrderedJson(h.tags)},
                     {"Size", h.size_bytes},
                     {"Comment", h.comment}});
    conn->respond(200, arr.dump(-1, ' ', false, OrderedJson::error_handler_t::replace));
  });
}

// Save pieces are made only while less than this waits for the client.
constexpr size_t kSaveHighWater = 4 << 20;

void save_names(Server& s, Connection& c, std::vector<std::string> names) {
  uint64_t serial = c.serial();
  auto started = std::make_shared<bool>(false);
  s.engine().images().save(names, [&s, serial, started](Result<std::string> data, bool last, std::function<void()> more) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;  // the client left: dropping `more` ends the save
    if (!data) {
      if (!*started) return conn->respond_error(data.error());
      // Mid-stream: cut the body short so the client sees a truncated tar.
      log::error("api", "save: {}", data.error().message());
      return conn->close();
    }
    if (!*started) conn->start_stream(200, "application/x-tar");
    *started = true;
    conn->send_chunk(*data);
    if (last) return conn->end_stream();
    if (conn->queued_bytes() > kSaveHighWater) return conn->when_drained(std::move(more));
    more();
  });
}

void save_one(Server& s, Connection& c, const Params& p) { save_names(s, c, {p[0]}); }

void save_many(Server& s, Connection& c, const Params&) { save_names(s, c, c.request().query_values("names")); }

// docker load: 200 and a JSON progress stream; a failed load is an error
// line in it, as Docker answers.
void load(Server& s, Connection& c, const Params&) {
  std::string tar = c.upload_path();
  uint64_t serial = c.serial();
  s.engine().images().load(tar, [&s, serial](Result<std::vector<engine::LoadedImage>> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    std::string body;
    if (!r) {
      std::string msg = json_quote(r.error().message());
      body = fmt::format("{{\"errorDetail\":{{\"message\":{}}},\"error\":{}}}\n", msg, msg);
    }
    if (r)
      for (const engine::LoadedImage& img : *r) {
        if (img.repo_tags.empty())
          body += fmt::format("{{\"stream\":{}}}\n", json_quote("Loaded image ID: " + img.id + "\n"));
        for (const std::string& t : img.repo_tags)
          body += fmt::format("{{\"stream\":{}}}\n", json_quote("Loaded image: " + t + "\n"));
      }
    conn->respond(200, body);
  });
}

}  // namespace

void add_image_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/images/create", images_create});
  r.push_back({"GET", "/images/json", images_list});
  r.push_back({"GET", "/images/get", save_many});
  r.push_back({"POST", "/images/load", load});
  r.push_back({"GET", "/images/{*}/json", images_inspect});
  r.push_back({"GET", "/images/{*}/history", history});
  r.push_back({"GET", "/images/{*}/get", save_one});
  r.push_back({"POST", "/images/{*}/tag", tag});
  r.push_back({"DELETE", "/images/{*}", images_remove});
}

}  // namespace berth::ipc
