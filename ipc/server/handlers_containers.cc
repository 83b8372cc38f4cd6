// /containers/...: create, start, attach, wait, kill, stop, restart, rm,
// ps, inspect. (logs are in handlers_logs.cc.)
#include <csignal>

#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "ipc/proto/detach_keys.h"
#include "ipc/proto/frames.h"
#include "ipc/proto/api_json.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/create_request.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"
#include "ipc/server/signals.h"
#include "ipc/server/views.h"

namespace berth::ipc {

namespace {

using engine::Container;
using engine::Status;

void create(Server& s, Connection& c, const Params&) {
  std::string name = c.request().query_value("name").value_or("");
  auto spec = parse_create_request(c.body(), name);
  if (!spec) return c.respond_error(spec.error());
  s.engine().create(std::move(*spec), [&s, serial = c.serial()](Result<Container*> ct) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!ct) return conn->respond_error(ct.error());
    OrderedJson j = {{"Id", (*ct)->id}, {"Warnings", (*ct)->create_warnings}};
    conn->respond(201, j.dump());
  });
}

void start(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (ct) s.engine().start(*ct, reply(s, c, 204));
}

void kill(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto sig = parse_signal(c.request().query_value("signal").value_or("KILL"));
  if (!sig) return c.respond_error(sig.error());
  auto r = s.engine().kill(*ct, *sig);
  if (!r) return c.respond_error(r.error());
  c.respond_empty(204);
}

Result<std::pair<int, int>> stop_args(const Request& req, const Container& ct) {
  int timeout = int(BERTH_TRY(req.query_int("t", 10)));
  std::string signame = req.query_value("signal").value_or("");
  if (signame.empty()) {
    Json cfg = Json::parse(ct.spec.config_json, nullptr, false);
    if (cfg.is_object() && cfg.contains("StopSignal") && cfg["StopSignal"].is_string())
      signame = cfg["StopSignal"].get<std::string>();
  }
  int sig = signame.empty() ? SIGTERM : BERTH_TRY(parse_signal(signame));
  return std::pair{timeout, sig};
}

void stop(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto args = stop_args(c.request(), *ct);
  if (!args) return c.respond_error(args.error());
  s.engine().stop(*ct, args->first, args->second, reply(s, c, 204));
}

void restart(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto args = stop_args(c.request(), *ct);
  if (!args) return c.respond_error(args.error());
  s.engine().restart(*ct, args->first, args->second, reply(s, c, 204));
}

void remove(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto force = c.request().query_bool("force", false);
  if (!force) return c.respond_error(force.error());
  auto volumes = c.request().query_bool("v", false);
  if (!volumes) return c.respond_error(volumes.error());
  s.engine().remove(*ct, *force, reply(s, c, 204), *volumes);
}

engine::WaitCondition wait_condition(const std::string& v, bool* ok) {
  *ok = true;
  if (v.empty() || v == "not-running") return engine::WaitCondition::kNotRunning;
  if (v == "next-exit") return engine::WaitCondition::kNextExit;
  if (v == "removed") return engine::WaitCondition::kRemoved;
  *ok = false;
  return engine::WaitCondition::kNotRunning;
}

void wait(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  std::string cond_text = c.request().query_value("condition").value_or("");
  bool ok_cond;
  auto cond = wait_condition(cond_text, &ok_cond);
  if (!ok_cond) return c.respond_error(Error::invalid("invalid condition: \"{}\"", cond_text));
  // Headers go out at once: the docker CLI waits for them before it sends start.
  c.start_stream(200, "application/json");
  uint64_t serial = c.serial();
  uint64_t token = s.engine().wait(*ct, cond, [&s, serial](int code, const std::string&) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    conn->send_chunk(fmt::format("{{\"Error\":null,\"StatusCode\":{}}}\n", code));
    conn->end_stream();
  });
  if (token) c.on_close([&s, id = ct->id, token] { s.engine().cancel_wait(id, token); });
}

