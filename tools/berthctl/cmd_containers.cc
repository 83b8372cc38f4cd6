// Container commands: start, ps, logs, stop, kill, pause, unpause, rm, wait.
// Each sends the requests the docker CLI sends (docker-cli-map.md §4);
// commands taking several IDs go on after a failure, print each error, and
// exit 1 at the end.
#include <algorithm>
#include <functional>
#include <tuple>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <fmt/format.h>

#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"
#include "tools/berthctl/list_scan.h"

namespace berth::ctl {
namespace {

// --- start / stop / kill / rm / wait ---

Result<void> start_one(Client& c, const std::string& id) {
  BERTH_TRY(call(c, "POST", container_path(id, "/start")));  // 304 (already running) is fine
  return ok();
}

struct StopOptions {
  int timeout_s = -1;
  std::string signal;
  std::vector<std::string> ids;
};

// stop and restart: without -t or -s the daemon uses the container's
// StopTimeout and StopSignal.
Result<void> stop_one(Client& c, const StopOptions& o, const std::string& id, const char* verb = "/stop") {
  std::string q;
  if (!o.signal.empty()) q += "&signal=" + ipc::url_encode(o.signal);
  if (o.timeout_s >= 0) q += fmt::format("&t={}", o.timeout_s);
  if (!q.empty()) q[0] = '?';
  BERTH_TRY(call(c, "POST", container_path(id, verb + q)));
  return ok();
}

struct RmOptions {
  bool force = false;
  bool volumes = false;
  std::vector<std::string> ids;
};

Result<void> rm_one(Client& c, const RmOptions& o, const std::string& id) {
  std::string q;
  if (o.force) q += "&force=1";
  if (o.volumes) q += "&v=1";
  if (!q.empty()) q[0] = '?';
  BERTH_TRY(call(c, "DELETE", container_path(id, q)));
  return ok();
}

int wait_all(const Globals& g, const std::vector<std::string>& ids) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  int rc = kExitOk;
  for (const std::string& id : ids) {
    Result<json> j = call_json(*c, "POST", container_path(id, "/wait"));
    if (!j) {
      rc = fail(j.error());
      continue;
    }
    if (std::string e = jstr(jget(*j, "Error"), "Message"); !e.empty()) {
      rc = fail(Error(Code::kSystem, e));
      continue;
    }
    out(fmt::format("{}\n", jint(*j, "StatusCode", -1)));
  }
  return rc;  // like `docker wait`: the codes are printed, the exit is 0 unless a request failed
}

// --- ps ---

struct PsOptions {
  bool all = false;
  bool quiet = false;
  bool no_trunc = false;
};

// Docker's DisplayablePorts: unpublished ports (and ports published on the
// same number) are grouped into ranges per type in first-seen order, then
// "ip:public->private/type" mappings follow.
std::string format_ports(const json& ports) {
  struct Port {
    std::string ip, type;
    int64_t priv, pub;
  };
  std::vector<Port> list;
  if (ports.is_array())
    for (const json& p : ports) list.push_back({jstr(p, "IP"), jstr(p, "Type"), jint(p, "PrivatePort"), jint(p, "PublicPort")});
  std::stable_sort(list.begin(), list.end(), [](const Port& a, const Port& b) {
    return std::tie(a.priv, a.pub, a.type, a.ip) < std::tie(b.priv, b.pub, b.type, b.ip);
  });
  struct Group {
    std::string key;  // "type" or "ip/type"
    int64_t first, last;
  };
  std::vector<Group> groups;
  std::vector<std::string> result, mappings;
  auto form = [](const Group& g) {
    size_t slash = g.key.rfind('/');
    std::string ip = slash == std::string::npos ? "" : g.key.substr(0, slash);
    std::string type = slash == std::string::npos ? g.key : g.key.substr(slash + 1);
    std::string range = g.first == g.last ? std::to_string(g.first) : fmt::format("{}-{}", g.first, g.last);
    return (ip.empty() ? range : fmt::format("{}:{}->{}", ip, range, range)) + "/" + type;
  };
  for (const Port& p : list) {
    std::string key = p.type;
    if (!p.ip.empty()) {
      if (p.pub != p.priv) {
        std::string host = p.ip.find(':') != std::string::npos ? "[" + p.ip + "]" : p.ip;
        mappings.push_back(fmt::format("{}:{}->{}/{}", host, p.pub, p.priv, p.type));
        continue;
      }
      key = p.ip + "/" + p.type;
    }
    auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.key == key; });
    if (g == groups.end()) {
      groups.push_back({key, p.priv, p.priv});
    } else if (p.priv == g->last + 1) {
      g->last = p.priv;
    } else {
      result.push_back(form(*g));
      *g = {key, p.priv, p.priv};
    }
  }
  for (const Group& g : groups) result.push_back(form(g));
  result.insert(result.end(), mappings.begin(), mappings.end());
  std::string joined;
  for (const std::string& r : result) joined += (joined.empty() ? "" : ", ") + r;
  return joined;
}

