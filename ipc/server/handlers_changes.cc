// A container's filesystem changes: GET /containers/{id}/changes (docker
// diff), POST /commit (docker commit) and GET /containers/{id}/export
// (docker export, streamed as it is made, with back-pressure).
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/api_types.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/image_changes.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"

namespace berth::ipc {

namespace {

// Export pieces are made only while less than this waits for the client.
constexpr size_t kExportHighWater = 4 << 20;

void changes(Server& s, Connection& c, const Params& p) {
  engine::Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  uint64_t serial = c.serial();
  s.engine().files().changes(*ct, [&s, serial](Result<std::vector<engine::Change>> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    OrderedJson out = OrderedJson::array();
    for (const engine::Change& ch : *r) out.push_back({{"Path", ch.path}, {"Kind", static_cast<int>(ch.kind)}});
    conn->respond(200, out.dump(-1, ' ', false, OrderedJson::error_handler_t::replace));
  });
}

// repo (sent normalised by the docker CLI: docker.io/library/x) and tag;
// Docker ignores a tag without a repo. "" for an untagged image.
Result<std::string> commit_reference(const Request& req) {
  std::string repo = req.query_value("repo").value_or("");
  std::string tag = req.query_value("tag").value_or("");
  if (repo.empty()) return std::string();
  std::string ref = tag.empty() ? repo : repo + ":" + tag;
  engine::Reference parsed = BERTH_TRY(engine::parse_tag_reference(ref));
  return parsed.familiar_string();
}

bool is_null_body(const std::string& body) {
  size_t b = body.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return true;
  size_t e = body.find_last_not_of(" \t\r\n");
  return body.compare(b, e - b + 1, "null") == 0;
}

// The config the commit starts from: the request's Config, or (no body,
// or null) the container's own; then the Dockerfile-style `changes`.
Result<engine::ImageConfig> commit_config(Server& s, const Connection& c, const engine::Container& ct) {
  const std::string& body = c.body();
  BERTH_TRY_VOID(check_body_depth(body));
  engine::ImageConfig cfg = is_null_body(body) ? BERTH_TRY(s.engine().files().commit_config(ct)) : BERTH_TRY(engine::parse_runtime_config(body));
  BERTH_TRY_VOID(apply_changes(c.request().query_values("changes"), cfg));
  return cfg;
}

void commit(Server& s, Connection& c, const Params&) {
  const Request& req = c.request();
  engine::Container* ct = find_or_respond(s, c, req.query_value("container").value_or(""));
  if (!ct) return;
  engine::ContainerFiles::CommitOptions o;
  auto ref = commit_reference(req);
  if (!ref) return c.respond_error(ref.error());
  o.repo_tag = std::move(*ref);
  auto pause = req.query_bool("pause", true);
  if (!pause) return c.respond_error(pause.error());
  o.pause = *pause;
  o.comment = req.query_value("comment").value_or("");
  o.author = req.query_value("author").value_or("");
  auto cfg = commit_config(s, c, *ct);
  if (!cfg) return c.respond_error(cfg.error());
  o.config = std::move(*cfg);
  uint64_t serial = c.serial();
  s.engine().files().commit(*ct, std::move(o), [&s, serial](Result<engine::Image> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    conn->respond(201, fmt::format("{{\"Id\":{}}}\n", json_quote(r->id)));
  });
}

void export_rootfs(Server& s, Connection& c, const Params& p) {
  engine::Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  uint64_t serial = c.serial();
  auto started = std::make_shared<bool>(false);
  std::string id = ct->id;
  s.engine().files().export_rootfs(*ct, [&s, serial, started, id](Result<std::string> data, bool last,
                                                          std::function<void()> more) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;  // the client left: dropping `more` ends the export
    if (!data) {
      if (!*started) return conn->respond_error(data.error());
      // Mid-stream there is no status left to send: cut the body short, so
      // the client sees a truncated transfer rather than a complete tar.
      log::error("api", "export id={}: {}", id, data.error().message());
      return conn->close();
    }
    if (!*started) conn->start_stream(200, "application/x-tar");
    *started = true;
    conn->send_chunk(*data);
    if (last) return conn->end_stream();
    if (conn->queued_bytes() > kExportHighWater) return conn->when_drained(std::move(more));
    more();
  });
}

}  // namespace

void add_changes_routes(std::vector<Route>& r) {
  r.push_back({"GET", "/containers/{}/changes", changes});
  r.push_back({"POST", "/commit", commit});
  r.push_back({"GET", "/containers/{}/export", export_rootfs});
}

}  // namespace berth::ipc
