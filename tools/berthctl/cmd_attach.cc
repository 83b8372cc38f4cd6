// attach: connect our stdin/stdout/stderr to a running container's main
// process, as `docker attach` does (docker-cli-map.md, attach):
//   GET /containers/<id>/json            Running? Config.Tty, Config.OpenStdin
//   POST /containers/<ID>/wait?condition=next-exit   (head only, before attach)
//   POST /containers/<ID>/attach?stderr=1&stdout=1&stream=1[&stdin=1][&detachKeys=]  (hijack)
//   GET /containers/<ID>/json            still running? (else the attach could hang)
//   [tty] POST /containers/<ID>/resize   rows+1/cols+1, then the real size (and on SIGWINCH)
//   ... output until the daemon closes the stream; then the wait body's StatusCode is ours.
//
// Why wait?condition=next-exit, registered before the attach: the stream can
// end (the output pipe closed) before the daemon has reaped the process, so
// inspecting State.ExitCode after the stream would race with the exit; a
// wait registered while the container runs is answered with that run's
// exit. The docker CLI registers a plain wait (condition not-running) even
// before its inspect; that one fires at once with a stale code if the
// container is stopped at that moment and started just after, while
// next-exit waits for the exit that follows. If the container stops between
// our inspect and the wait, next-exit would wait for a run that never comes:
// the second inspect (after the attach, as docker does) catches that case.
//
// Stdin is sent only when the container has OpenStdin and --no-stdin is not
// given; with a tty it makes our terminal raw, and the detach keys end the
// attach with "read escape sequence" and exit 1, leaving the container
// running (docker's behaviour; the wait is dropped unread).
#include "ipc/proto/detach_keys.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {

namespace {

struct AttachOptions {
  bool no_stdin = false;
  std::string detach_keys;
  std::string container;
};

// The docker CLI's client-side refusals (CLI 28 wording).
Result<void> check_attachable(const json& info) {
  const json& state = jget(info, "State");
  if (!jbool(state, "Running")) return Error::conflict("You cannot attach to a stopped container, start it first");
  if (jbool(state, "Paused")) return Error::conflict("You cannot attach to a paused container, unpause it first");
  if (jbool(state, "Restarting"))
    return Error::conflict("You cannot attach to a restarting container, wait until it is running");
  return ok();
}

Result<json> inspect_attachable(Client& c, const std::string& id) {
  json info = BERTH_TRY(call_json(c, "GET", container_path(id, "/json")));
  BERTH_TRY_VOID(check_attachable(info));
  return info;
}

std::string attach_query(bool send_stdin, std::string_view detach_keys) {
  std::string q = "?stderr=1&stdout=1&stream=1";
  if (send_stdin) q += "&stdin=1";
  if (!detach_keys.empty()) q += "&detachKeys=" + ipc::url_encode(detach_keys);
  return q;
}

int attach(const Globals& g, const AttachOptions& o) {
  Result<std::string> keys = ipc::parse_detach_keys(o.detach_keys);
  if (!keys) return fail(keys.error(), kExitRunFailure);
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> info = inspect_attachable(*c, o.container);
  if (!info) return fail(info.error());
  const json& config = jget(*info, "Config");
  bool tty = jbool(config, "Tty");
  // As docker: the tty check looks at --no-stdin only, not at OpenStdin.
  if (Result<void> t = check_tty(!o.no_stdin, tty, is_terminal(STDIN_FILENO)); !t) return fail(t.error());
  bool send_stdin = !o.no_stdin && jbool(config, "OpenStdin");
  std::string id = jstr(*info, "Id").empty() ? o.container : jstr(*info, "Id");

  Result<Client> wait_conn = dial_like(*c);
  if (!wait_conn) return fail(wait_conn.error());
  Result<Response> wait_head = wait_conn->start_stream("POST", container_path(id, "/wait?condition=next-exit"));
  if (!wait_head) return fail(wait_head.error());
  if (wait_head->status >= 400) return fail(stream_error(*wait_conn, *wait_head));

  Result<Client> attach_conn = dial_like(*c);
  if (!attach_conn) return fail(attach_conn.error());
  Result<Client::Hijacked> stream =
      attach_conn->hijack("POST", container_path(id, "/attach" + attach_query(send_stdin, o.detach_keys)));
  if (!stream) return fail(stream.error());
  if (Result<json> again = inspect_attachable(*c, id); !again) return fail(again.error());

  StreamOptions so{.tty = tty, .forward_stdin = send_stdin, .detach_keys = *keys};
  Client& conn = *c;
  auto resize = [&conn, &id](ConsoleSize size) {
    (void)call(conn, "POST", container_path(id, "/resize" + resize_query(size)));  // best effort, as docker's
  };
  if (tty) {
    // A size change makes the program redraw; re-attaching at the same size
    // would otherwise show nothing until a key is pressed (docker does this).
    if (ConsoleSize size = console_size(); size.known()) resize({size.rows + 1, size.cols + 1});
    so.resize = resize;  // stream_hijacked sends the real size next
  }
  Result<PumpEnd> end = stream_hijacked(*stream, so);
  stream->fd.reset();
  if (end && *end == PumpEnd::kDetached) return fail(Error(Code::kCancelled, std::string(kDetachedMessage)));
  if (!end) return fail(end.error());
  Result<int> status = read_wait_status(*wait_conn);
  if (!status) return fail(status.error());
  return *status;
}

}  // namespace

void add_attach_command(CLI::App& app, Globals& g, int& exit_code) {
  auto o = std::make_shared<AttachOptions>();
  CLI::App* sub = app.add_subcommand(
      "attach", "Attach local standard input, output, and error streams to a running container");
  sub->add_option("--detach-keys", o->detach_keys,
                  "Override the key sequence for detaching a container (default \"ctrl-p,ctrl-q\")");
  sub->add_flag("--no-stdin", o->no_stdin, "Do not attach STDIN");
  sub->add_option("CONTAINER", o->container, "Container")->required();
  sub->callback([&g, &exit_code, o] { exit_code = attach(g, *o); });
}

}  // namespace berth::ctl
