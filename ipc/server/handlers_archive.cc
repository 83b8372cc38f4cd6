// docker cp: HEAD /containers/{id}/archive (the path's stat in the
// X-Docker-Container-Path-Stat header), GET (a tar of the path, streamed
// with back-pressure like export, the header too) and PUT (a tar body,
// received into a temp file, extracted into the directory `path`).
#include "core/base/log.h"
#include "core/base/strings.h"
#include "ipc/proto/path_stat.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/router.h"

namespace berth::ipc {

namespace {

constexpr size_t kArchiveHighWater = 4 << 20;

// Docker's 404 for a missing path names it and the container as the client
// wrote them; other errors keep their own message.
Error archive_error(const Error& e, const std::string& path, const std::string& ref) {
  if (e.code() == Code::kNotFound) return Error::not_found("Could not find the file {} in container {}", path, ref);
  return e;
}

Headers stat_header(const engine::PathInfo& info) {
  PathStat s;
  s.name = info.name;
  s.size = info.st.st_size;
  s.mode = engine::go_file_mode(info.st.st_mode);
  s.mtime = format_rfc3339_nano(int64_t(info.st.st_mtim.tv_sec) * 1'000'000'000 + info.st.st_mtim.tv_nsec);
  s.link_target = info.link_target;
  return {{std::string(kPathStatHeader), encode_path_stat(s)}};
}

Result<std::string> path_query(const Request& req) {
  std::string path = req.query_value("path").value_or("");
  if (path.empty()) return Error::invalid("path is required");
  return path;
}

// GET after the stat succeeded: the tar, streamed. An error before the
// first piece is still a status; later it can only cut the body short.
void send_archive(Server& s, uint64_t serial, const std::string& ref, const std::string& path, Headers header) {
  auto ct = s.engine().find(ref);
  Connection* c = s.lookup(serial);
  if (!c) return;
  if (!ct) return c->respond_error(ct.error());
  auto started = std::make_shared<bool>(false);
  std::string id = (*ct)->id;
  s.engine().files().archive_get(**ct, path, [&s, serial, started, id, path, ref, header = std::move(header)](
                                         Result<std::string> data, bool last, std::function<void()> more) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;  // the client left: dropping `more` ends the copy
    if (!data) {
      if (!*started) return conn->respond_error(archive_error(data.error(), path, ref));
      log::error("api", "archive id={} path={}: {}", id, path, data.error().message());
      return conn->close();
    }
    if (!*started) conn->start_stream(200, "application/x-tar", header);
    *started = true;
    conn->send_chunk(*data);
    if (last) return conn->end_stream();
    if (conn->queued_bytes() > kArchiveHighWater) return conn->when_drained(std::move(more));
    more();
  });
}

// HEAD and GET: the stat first (a missing path is a 404 before any body).
void get_archive(Server& s, Connection& c, const Params& p) {
  engine::Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto path = path_query(c.request());
  if (!path) return c.respond_error(path.error());
  bool head = c.request().method == "HEAD";
  uint64_t serial = c.serial();
  std::string ref = p[0];
  s.engine().files().archive_stat(*ct, *path, [&s, serial, head, ref, path = *path](Result<engine::PathInfo> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(archive_error(r.error(), path, ref));
    Headers h = stat_header(*r);
    if (head) return conn->respond(200, std::string(), "application/json", h);
    send_archive(s, serial, ref, path, std::move(h));
  });
}

void put_archive(Server& s, Connection& c, const Params& p) {
  engine::Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  const Request& req = c.request();
  auto path = path_query(req);
  if (!path) return c.respond_error(path.error());
  engine::ContainerFiles::ArchivePutOptions o;
  auto no_overwrite = req.query_bool("noOverwriteDirNonDir", false);
  if (!no_overwrite) return c.respond_error(no_overwrite.error());
  auto copy_ids = req.query_bool("copyUIDGID", false);
  if (!copy_ids) return c.respond_error(copy_ids.error());
  o.no_overwrite_dir_non_dir = *no_overwrite;
  o.copy_uid_gid = *copy_ids;
  if (c.upload_path().empty()) return c.respond_error(Error::invalid("a tar body is required"));
  uint64_t serial = c.serial();
  std::string ref = p[0];
  // The connection removes the upload file once the response is sent.
  s.engine().files().archive_put(*ct, *path, c.upload_path(), o, [&s, serial, ref, path = *path](Result<void> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(archive_error(r.error(), path, ref));
    conn->respond(200, std::string(), "text/plain");
  });
}

}  // namespace

void add_archive_routes(std::vector<Route>& r) {
  r.push_back({"GET", "/containers/{}/archive", get_archive});  // HEAD too
  r.push_back({"PUT", "/containers/{}/archive", put_archive});
}

}  // namespace berth::ipc
