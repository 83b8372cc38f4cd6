// /images/...: import (create?fromSrc=-), list, inspect. Pulling needs a
// registry and arrives with the registry issue; it fails fast here.
#include "core/base/strings.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/image_changes.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"
#include "ipc/server/views.h"

namespace berth::ipc {

namespace {

void import(Server& s, Connection& c) {
  const Request& req = c.request();
  std::string repo = req.query_value("repo").value_or("");
  std::string tag = req.query_value("tag").value_or("");
  if (!repo.empty() && !tag.empty()) repo += ":" + tag;
  fs::ImageConfig changes;
  auto applied = apply_changes(req.query_values("changes"), changes);
  if (!applied) return c.respond_error(applied.error());
  std::string tar = c.upload_path();
  uint64_t serial = c.serial();
  // The engine deletes the upload file when the import ends.
  s.engine().import_image(tar, repo, changes, req.query_value("message").value_or(""),
                          [&s, serial](Result<fs::Image> r) {
                            Connection* conn = s.lookup(serial);
                            if (!conn) return;
                            if (!r) return conn->respond_error(r.error());
                            conn->respond(200, fmt::format("{{\"status\":{}}}\n", json_quote(r->id)));
                          });
}

void create(Server& s, Connection& c, const Params&) {
  const Request& req = c.request();
  if (req.query_value("fromSrc").value_or("") == "-") return import(s, c);
  if (req.query_value("fromSrc")) return c.respond_error(Error::invalid("importing from a URL is not supported; use fromSrc=-"));
  std::string image = req.query_value("fromImage").value_or("");
  if (image.empty()) return c.respond_error(Error::invalid("fromImage or fromSrc is required"));
  // FIXME(registry issue): pull from an OCI distribution registry.
  c.respond_error(Error::make(Code::kNotFound, "pull access denied for {}: berth cannot pull images yet; "
                                               "use 'import' or 'load'", image));
}

void list(Server& s, Connection& c, const Params&) {
  auto images = s.engine().images().list();
  std::sort(images.begin(), images.end(), [](auto& a, auto& b) { return a.created_ns > b.created_ns; });
  OrderedJson arr = OrderedJson::array();
  for (const auto& img : images) arr.push_back(image_summary(img));
  c.respond(200, arr.dump());
}

void inspect(Server& s, Connection& c, const Params& p) {
  auto img = s.engine().images().resolve(p[0]);
  if (!img) return c.respond_error(img.error());
  c.respond(200, image_inspect(*img).dump(-1, ' ', false, Json::error_handler_t::replace));
}

}  // namespace

void add_image_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/images/create", create});
  r.push_back({"GET", "/images/json", list});
  r.push_back({"GET", "/images/{*}/json", inspect});
}

}  // namespace berth::ipc
