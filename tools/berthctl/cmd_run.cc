// `run` and `create`: the docker CLI's request sequence (docker-cli-map.md §3).
//
//   POST /containers/create[?name=]           (404 → "Unable to find image", pull, retry)
//   run, foreground:
//     conn 2: POST /containers/<id>/attach?stderr=1&stdout=1&stream=1   (hijack, 101)
//     conn 3: POST /containers/<id>/wait?condition=next-exit|removed   (head only)
//     conn 1: POST /containers/<id>/start
//     demultiplex conn 2 to stdout/stderr until the daemon closes it,
//     then read the wait body {"StatusCode":N,"Error":…} and exit N.
//   run -d: create, start, print the ID.
//   run -t: Config.Tty and HostConfig.ConsoleSize [rows, cols] in create; the
//     stream is raw pty bytes; after start, POST /containers/<id>/resize?h=&w=
//     (and again on SIGWINCH) when our window size is known.
//   run -it: stdin=1 on attach; our terminal goes raw and --detach-keys
//     (default ctrl-p,ctrl-q; also sent as detachKeys=) detach: berthctl
//     closes the stream and exits 0 at once, without the wait (the container
//     keeps running, and --rm removes it only when it exits). Refused with
//     "the input device is not a TTY" (exit 1) when stdin is not a terminal.
//
// The resource flags (-m, --cpus, …; resources.h) go into HostConfig, only
// those given (the daemon reads a missing field as Docker's zero: unset).
// A malformed value fails before any request, with exit 125.
#include <cstdlib>
#include <memory>
#include <tuple>

#include <fmt/format.h>

#include "core/base/strings.h"
#include "ipc/proto/detach_keys.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"
#include "tools/berthctl/mounts.h"
#include "tools/berthctl/netflags.h"
#include "tools/berthctl/resources.h"
#include "tools/berthctl/security_flags.h"

