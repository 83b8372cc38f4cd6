// /containers/...: create, start, attach, wait, kill, stop, restart, rm,
// rename, ps, inspect. (logs are in handlers_logs.cc.)
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

#include "ipc/server/filters.h"
#include "ipc/server/websocket.h"

namespace berth::ipc {

namespace {

using engine::Container;
using engine::Status;

void create(Server& s, Connection& c, const Params&) {
  std::string name = c.request().query_value("name").value_or("");
  std::vector<std::string> warnings;
  auto spec = parse_create_request(c.body(), name, &warnings);
  if (!spec) return c.respond_error(spec.error());
  const std::string& mode = spec->network_mode;
  if (!spec->links.empty() && !(mode.empty() || mode == "default" || mode == "bridge"))
    warnings.push_back(fmt::format("Links add hosts entries and variables only on the default bridge network; "
                                   "on network mode {} they are recorded only", mode));
  s.engine().create(std::move(*spec), [&s, serial = c.serial(), warnings](Result<Container*> ct) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!ct) return conn->respond_error(ct.error());
    std::vector<std::string> all = warnings;
    all.insert(all.end(), (*ct)->create_warnings.begin(), (*ct)->create_warnings.end());
    OrderedJson j = {{"Id", (*ct)->id}, {"Warnings", all}};
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

// `t` and `signal`, else the container's StopTimeout and StopSignal (or
// the image's STOPSIGNAL), else 10 s and SIGTERM (Engine::stop_signal).
Result<std::pair<int, int>> stop_args(Server& s, const Request& req, const Container& ct) {
  int timeout = int(BERTH_TRY(req.query_int("t", s.engine().stop_timeout_s(ct))));
  std::string signame = req.query_value("signal").value_or("");
  int sig = signame.empty() ? s.engine().stop_signal(ct) : BERTH_TRY(parse_signal(signame));
  return std::pair{timeout, sig};
}

void stop(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto args = stop_args(s, c.request(), *ct);
  if (!args) return c.respond_error(args.error());
  s.engine().stop(*ct, args->first, args->second, reply(s, c, 204));
}

void restart(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto args = stop_args(s, c.request(), *ct);
  if (!args) return c.respond_error(args.error());
  s.engine().restart(*ct, args->first, args->second, reply(s, c, 204));
}

// POST /containers/{id}/rename?name=: 204; 409 for a name in use.
void rename(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  s.engine().rename(*ct, c.request().query_value("name").value_or(""), reply(s, c, 204));
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

// POST /containers/{id}/attach (hijacked: 101 to an Upgrade: tcp client,
// 200 to others) and GET /containers/{id}/attach/ws (a WebSocket: raw
// bytes in binary frames, input from the client's frames). Without a tty
// the POST's stream is Docker's multiplexed frames.
void attach_stream(Server& s, Connection& c, Container& ctr, bool websocket) {
  Container* ct = &ctr;
  const Request& req = c.request();
  auto out = req.query_bool("stdout", false), err = req.query_bool("stderr", false);
  auto stream = req.query_bool("stream", false), in = req.query_bool("stdin", false);
  auto logs = req.query_bool("logs", false);
  if (!out || !err || !stream || !in || !logs)
    return c.respond_error(!out ? out.error() : !err ? err.error() : !stream ? stream.error() : !in ? in.error() : logs.error());
  auto keys = parse_detach_keys(req.query_value("detachKeys").value_or(""));
  if (!keys) return c.respond_error(keys.error());
  std::string ws_accept;
  if (websocket) {
    std::string_view key = req.header("sec-websocket-key");
    if (!iequals(req.header("upgrade"), "websocket") || key.empty())
      return c.respond_error(Error::invalid("attach/ws needs a WebSocket handshake (Upgrade: websocket, Sec-WebSocket-Key)"));
    ws_accept = ws_accept_key(key);
  }
  // stdin=1 on a container with OpenStdin: the client's bytes go to its
  // stdin (in order, with back-pressure) until it types the detach keys;
  // with StdinOnce, the client's half-close (or leaving) closes the
  // container's stdin (a no-op with a tty, which has no half-close).
  Connection::HijackInput input;
  if (*in && *stream && ct->spec.open_stdin) {
    std::string id = ct->id;
    bool once = ct->spec.stdin_once;
    // Detach keys apply to a terminal only, as in Docker: piped stdin is
    // data, 0x10 0x11 included.
    input = stdin_input(
        s, c.serial(), ct->spec.tty ? std::move(*keys) : std::string(),
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
  // one); without, Docker's multiplexed frames; a WebSocket carries raw
  // bytes either way (as Docker's attach/ws).
  bool tty = ct->spec.tty;
  if (websocket) {
    c.hijack_websocket(ws_accept, ws_input(s, c.serial(), std::move(input)));
  } else {
    c.hijack(tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
             std::move(input));
  }
  bool running = engine::is_running(ct->state.status);
  // logs=1 on a container that has run: its log first, then (stream=1) the
  // log's follower carries the live output. A created container has no log
  // yet: its live output is all there is.
  if (*logs && ct->state.status != Status::kCreated && !websocket)
    return attach_logs(s, c, *ct, *out, *err, *stream && running);
  if (!*stream || (!running && ct->state.status != Status::kCreated)) return c.finish_hijack();
  engine::Attacher a;
  a.want_stdout = *out;
  a.want_stderr = *err;
  Connection* conn = &c;  // valid until on_close detaches this attacher
  a.output = [conn, tty, websocket](uint8_t stream_id, std::string_view data) {
    std::string frame;
    if (websocket) append_ws_frame(frame, kWsBinary, data);
    else if (tty) return conn->send_raw(data);
    else append_frame(frame, stream_id, data);
    conn->send_raw(frame);
  };
  a.closed = [conn, websocket] {
    if (websocket) {
      std::string close;
      append_ws_frame(close, kWsClose, std::string_view("\x03\xe8", 2));  // 1000: normal closure
      conn->send_raw(close);
    }
    conn->finish_hijack();
  };
  uint64_t token = s.engine().io().attach(*ct, std::move(a));
  c.on_close([&s, id = ct->id, token] { s.engine().io().detach(id, token); });
}

void attach(Server& s, Connection& c, const Params& p) {
  if (Container* ct = find_or_respond(s, c, p[0])) attach_stream(s, c, *ct, false);
}

void attach_ws(Server& s, Connection& c, const Params& p) {
  if (Container* ct = find_or_respond(s, c, p[0])) attach_stream(s, c, *ct, true);
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

// docker ps: the filters (filters.h), newest first, `limit` of them; with
// `size`, SizeRw (the upper dir) and SizeRootFs (that plus the image)
// measured on the bulk lane.
void list(Server& s, Connection& c, const Params&) {
  const Request& req = c.request();
  auto all = req.query_bool("all", false);
  if (!all) return c.respond_error(all.error());
  auto limit = req.query_int("limit", -1);
  if (!limit) return c.respond_error(limit.error());
  auto size = req.query_bool("size", false);
  if (!size) return c.respond_error(size.error());
  auto filter = ContainerFilter::make(s.engine(), req);
  if (!filter) return c.respond_error(filter.error());
  std::vector<const Container*> out;
  for (const auto& [id, ct] : s.engine().containers()) {
    // Docker lists a container waiting for its restart among the running.
    bool running = engine::is_running(ct->state.status) || ct->state.status == Status::kRestarting;
    if ((*all || running || filter->wants_all()) && filter->match(*ct)) out.push_back(ct.get());
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->created_ns > b->created_ns; });
  if (*limit > 0 && out.size() > size_t(*limit)) out.resize(size_t(*limit));
  if (!*size) {
    // Written as it goes, no tree (json_writer.h): 10,000 are 7 MB.
    std::string body;
    body.reserve(out.size() * 768 + 2);
    JsonWriter w(&body);
    int64_t now = now_ns();
    w.begin_array();
    for (const Container* ct : out) write_container_summary(w, *ct, s.engine().networks(), now);
    w.end_array();
    return c.respond(200, std::move(body));
  }
  auto arr = std::make_shared<OrderedJson>(OrderedJson::array());
  for (const Container* ct : out) arr->push_back(container_summary(*ct, s.engine().networks()));
  // Sizes: the upper dir's files, and the image's under them.
  struct Measure {
    std::vector<std::string> uppers;
    std::vector<int64_t> image_bytes, rw;
  };
  auto m = std::make_shared<Measure>();
  for (const Container* ct : out) {
    m->uppers.push_back(ct->dir + "/upper");
    auto img = s.engine().images().store().resolve(ct->image_id);
    m->image_bytes.push_back(img ? img->size_bytes : 0);
  }
  bool queued = s.reactor().run_bulk(
      [m] {
        for (const auto& u : m->uppers) m->rw.push_back(engine::tree_file_bytes(u));
      },
      [&s, serial = c.serial(), m, arr] {
        Connection* conn = s.lookup(serial);
        if (!conn) return;
        for (size_t i = 0; i < arr->size(); i++) {
          (*arr)[i]["SizeRw"] = m->rw[i];
          (*arr)[i]["SizeRootFs"] = m->rw[i] + m->image_bytes[i];
        }
        conn->respond(200, arr->dump());
      });
  if (!queued) c.respond_error(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
}

void inspect(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto size = c.request().query_bool("size", false);
  if (!size) return c.respond_error(size.error());
  auto j = std::make_shared<OrderedJson>(container_inspect(*ct, s.engine().networks()));
  if (!*size) return c.respond(200, j->dump(-1, ' ', false, Json::error_handler_t::replace));
  // SizeRw: the upper dir's files; SizeRootFs: those and the image's.
  auto img = s.engine().images().store().resolve(ct->image_id);
  int64_t image_bytes = img ? img->size_bytes : 0;
  auto rw = std::make_shared<int64_t>(0);
  bool queued = s.reactor().run_bulk([rw, upper = ct->dir + "/upper"] { *rw = engine::tree_file_bytes(upper); },
                                     [&s, serial = c.serial(), j, rw, image_bytes] {
                                       Connection* conn = s.lookup(serial);
                                       if (!conn) return;
                                       (*j)["SizeRw"] = *rw;
                                       (*j)["SizeRootFs"] = *rw + image_bytes;
                                       conn->respond(200, j->dump(-1, ' ', false, Json::error_handler_t::replace));
                                     });
  if (!queued) c.respond_error(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
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
  r.push_back({"POST", "/containers/{}/rename", rename});
  r.push_back({"POST", "/containers/{}/wait", wait});
  r.push_back({"POST", "/containers/{}/attach", attach});
  r.push_back({"GET", "/containers/{}/attach/ws", attach_ws});
  r.push_back({"POST", "/containers/{}/resize", resize});
  r.push_back({"DELETE", "/containers/{}", remove});
}

}  // namespace berth::ipc