void attach(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  const Request& req = c.request();
  auto out = req.query_bool("stdout", false), err = req.query_bool("stderr", false);
  auto stream = req.query_bool("stream", false), in = req.query_bool("stdin", false);
  auto logs = req.query_bool("logs", false);
  if (!out || !err || !stream || !in || !logs)
    return c.respond_error(!out ? out.error() : !err ? err.error() : !stream ? stream.error() : !in ? in.error() : logs.error());
  auto keys = parse_detach_keys(req.query_value("detachKeys").value_or(""));
  if (!keys) return c.respond_error(keys.error());
  // stdin=1 on a container with OpenStdin: the client's bytes go to its
  // stdin (in order, with back-pressure) until it types the detach keys;
  // with StdinOnce, the client's half-close (or leaving) closes the
  // container's stdin (a no-op with a tty, which has no half-close).
  Connection::HijackInput input;
  if (*in && *stream && ct->spec.open_stdin) {
    std::string id = ct->id;
    bool once = ct->spec.stdin_once;
    input = stdin_input(
        s, c.serial(), std::move(*keys),
        [&s, id](std::string_view data, std::function<void()> done) {
          auto found = s.engine().find(id);
          if (!found) return done();
          s.engine().io().write_stdin(**found, data, std::move(done));
        },
        [&s, id, once] {
          auto found = s.engine().find(id);
          if (found && once) s.engine().io().close_stdin(**found);
        });
    if (once)
      c.on_close([&s, id] {
        if (auto found = s.engine().find(id)) s.engine().io().close_stdin(**found);
      });
  }
  // With a tty the stream is the terminal's raw bytes (stdout and stderr are
  // one); without, Docker's multiplexed frames.
  bool tty = ct->spec.tty;
  c.hijack(tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
           std::move(input));
  bool running = ct->state.status == Status::kRunning || ct->state.status == Status::kPaused;
  // logs=1 on a container that has run: its log first, then (stream=1) the
  // log's follower carries the live output. A created container has no log
  // yet: its live output is all there is.
  if (*logs && ct->state.status != Status::kCreated)
    return attach_logs(s, c, *ct, *out, *err, *stream && running);
  if (!*stream || (!running && ct->state.status != Status::kCreated)) return c.finish_hijack();
  engine::Attacher a;
  a.want_stdout = *out;
  a.want_stderr = *err;
  Connection* conn = &c;  // valid until on_close detaches this attacher
  a.output = [conn, tty](uint8_t stream_id, std::string_view data) {
    if (tty) return conn->send_raw(data);
    std::string frame;
    append_frame(frame, stream_id, data);
    conn->send_raw(frame);
  };
  a.closed = [conn] { conn->finish_hijack(); };
  uint64_t token = s.engine().io().attach(*ct, std::move(a));
  c.on_close([&s, id = ct->id, token] { s.engine().io().detach(id, token); });
}

// POST /containers/{id}/resize?h=&w=: the pty's window (Docker answers 200).
void resize(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto size = resize_query(c.request());
  if (!size) return c.respond_error(size.error());
  auto r = s.engine().io().resize(*ct, size->rows, size->cols);
  if (!r) return c.respond_error(r.error());
  c.respond(200, "", "text/plain");
}

bool matches_filters(const Container& ct, const std::map<std::string, std::vector<std::string>>& f) {
  auto any = [&](const char* key, auto pred) {
    auto it = f.find(key);
    if (it == f.end() || it->second.empty()) return true;
    for (const auto& v : it->second)
      if (pred(v)) return true;
    return false;
  };
  return any("id", [&](const std::string& v) { return starts_with(ct.id, v); }) &&
         any("name", [&](const std::string& v) { return ct.name.find(v[0] == '/' ? v.substr(1) : v) != std::string::npos; }) &&
         any("status", [&](const std::string& v) { return v == engine::status_name(ct.state.status); }) &&
         any("label", [&](const std::string& v) {
           auto eq = v.find('=');
           auto it = ct.spec.labels.find(v.substr(0, eq));
           return it != ct.spec.labels.end() && (eq == std::string::npos || it->second == v.substr(eq + 1));
         });
}

void list(Server& s, Connection& c, const Params&) {
  const Request& req = c.request();
  auto all = req.query_bool("all", false);
  if (!all) return c.respond_error(all.error());
  std::map<std::string, std::vector<std::string>> filters;
  if (auto f = req.query_value("filters"); f && !f->empty()) {
    auto parsed = parse_filters(*f);
    if (!parsed) return c.respond_error(parsed.error());
    filters = std::move(*parsed);
  }
  std::vector<const Container*> out;
  for (const auto& [id, ct] : s.engine().containers()) {
    bool running = ct->state.status == Status::kRunning || ct->state.status == Status::kPaused;
    if ((*all || running || filters.count("status")) && matches_filters(*ct, filters)) out.push_back(ct.get());
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->created_ns > b->created_ns; });
  OrderedJson arr = OrderedJson::array();
  for (const Container* ct : out) arr.push_back(container_summary(*ct, s.engine().networks()));
  c.respond(200, arr.dump());
}

void inspect(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (ct) c.respond(200, container_inspect(*ct, s.engine().networks()).dump(-1, ' ', false, Json::error_handler_t::replace));
}

}  // namespace

void add_container_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/containers/create", create});
  r.push_back({"GET", "/containers/json", list});
  r.push_back({"GET", "/containers/{}/json", inspect});
  r.push_back({"POST", "/containers/{}/start", start});
  r.push_back({"POST", "/containers/{}/kill", kill});
  r.push_back({"POST", "/containers/{}/stop", stop});
  r.push_back({"POST", "/containers/{}/restart", restart});
  r.push_back({"POST", "/containers/{}/wait", wait});
  r.push_back({"POST", "/containers/{}/attach", attach});
  r.push_back({"POST", "/containers/{}/resize", resize});
  r.push_back({"DELETE", "/containers/{}", remove});
}

}  // namespace berth::ipc
