// exec: run a command in a running container, as `docker exec` does:
//   GET /containers/<id>/json   (so "No such container" comes before any
//                                tty complaint, and no exec is left behind)
//   POST /containers/<id>/exec {Cmd, Env, User, WorkingDir, Attach*, Tty,
//                               DetachKeys[, ConsoleSize with -t]}
//   POST /exec/<eid>/start {"Detach":false,"Tty":…[,"ConsoleSize":[h,w]]}   (hijacked, 101)
//   [-t] POST /exec/<eid>/resize?h=&w= right after, and on SIGWINCH
//   ... frames (raw bytes with -t) until the daemon closes the stream ...
//   GET /exec/<eid>/json → ExitCode, which becomes ours.
// With -d the start is a plain 200 and nothing is streamed. -i sends our
// stdin (half-closed at its EOF); -it needs a terminal on stdin, makes it
// raw, and the detach keys end the stream: "read escape sequence", exit 1,
// the process left running (the docker CLI's behaviour).
#include "ipc/proto/detach_keys.h"
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {

namespace {

struct ExecOptions {
  bool detach = false, interactive = false, tty = false, privileged = false;
  std::string detach_keys;
  std::vector<std::string> env;
  std::string user, workdir;
  std::string container;
  std::vector<std::string> cmd;
};

std::string create_body(const ExecOptions& o, ConsoleSize size) {
  json body = {{"User", o.user},
               {"Privileged", o.privileged},
               {"Tty", o.tty},
               {"AttachStdin", o.interactive && !o.detach},
               {"AttachStdout", !o.detach},
               {"AttachStderr", !o.detach},
               {"Detach", o.detach},
               {"DetachKeys", o.detach_keys},
               {"WorkingDir", o.workdir},
               {"Cmd", o.cmd}};
  body["Env"] = o.env.empty() ? json(nullptr) : json(o.env);
  if (o.tty) body["ConsoleSize"] = json::array({size.rows, size.cols});
  return dump(body);
}

std::string start_body(const ExecOptions& o, ConsoleSize size) {
  json body = {{"Detach", o.detach}, {"Tty", o.tty}};
  if (o.tty) body["ConsoleSize"] = json::array({size.rows, size.cols});
  return dump(body);
}

// The hijacked part; `keys` are the detach keys' bytes.
int exec_attached(Client& c, const std::string& eid, const ExecOptions& o, const std::string& keys,
                  ConsoleSize size) {
  Result<Client> stream_conn = dial_like(c);
  if (!stream_conn) return fail(stream_conn.error());
  Result<Client::Hijacked> stream = stream_conn->hijack("POST", "/exec/" + eid + "/start", start_body(o, size));
  if (!stream) return fail(stream.error());
  StreamOptions so{.tty = o.tty, .forward_stdin = o.interactive, .detach_keys = keys};
  if (o.tty) so.resize = [&c, &eid](ConsoleSize s) {
    (void)call(c, "POST", "/exec/" + eid + "/resize" + resize_query(s));  // best effort, as docker's
  };
  Result<PumpEnd> end = stream_hijacked(*stream, so);
  stream->fd.reset();
  if (end && *end == PumpEnd::kDetached) return fail(Error(Code::kCancelled, std::string(kDetachedMessage)));
  if (!end) err(end.error().message() + "\n");  // the exit code still counts
  Result<json> info = call_json(c, "GET", "/exec/" + eid + "/json");
  if (!info) return fail(info.error());
  return int(jint(*info, "ExitCode", 126));
}

int exec_command(const Globals& g, const ExecOptions& o) {
  Result<std::string> keys = ipc::parse_detach_keys(o.detach_keys);
  if (!keys) return fail(keys.error(), kExitRunFailure);
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  if (Result<json> info = call_json(*c, "GET", container_path(o.container, "/json")); !info)
    return fail(info.error());
  if (!o.detach) {
    if (Result<void> t = check_tty(o.interactive, o.tty, is_terminal(STDIN_FILENO)); !t) return fail(t.error());
  }
  ConsoleSize size = o.tty ? console_size() : ConsoleSize{};
  Result<json> created = call_json(*c, "POST", container_path(o.container, "/exec"), create_body(o, size));
  if (!created) return fail(created.error());
  std::string eid = jstr(*created, "Id");
  if (eid.empty()) return fail(Error::invalid("exec ID empty"));
  if (o.detach) {
    Result<Response> r = call(*c, "POST", "/exec/" + eid + "/start", start_body(o, size));
    return r ? kExitOk : fail(r.error());
  }
  return exec_attached(*c, eid, o, *keys, size);
}

}  // namespace

void add_exec_command(CLI::App& app, Globals& g, int& exit_code) {
  auto o = std::make_shared<ExecOptions>();
  CLI::App* sub = app.add_subcommand("exec", "Execute a command in a running container");
  sub->add_flag("-d,--detach", o->detach, "Detached mode: run command in the background");
  sub->add_option("--detach-keys", o->detach_keys,
                  "Override the key sequence for detaching a container (default \"ctrl-p,ctrl-q\")");
  sub->add_flag("-i,--interactive", o->interactive, "Keep STDIN open and send this terminal's stdin to it");
  sub->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
  sub->add_flag("--privileged", o->privileged, "Give extended privileges to the command");
  sub->add_option("-e,--env", o->env, "Set environment variables");
  sub->add_option("-u,--user", o->user, "Username or UID (format: <name|uid>[:<group|gid>])");
  sub->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
  sub->add_option("container", o->container, "Container")->required();
  sub->add_option("command", o->cmd, "Command and arguments")->required();
  sub->positionals_at_end();  // everything after the container belongs to the command
  sub->callback([&g, &exit_code, o] { exit_code = exec_command(g, *o); });
}

}  // namespace berth::ctl