// Names come as "/name"; names with another '/' are legacy links. Truncated
// output shows the first plain name only, as docker does.
std::string format_names(const json& names, bool no_trunc) {
  std::vector<std::string> out_names;
  if (names.is_array())
    for (const json& n : names) {
      if (!n.is_string()) continue;
      std::string s = n.get<std::string>();
      if (!s.empty() && s[0] == '/') s.erase(0, 1);
      out_names.push_back(s);
    }
  if (!no_trunc)
    for (const std::string& s : out_names)
      if (s.find('/') == std::string::npos) return s;
  std::string joined;
  for (const std::string& s : out_names) joined += (joined.empty() ? "" : ",") + s;
  return joined;
}

std::vector<std::string> ps_row(const json& c, bool no_trunc) {
  std::string id = jstr(c, "Id");
  std::string image = jstr(c, "Image");
  if (image.empty()) image = "<no image>";
  // An image given by ID is shown truncated, as docker does when Image and
  // ImageID name the same image.
  if (!no_trunc && short_id(jstr(c, "ImageID")) == short_id(image)) image = short_id(image);
  std::string command = jstr(c, "Command");
  if (!no_trunc) command = ellipsis(command, 20);
  return {no_trunc ? id : short_id(id), image,          go_quote(command),
          ago(jint(c, "Created")),      jstr(c, "Status"), format_ports(jget(c, "Ports")),
          format_names(jget(c, "Names"), no_trunc)};
}

// The list with only what a row shows: each container's other fields
// (labels, mounts, networks, host config) are skipped by scanning for their
// ends (list_scan.h), so a list of 10,000 does not become 10,000 whole
// trees, nor is each of its 7 MB lexed.
Result<json> ps_list(Client& c, bool all) {
  static const std::set<std::string, std::less<>> kShown = {"Id",      "Image",  "ImageID", "Command",
                                                            "Created", "Status", "Ports",   "Names"};
  Response r = BERTH_TRY(call(c, "GET", all ? "/containers/json?all=1" : "/containers/json"));
  if (std::optional<json> quick = scan_object_list(r.body, kShown)) return std::move(*quick);
  // Not an array of objects: nlohmann's parser, for what it says about it.
  json::parser_callback_t keep = [](int depth, json::parse_event_t event, json& parsed) {
    return depth != 2 || event != json::parse_event_t::key || kShown.count(parsed.get_ref<const std::string&>()) > 0;
  };
  json list = json::parse(r.body.begin(), r.body.end(), keep, false);
  if (list.is_discarded()) return Error::invalid("GET /containers/json: the daemon sent invalid JSON");
  return list;
}

int ps(const Globals& g, const PsOptions& o) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> list = ps_list(*c, o.all);
  if (!list) return fail(list.error());
  if (!list->is_array()) return fail(Error::invalid("ps: expected a JSON array from the daemon"));
  if (o.quiet) {
    std::string ids;
    for (const json& item : *list) ids += (o.no_trunc ? jstr(item, "Id") : short_id(jstr(item, "Id"))) + "\n";
    out(ids);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
  for (const json& item : *list) rows.push_back(ps_row(item, o.no_trunc));
  print_table(rows);
  return kExitOk;
}