namespace berth::ctl {
namespace {

struct ContainerOptions {
  bool rm = false;
  bool detach = false;
  bool interactive = false;  // -i: keep stdin open and send ours
  bool tty = false;          // -t: a pty in the container; raw output
  std::string detach_keys;   // run --detach-keys, as given ("" = the default)
  std::vector<std::string> env;
  std::string name, workdir, user, hostname, entrypoint;
  CLI::Option* entrypoint_flag = nullptr;  // to tell `--entrypoint ""` from no flag
  std::string image;
  std::vector<std::string> cmd;
  std::string restart;       // --restart no|always|on-failure[:N]|unless-stopped
  bool init = false;         // --init
  // --health-*: Config.Healthcheck (durations as Go durations).
  std::string health_cmd, health_interval, health_timeout, health_start_period, health_start_interval;
  int health_retries = 0;
  bool no_healthcheck = false;
  std::string stop_signal;   // --stop-signal
  int stop_timeout_s = 0;
  CLI::Option* stop_timeout_flag = nullptr;   // given or not
  ResourceFlags resources;
  MountFlags mounts;
  NetFlags net;
  SecurityFlags security;
};

void add_container_flags(CLI::App* sub, ContainerOptions& o) {
  sub->set_help_flag("--help", "Print usage");  // -h is --hostname, as in docker
  sub->add_option("-e,--env", o.env, "Set environment variables (K=V, or K to copy it from here)")
      ->allow_extra_args(false);
  sub->add_flag("-i,--interactive", o.interactive, "Keep STDIN open and send this terminal's stdin to it");
  sub->add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
  sub->add_option("--name", o.name, "Assign a name to the container");
  sub->add_option("-w,--workdir", o.workdir, "Working directory inside the container");
  sub->add_option("-u,--user", o.user, "Username or UID (<name|uid>[:<group|gid>])");
  sub->add_option("-h,--hostname", o.hostname, "Container host name");
  sub->add_option("--network,--net", o.net.network, "Connect to a network: bridge (default), none, host, container:<name|id> or a network's name");
  sub->add_option("--ip", o.net.ip, "IPv4 address (e.g., 172.30.100.104) on a user-defined network");
  sub->add_option("--network-alias", o.net.aliases, "Add a network-scoped alias")->allow_extra_args(false);
  sub->add_option("-p,--publish", o.net.publish, "Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto])")
      ->allow_extra_args(false);
  sub->add_flag("-P,--publish-all", o.net.publish_all, "Publish all exposed ports to random ports");
  sub->add_option("--expose", o.net.expose, "Expose a port or a range of ports")->allow_extra_args(false);
  sub->add_option("--add-host", o.net.add_hosts, "Add a custom host-to-IP mapping (host:ip)")->allow_extra_args(false);
  sub->add_option("--link", o.net.links, "Add a link to another container (name[:alias]; default bridge network)")
      ->allow_extra_args(false);
  sub->add_option("--dns", o.net.dns, "Set custom DNS servers")->allow_extra_args(false);
  sub->add_option("--dns-search", o.net.dns_search, "Set custom DNS search domains")->allow_extra_args(false);
  sub->add_option("--dns-option", o.net.dns_options, "Set DNS options")->allow_extra_args(false);
  o.entrypoint_flag = sub->add_option("--entrypoint", o.entrypoint, "Overwrite the image's ENTRYPOINT");
  sub->add_option("--restart", o.restart, "Restart policy to apply when a container exits (no, always, on-failure[:max-retries], unless-stopped)");
  sub->add_option("--stop-signal", o.stop_signal, "Signal to stop the container");
  sub->add_flag("--init", o.init, "Run an init inside the container that forwards signals and reaps processes");
  sub->add_option("--health-cmd", o.health_cmd, "Command to run to check health");
  sub->add_option("--health-interval", o.health_interval, "Time between running the check (ms|s|m|h) (default 0s)");
  sub->add_option("--health-timeout", o.health_timeout, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)");
  sub->add_option("--health-start-period", o.health_start_period,
                  "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)");
  sub->add_option("--health-start-interval", o.health_start_interval,
                  "Time between running the check during the start period (ms|s|m|h)");
  sub->add_option("--health-retries", o.health_retries, "Consecutive failures needed to report unhealthy");
  sub->add_flag("--no-healthcheck", o.no_healthcheck, "Disable any container-specified HEALTHCHECK");
  o.stop_timeout_flag = sub->add_option("--stop-timeout", o.stop_timeout_s, "Timeout (in seconds) to stop a container");
  add_resource_flags(sub, o.resources);
  add_security_flags(sub, o.security);
  sub->add_option("-v,--volume", o.mounts.volumes, "Bind mount a volume (/host:/ctr[:ro], name:/ctr, or /ctr)")
      ->allow_extra_args(false);
  sub->add_option("--mount", o.mounts.mounts, "Attach a filesystem mount (type=bind|volume|tmpfs,source=,target=,...)")
      ->allow_extra_args(false);
  sub->add_option("--tmpfs", o.mounts.tmpfs, "Mount a tmpfs directory (/ctr[:opts])")->allow_extra_args(false);
  sub->add_flag("--read-only", o.mounts.read_only, "Mount the container's root filesystem as read only");
  sub->add_option("IMAGE", o.image, "Image to create the container from")->required();
  sub->add_option("COMMAND", o.cmd, "Command and its arguments");
  sub->positionals_at_end();  // everything after IMAGE belongs to the command: run busybox sh -c 'exit 7'
}

// Docker's -e: "K=V" as given; a bare "K" copies K from this environment and
// is dropped when unset.
std::vector<std::string> resolve_env(const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const std::string& e : env) {
    if (e.find('=') != std::string::npos) {
      out.push_back(e);
    } else if (const char* v = std::getenv(e.c_str())) {
      out.push_back(e + "=" + v);
    }
  }
  return out;
}

// The docker CLI's health flags: --health-cmd makes Test CMD-SHELL;
// --no-healthcheck is Test NONE and excludes the others.
Result<void> apply_health_flags(const ContainerOptions& o, json& cfg) {
  bool any = !o.health_cmd.empty() || !o.health_interval.empty() || !o.health_timeout.empty() ||
             !o.health_start_period.empty() || !o.health_start_interval.empty() || o.health_retries != 0;
  if (o.no_healthcheck) {
    if (any) return Error::invalid("--no-healthcheck conflicts with --health-* options");
    cfg["Healthcheck"] = {{"Test", {"NONE"}}};
    return ok();
  }
  if (!any) return ok();
  json h = json::object();
  if (!o.health_cmd.empty()) h["Test"] = {"CMD-SHELL", o.health_cmd};
  for (auto [flag, text, key] : {std::tuple{"--health-interval", &o.health_interval, "Interval"},
                                 {"--health-timeout", &o.health_timeout, "Timeout"},
                                 {"--health-start-period", &o.health_start_period, "StartPeriod"},
                                 {"--health-start-interval", &o.health_start_interval, "StartInterval"}}) {
    if (text->empty()) continue;
    auto ns = go_duration_ns(*text);
    if (!ns || *ns < 0) return Error::invalid("invalid argument \"{}\" for \"{}\" flag: invalid duration", *text, flag);
    h[key] = *ns;
  }
  if (o.health_retries < 0) return Error::invalid("--health-retries cannot be negative");
  if (o.health_retries) h["Retries"] = o.health_retries;
  cfg["Healthcheck"] = std::move(h);
  return ok();
}

// `resources`: the Resources fields of the flags given (resource_fields()).
Result<std::string> create_body(const ContainerOptions& o, const json& resources) {
  json cfg = json::object();
  cfg["Hostname"] = o.hostname;
  cfg["User"] = o.user;
  cfg["AttachStdin"] = o.interactive && !o.detach;
  cfg["AttachStdout"] = !o.detach;
  cfg["AttachStderr"] = !o.detach;
  cfg["Tty"] = o.tty;
  cfg["OpenStdin"] = o.interactive;
  cfg["StdinOnce"] = o.interactive && !o.detach;
  cfg["Env"] = resolve_env(o.env);
  cfg["Cmd"] = o.cmd.empty() ? json(nullptr) : json(o.cmd);
  cfg["Image"] = o.image;
  cfg["WorkingDir"] = o.workdir;
  if (!o.entrypoint.empty())
    cfg["Entrypoint"] = json::array({o.entrypoint});
  else if (o.entrypoint_flag->count() > 0)
    cfg["Entrypoint"] = json::array({""});  // --entrypoint "": reset the image's
  else
    cfg["Entrypoint"] = nullptr;
  cfg["Labels"] = json::object();
  BERTH_TRY_VOID(apply_health_flags(o, cfg));
  json host = json::object();
  host["AutoRemove"] = o.rm;
  if (o.init) host["Init"] = true;
  host["RestartPolicy"] = BERTH_TRY(restart_policy_json(o.restart));
  if (!o.stop_signal.empty()) cfg["StopSignal"] = o.stop_signal;
  if (o.stop_timeout_flag->count() > 0) cfg["StopTimeout"] = o.stop_timeout_s;
  ConsoleSize size = o.tty ? console_size() : ConsoleSize{};  // the pty's first size, before any resize
  host["ConsoleSize"] = json::array({size.rows, size.cols});
  for (const auto& [key, value] : resources.items()) host[key] = value;
  BERTH_TRY_VOID(apply_mount_flags(o.mounts, cfg, host));
  json networking = json::object();
  BERTH_TRY_VOID(apply_network_flags(o.net, cfg, host, networking));
  BERTH_TRY_VOID(apply_security_flags(o.security, host));
  cfg["HostConfig"] = std::move(host);
  cfg["NetworkingConfig"] = std::move(networking);
  return dump(cfg);
}

// "busybox" → ("busybox", "latest"); "reg:5000/x:v1" → ("reg:5000/x", "v1").
std::pair<std::string, std::string> split_tag(std::string_view ref) {
  size_t colon = ref.rfind(':');
  size_t slash = ref.rfind('/');
  if (ref.find('@') != std::string_view::npos || colon == std::string_view::npos ||
      (slash != std::string_view::npos && colon < slash))
    return {std::string(ref), ref.find('@') == std::string_view::npos ? "latest" : ""};
  return {std::string(ref.substr(0, colon)), std::string(ref.substr(colon + 1))};
}

Result<std::string> create_container(Client& c, const ContainerOptions& o, const json& resources) {
  std::string path = "/containers/create";
  if (!o.name.empty()) path += "?name=" + ipc::url_encode(o.name);
  std::string body = BERTH_TRY(create_body(o, resources));
  Response r = BERTH_TRY(c.request("POST", path, body));
  if (r.status == 404) {
    auto [name, tag] = split_tag(o.image);
    err(fmt::format("Unable to find image '{}' locally\n", tag.empty() ? name : name + ":" + tag));
    // The pull the CLI attempts when create says "No such image"; progress
    // on stderr, so stdout carries only the container's output or ID.
    BERTH_TRY_VOID(pull_image(c, o.image, "", STDERR_FILENO, false));
    r = BERTH_TRY(c.request("POST", path, body));
  }
  if (r.status >= 400) return ipc::daemon_error(r);
  json j = parse_json(r.body);
  std::string id = jstr(j, "Id");
  if (id.empty()) return Error::invalid("create: the daemon's answer has no Id: {}", r.body);
  const json& warnings = jget(j, "Warnings");
  if (warnings.is_array())
    for (const json& w : warnings)
      if (w.is_string()) err("WARNING: " + w.get<std::string>() + "\n");
  return id;
}

// The docker CLI reads the cause of a failed start from its message.
int start_failure_code(std::string_view message) {
  auto has = [&](std::string_view s) { return message.find(s) != std::string_view::npos; };
  if (has("executable file not found") || has("no such file or directory")) return 127;
  if (has("permission denied") || has("is a directory")) return 126;
  return kExitRunFailure;
}

int finish_wait(Client& wait_conn) {
  Result<int> status = read_wait_status(wait_conn);
  if (!status) return fail(status.error().context("Error waiting for container"), kExitRunFailure);
  return *status;
}

// `keys`: the detach keys' bytes (parse_detach_keys of o.detach_keys).
int run_attached(Client& c, const std::string& id, const ContainerOptions& o, const std::string& keys) {
  Result<Client> attach_conn = dial_like(c);
  if (!attach_conn) return fail(attach_conn.error(), kExitRunFailure);
  std::string attach_path = "/containers/" + id + "/attach?stderr=1&stdout=1&stream=1";
  if (o.interactive) attach_path += "&stdin=1";
  if (!o.detach_keys.empty()) attach_path += "&detachKeys=" + ipc::url_encode(o.detach_keys);
  Result<Client::Hijacked> stream = attach_conn->hijack("POST", attach_path);
  if (!stream) return fail(stream.error(), kExitRunFailure);

  Result<Client> wait_conn = dial_like(c);
  if (!wait_conn) return fail(wait_conn.error(), kExitRunFailure);
  std::string wait_path = "/containers/" + id + "/wait?condition=" + (o.rm ? "removed" : "next-exit");
  Result<Response> wait_head = wait_conn->start_stream("POST", wait_path);
  if (!wait_head) return fail(wait_head.error(), kExitRunFailure);
  if (wait_head->status >= 400) return fail(stream_error(*wait_conn, *wait_head), kExitRunFailure);

  Result<Response> started = call(c, "POST", "/containers/" + id + "/start");
  if (!started) return fail(started.error(), start_failure_code(started.error().message()));

  StreamOptions so{.tty = o.tty, .forward_stdin = o.interactive, .detach_keys = keys};
  if (o.tty) so.resize = [&c, &id](ConsoleSize size) {
    (void)call(c, "POST", "/containers/" + id + "/resize" + resize_query(size));  // best effort, as docker's
  };
  Result<PumpEnd> end = stream_hijacked(*stream, so);
  stream->fd.reset();
  // Detached: the container runs on; dropping the wait connection cancels
  // the wait (as `run -d` does), and --rm is the daemon's business later.
  if (end && *end == PumpEnd::kDetached) return kExitOk;
  if (!end) err(end.error().message() + "\n");  // keep going: the exit status still counts
  return finish_wait(*wait_conn);
}

int run_container(const Globals& g, const ContainerOptions& o) {
  Result<json> resources = resource_fields(o.resources);
  if (!resources) return fail(resources.error(), kExitRunFailure);
  Result<std::string> keys = ipc::parse_detach_keys(o.detach_keys);
  if (!keys) return fail(keys.error(), kExitRunFailure);
  if (!o.detach) {  // before create, as docker checks: nothing is left behind
    if (Result<void> t = check_tty(o.interactive, o.tty, is_terminal(STDIN_FILENO)); !t) return fail(t.error());
  }
  Result<Client> c = dial(g);
  if (!c) return fail(c.error(), kExitRunFailure);
  Result<std::string> id = create_container(*c, o, *resources);
  if (!id) return fail(id.error(), kExitRunFailure);
  if (!o.detach) return run_attached(*c, *id, o, *keys);
  Result<Response> started = call(*c, "POST", "/containers/" + *id + "/start");
  if (!started) return fail(started.error(), start_failure_code(started.error().message()));
  out(*id + "\n");
  return kExitOk;
}

int create_only(const Globals& g, const ContainerOptions& o) {
  Result<json> resources = resource_fields(o.resources);
  if (!resources) return fail(resources.error(), kExitRunFailure);  // a flag error, as docker's
  json scratch_config, scratch_host;
  if (Result<void> m = apply_mount_flags(o.mounts, scratch_config, scratch_host); !m)
    return fail(m.error(), kExitRunFailure);
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<std::string> id = create_container(*c, o, *resources);
  if (!id) return fail(id.error());  // docker create exits 1 on daemon errors
  out(*id + "\n");
  return kExitOk;
}

}  // namespace

void add_run_commands(CLI::App& app, Globals& g, int& exit_code) {
  auto run_opts = std::make_shared<ContainerOptions>();
  CLI::App* run = app.add_subcommand("run", "Create and run a new container from an image");
  run->add_flag("--rm", run_opts->rm, "Remove the container when it exits");
  run->add_flag("-d,--detach", run_opts->detach, "Run in the background and print the container ID");
  run->add_option("--detach-keys", run_opts->detach_keys,
                  "Override the key sequence for detaching a container (default \"ctrl-p,ctrl-q\")");
  add_container_flags(run, *run_opts);
  run->callback([&g, &exit_code, run_opts] { exit_code = run_container(g, *run_opts); });

  auto create_opts = std::make_shared<ContainerOptions>();
  CLI::App* create = app.add_subcommand("create", "Create a new container");
  create->add_flag("--rm", create_opts->rm, "Remove the container when it exits");
  add_container_flags(create, *create_opts);
  create->callback([&g, &exit_code, create_opts] { exit_code = create_only(g, *create_opts); });
}

}  // namespace berth::ctl
