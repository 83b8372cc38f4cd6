// exec: POST /containers/{id}/exec, POST /exec/{id}/start (hijacked like
// attach, or detached), GET /exec/{id}/json, POST /exec/{id}/resize.
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "ipc/proto/detach_keys.h"
#include "ipc/proto/frames.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/create_request.h"
#include "ipc/server/exec_update_request.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

#include "ipc/server/api_fields.h"

namespace berth::ipc {

namespace {

void exec_create(Server& s, Connection& c, const Params& p) {
  engine::Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto cfg = parse_exec_config(c.body());
  if (!cfg) return c.respond_error(cfg.error());
  auto e = s.engine().execs().create(*ct, std::move(*cfg));
  if (!e) return c.respond_error(e.error());
  OrderedJson j = {{"Id", (*e)->id}};
  c.respond(201, j.dump());
}

engine::ExecInstance* find_exec_or_respond(Server& s, Connection& c, const std::string& id) {
  auto e = s.engine().execs().find(id);
  if (!e) {
    c.respond_error(e.error());
    return nullptr;
  }
  return *e;
}

void exec_start(Server& s, Connection& c, const Params& p) {
  engine::ExecInstance* e = find_exec_or_respond(s, c, p[0]);
  if (!e) return;
  bool detach = false;
  if (!c.body().empty()) {
    auto j = parse_body(c.body());
    if (!j) return c.respond_error(j.error());
    if (auto f = check_fields("ExecStart", *j, nullptr); !f) return c.respond_error(f.error());
    if (j->contains("Detach") && (*j)["Detach"].is_boolean()) detach = (*j)["Detach"].get<bool>();
    // The start may carry the window size too (docker exec -t sends it in both).
    auto size = console_size_field(*j);
    if (!size) return c.respond_error(size.error());
    if (size->rows || size->cols) {
      e->config.console_rows = size->rows;
      e->config.console_cols = size->cols;
    }
  }
  if (e->started) return c.respond_error(Error::conflict("Exec command {} has already run", e->id));
  if (detach) {
    s.engine().execs().start(*e, true, {}, [&s, serial = c.serial()](Result<void> r) {
      Connection* conn = s.lookup(serial);
      if (!conn) return;
      if (r) conn->respond(200, "");
      else conn->respond_error(r.error());
    });
    return;
  }
  // Attached: 101 at once, then multiplexed frames (raw bytes with a tty)
  // until the exec ends. A start that fails after the switch is reported in
  // the stream (as Docker does); the exec's exit code tells the client it
  // failed. With AttachStdin the client's bytes go to the exec's stdin until
  // its half-close (EOF for a pipe) or its detach keys.
  uint64_t serial = c.serial();
  bool tty = e->config.tty;
  Connection::HijackInput input;
  if (e->config.attach_stdin) {
    std::string eid = e->id;
    // Detach keys apply to a terminal only, as in Docker.
    input = stdin_input(
        s, serial, tty ? *parse_detach_keys(e->config.detach_keys) : std::string(),
        [&s, eid](std::string_view data, std::function<void()> done) {
          auto found = s.engine().execs().find(eid);
          if (!found) return done();
          s.engine().execs().write_stdin(**found, data, std::move(done));
        },
        [&s, eid] {
          if (auto found = s.engine().execs().find(eid)) s.engine().execs().close_stdin(**found);
        });
  }
  c.hijack(tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
           std::move(input));
  engine::ExecSink sink;
  sink.output = [&s, serial, tty](uint8_t stream, std::string_view data) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (tty) return conn->send_raw(data);
    std::string frame;
    append_frame(frame, stream, data);
    conn->send_raw(frame);
  };
  sink.ended = [&s, serial] {
    if (Connection* conn = s.lookup(serial)) conn->finish_hijack();
  };
  s.engine().execs().start(*e, false, std::move(sink), [&s, serial, tty](Result<void> r) {
    if (r) return;
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    std::string msg = "OCI runtime exec failed: " + r.error().message() + "\n";
    if (tty) {
      conn->send_raw(msg);
    } else {
      std::string frame;
      append_frame(frame, 2, msg);
      conn->send_raw(frame);
    }
    // The sink's `ended` closes the stream once the exit code is recorded.
  });
}

void exec_inspect(Server& s, Connection& c, const Params& p) {
  engine::ExecInstance* e = find_exec_or_respond(s, c, p[0]);
  if (!e) return;
  const auto& cfg = e->config;
  OrderedJson args = OrderedJson::array();
  for (size_t i = 1; i < cfg.cmd.size(); i++) args.push_back(cfg.cmd[i]);
  OrderedJson j = {{"CanRemove", false},
                   {"ContainerID", e->container_id},
                   {"DetachKeys", cfg.detach_keys},
                   {"ExitCode", e->exited ? OrderedJson(e->exit_code) : OrderedJson(nullptr)},
                   {"ID", e->id},
                   {"OpenStderr", cfg.attach_stderr},
                   {"OpenStdin", cfg.attach_stdin},
                   {"OpenStdout", cfg.attach_stdout},
                   {"ProcessConfig",
                    {{"arguments", args},
                     {"entrypoint", cfg.cmd.empty() ? "" : cfg.cmd[0]},
                     {"privileged", cfg.privileged},
                     {"tty", cfg.tty},
                     {"user", cfg.user}}},
                   {"Running", e->running},
                   {"Pid", e->running ? e->pid : 0}};
  c.respond(200, j.dump());
}

void exec_resize(Server& s, Connection& c, const Params& p) {
  engine::ExecInstance* e = find_exec_or_respond(s, c, p[0]);
  if (!e) return;
  auto size = resize_query(c.request());
  if (!size) return c.respond_error(size.error());
  auto r = s.engine().execs().resize(*e, size->rows, size->cols);
  if (!r) return c.respond_error(r.error());
  c.respond(200, "", "text/plain");
}

}  // namespace

void add_exec_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/containers/{}/exec", exec_create});
  r.push_back({"POST", "/exec/{}/start", exec_start});
  r.push_back({"GET", "/exec/{}/json", exec_inspect});
  r.push_back({"POST", "/exec/{}/resize", exec_resize});
}

}  // namespace berth::ipc