// --- logs ---

struct LogsOptions {
  bool timestamps = false;
  bool follow = false;
  std::string tail = "all";
  std::string since, until;
  std::string id;
};

Result<std::string> logs_path(const LogsOptions& o, const std::string& full_id) {
  // Keys sorted, as Go's url.Values.Encode sends them.
  std::string q = o.follow ? "follow=1&" : "";
  if (!o.since.empty()) q += "since=" + BERTH_TRY(to_unix_timestamp(o.since, "since")) + "&";
  q += "stderr=1&stdout=1&tail=" + ipc::url_encode(o.tail);
  if (o.timestamps) q += "&timestamps=1";
  if (!o.until.empty()) q += "&until=" + BERTH_TRY(to_unix_timestamp(o.until, "until"));
  return container_path(full_id, "/logs?" + q);
}

int logs(const Globals& g, const LogsOptions& o) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> info = call_json(*c, "GET", container_path(o.id, "/json"));  // Tty decides the framing
  if (!info) return fail(info.error());
  std::string full_id = jstr(*info, "Id").empty() ? o.id : jstr(*info, "Id");
  Result<std::string> path = logs_path(o, full_id);
  if (!path) return fail(path.error());
  Result<Response> head = c->start_stream("GET", *path);
  if (!head) return fail(head.error());
  if (head->status >= 400) return fail(stream_error(*c, *head));
  StreamPrinter printer(jbool(jget(*info, "Config"), "Tty"));
  for (;;) {
    Result<std::optional<std::string>> piece = c->next_chunk();
    if (!piece) return fail(piece.error());
    if (!*piece) return kExitOk;
    if (Result<void> w = printer.feed(**piece); !w) return fail(w.error());
  }
}

}  // namespace

