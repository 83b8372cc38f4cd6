// exec: run a command in a running container, as `docker exec` does:
//   POST /containers/<id>/exec {Cmd, Env, User, WorkingDir, Attach*, Tty}
//   POST /exec/<eid>/start {"Detach":false,"Tty":false}   (hijacked, 101)
//   ... frames until the daemon closes the stream ...
//   GET /exec/<eid>/json → ExitCode, which becomes ours.
// With -d the start is a plain 200 and nothing is streamed.
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {

namespace {

struct ExecOptions {
  bool detach = false, interactive = false, tty = false;
  std::vector<std::string> env;
  std::string user, workdir;
  std::string container;
  std::vector<std::string> cmd;
};

int exec_command(const Globals& g, const ExecOptions& o) {
  if (o.tty) return fail(Error(Code::kNotSupported, "exec -t is not supported yet"), kExitRunFailure);
  if (o.interactive) return fail(Error(Code::kNotSupported, "exec -i is not supported yet"), kExitRunFailure);
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  json body = {{"User", o.user},           {"Privileged", false},      {"Tty", false},
               {"AttachStdin", false},      {"AttachStdout", !o.detach}, {"AttachStderr", !o.detach},
               {"Detach", o.detach},        {"DetachKeys", ""},          {"WorkingDir", o.workdir},
               {"Cmd", o.cmd}};
  body["Env"] = o.env.empty() ? json(nullptr) : json(o.env);
  Result<json> created = call_json(*c, "POST", container_path(o.container, "/exec"), dump(body));
  if (!created) return fail(created.error());
  std::string eid = jstr(*created, "Id");
  std::string start_body = dump(json{{"Detach", o.detach}, {"Tty", false}});
  if (o.detach) {
    Result<Response> r = call(*c, "POST", "/exec/" + eid + "/start", start_body);
    return r ? kExitOk : fail(r.error());
  }
  Result<Client> stream_conn = dial_like(*c);
  if (!stream_conn) return fail(stream_conn.error());
  Result<Client::Hijacked> stream = stream_conn->hijack("POST", "/exec/" + eid + "/start", start_body);
  if (!stream) return fail(stream.error());
  StreamPrinter printer(/*tty=*/false);
  if (Result<void> pumped = pump_hijacked(stream->fd.get(), stream->leftover, printer); !pumped)
    err(pumped.error().message() + "\n");
  stream->fd.reset();
  Result<json> info = call_json(*c, "GET", "/exec/" + eid + "/json");
  if (!info) return fail(info.error());
  return int(jint(*info, "ExitCode", 126));
}

}  // namespace

void add_exec_command(CLI::App& app, Globals& g, int& exit_code) {
  auto o = std::make_shared<ExecOptions>();
  CLI::App* sub = app.add_subcommand("exec", "Execute a command in a running container");
  sub->add_flag("-d,--detach", o->detach, "Detached mode: run command in the background");
  sub->add_flag("-i,--interactive", o->interactive, "Keep STDIN open (not supported yet)");
  sub->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY (not supported yet)");
  sub->add_option("-e,--env", o->env, "Set environment variables");
  sub->add_option("-u,--user", o->user, "Username or UID (format: <name|uid>[:<group|gid>])");
  sub->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
  sub->add_option("container", o->container, "Container")->required();
  sub->add_option("command", o->cmd, "Command and arguments")->required();
  sub->positionals_at_end();  // everything after the container belongs to the command
  sub->callback([&g, &exit_code, o] { exit_code = exec_command(g, *o); });
}

}  // namespace berth::ctl