void add_container_commands(CLI::App& app, Globals& g, int& exit_code) {
  auto start_ids = std::make_shared<std::vector<std::string>>();
  CLI::App* start = app.add_subcommand("start", "Start one or more stopped containers");
  start->add_option("CONTAINER", *start_ids)->required();
  start->callback([&g, &exit_code, start_ids] { exit_code = for_each_id(g, *start_ids, start_one); });

  auto ps_opts = std::make_shared<PsOptions>();
  CLI::App* ps_cmd = app.add_subcommand("ps", "List containers");
  ps_cmd->add_flag("-a,--all", ps_opts->all, "Show all containers (default shows just running)");
  ps_cmd->add_flag("-q,--quiet", ps_opts->quiet, "Only display container IDs");
  ps_cmd->add_flag("--no-trunc", ps_opts->no_trunc, "Don't truncate output");
  ps_cmd->callback([&g, &exit_code, ps_opts] { exit_code = ps(g, *ps_opts); });

  auto logs_opts = std::make_shared<LogsOptions>();
  CLI::App* logs_cmd = app.add_subcommand("logs", "Fetch the logs of a container");
  logs_cmd->add_flag("-t,--timestamps", logs_opts->timestamps, "Show timestamps");
  logs_cmd->add_flag("-f,--follow", logs_opts->follow, "Follow log output");
  logs_cmd->add_option("-n,--tail", logs_opts->tail, "Number of lines to show from the end (default \"all\")");
  logs_cmd->add_option("--since", logs_opts->since, "Logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m)");
  logs_cmd->add_option("--until", logs_opts->until, "Logs before a timestamp or relative time");
  logs_cmd->add_option("CONTAINER", logs_opts->id)->required();
  logs_cmd->callback([&g, &exit_code, logs_opts] { exit_code = logs(g, *logs_opts); });

  auto stop_opts = std::make_shared<StopOptions>();
  CLI::App* stop = app.add_subcommand("stop", "Stop one or more running containers");
  stop->add_option("-t,--time,--timeout", stop_opts->timeout_s, "Seconds to wait before killing the container");
  stop->add_option("-s,--signal", stop_opts->signal, "Signal to send to the container");
  stop->add_option("CONTAINER", stop_opts->ids)->required();
  stop->callback([&g, &exit_code, stop_opts] {
    exit_code = for_each_id(g, stop_opts->ids, [&](Client& c, const std::string& id) { return stop_one(c, *stop_opts, id); });
  });

  auto restart_opts = std::make_shared<StopOptions>();
  CLI::App* restart = app.add_subcommand("restart", "Restart one or more containers");
  restart->add_option("-t,--time,--timeout", restart_opts->timeout_s, "Seconds to wait before killing the container");
  restart->add_option("-s,--signal", restart_opts->signal, "Signal to send to the container");
  restart->add_option("CONTAINER", restart_opts->ids)->required();
  restart->callback([&g, &exit_code, restart_opts] {
    exit_code = for_each_id(g, restart_opts->ids,
                            [&](Client& c, const std::string& id) { return stop_one(c, *restart_opts, id, "/restart"); });
  });

  // POST /containers/{id}/rename?name= → 204.
  auto rename_args = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* rename = app.add_subcommand("rename", "Rename a container");
  rename->add_option("CONTAINER", rename_args->first)->required();
  rename->add_option("NEW_NAME", rename_args->second)->required();
  rename->callback([&g, &exit_code, rename_args] {
    exit_code = for_each_id(g, {rename_args->first}, [&](Client& c, const std::string& id) -> Result<void> {
      BERTH_TRY(call(c, "POST", container_path(id, "/rename?name=" + ipc::url_encode(rename_args->second))));
      return ok();
    });
  });

  auto kill_signal = std::make_shared<std::string>();
  auto kill_ids = std::make_shared<std::vector<std::string>>();
  CLI::App* kill = app.add_subcommand("kill", "Kill one or more running containers");
  kill->add_option("-s,--signal", *kill_signal, "Signal to send to the container (default KILL)");
  kill->add_option("CONTAINER", *kill_ids)->required();
  kill->callback([&g, &exit_code, kill_signal, kill_ids] {
    std::string q = kill_signal->empty() ? "" : "?signal=" + ipc::url_encode(*kill_signal);
    exit_code = for_each_id(g, *kill_ids, [&](Client& c, const std::string& id) -> Result<void> {
      BERTH_TRY(call(c, "POST", container_path(id, "/kill" + q)));
      return ok();
    });
  });

  // POST /containers/{id}/pause|unpause → 204; the daemon freezes the cgroup.
  for (const char* verb : {"pause", "unpause"}) {
    auto ids = std::make_shared<std::vector<std::string>>();
    bool pause = verb == std::string_view("pause");
    CLI::App* sub = app.add_subcommand(
        verb, pause ? "Pause all processes within one or more containers"
                    : "Unpause all processes within one or more containers");
    sub->add_option("CONTAINER", *ids)->required();
    std::string rest = std::string("/") + verb;
    sub->callback([&g, &exit_code, ids, rest] {
      exit_code = for_each_id(g, *ids, [&](Client& c, const std::string& id) -> Result<void> {
        BERTH_TRY(call(c, "POST", container_path(id, rest)));
        return ok();
      });
    });
  }

  auto rm_opts = std::make_shared<RmOptions>();
  CLI::App* rm = app.add_subcommand("rm", "Remove one or more containers");
  rm->add_flag("-f,--force", rm_opts->force, "Force the removal of a running container (uses SIGKILL)");
  rm->add_flag("-v,--volumes", rm_opts->volumes, "Remove anonymous volumes associated with the container");
  rm->add_option("CONTAINER", rm_opts->ids)->required();
  rm->callback([&g, &exit_code, rm_opts] {
    exit_code = for_each_id(g, rm_opts->ids, [&](Client& c, const std::string& id) { return rm_one(c, *rm_opts, id); });
  });

  auto wait_ids = std::make_shared<std::vector<std::string>>();
  CLI::App* wait = app.add_subcommand("wait", "Block until containers stop, then print their exit codes");
  wait->add_option("CONTAINER", *wait_ids)->required();
  wait->callback([&g, &exit_code, wait_ids] { exit_code = wait_all(g, *wait_ids); });
}

}  // namespace berth::ctl
