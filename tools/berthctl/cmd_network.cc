// `network create|ls|inspect|rm|connect|disconnect|prune` and `port`: the
// docker CLI's requests and output.
//
//   network create [-d bridge] [--subnet S] [--gateway G] [--ip-range R]
//                  [--internal] [--attachable] [--label k=v] [-o k=v] NAME
//                          → POST /networks/create {Name, Driver, IPAM{Config[...]}, ...}; prints the id
//   network ls [-q] [--no-trunc] [-f k=v]
//                          → GET /networks[?filters=]; "NETWORK ID  NAME  DRIVER  SCOPE", by name
//   network inspect NET... → GET /networks/NET each; a JSON array (4-space indent)
//   network rm NET...      → DELETE /networks/NET each; prints each as given
//   network connect [--ip A] [--alias N] NET CONTAINER
//                          → POST /networks/NET/connect {Container, EndpointConfig}
//   network disconnect [-f] NET CONTAINER
//                          → POST /networks/NET/disconnect {Container, Force}
//   network prune [-f] [--filter k=v]
//                          → POST /networks/prune after a y/N prompt; "Deleted Networks:"
//   port CONTAINER [PORT[/PROTO]]
//                          → GET /containers/CONTAINER/json: NetworkSettings.Ports,
//                            "80/tcp -> 0.0.0.0:8080" (or "0.0.0.0:8080" for one port)
#include <unistd.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "core/base/strings.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {
namespace {

struct CreateOptions {
  std::string name, driver = "bridge", subnet, gateway, ip_range;
  bool internal = false, attachable = false;
  std::vector<std::string> labels, opts;
};

json key_values(const std::vector<std::string>& items) {
  json obj = json::object();
  for (const std::string& kv : items) {
    auto eq = kv.find('=');
    obj[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  return obj;
}

std::string filters_query(const std::vector<std::string>& flags) {
  json f = json::object();
  for (const std::string& kv : flags) {
    auto eq = kv.find('=');
    f[kv.substr(0, eq)][eq == std::string::npos ? "" : kv.substr(eq + 1)] = true;
  }
  return f.empty() ? "" : "?filters=" + ipc::url_encode(dump(f));
}

std::string net_path(std::string_view net, std::string_view rest = {}) {
  return "/networks/" + ipc::path_escape(std::string(net)) + std::string(rest);
}

int create(const Globals& g, const CreateOptions& o) {
  json body = {{"Name", o.name},         {"Driver", o.driver},   {"Internal", o.internal},
               {"Attachable", o.attachable}, {"Labels", key_values(o.labels)}, {"Options", key_values(o.opts)}};
  json ipam = {{"Driver", "default"}, {"Config", json::array()}};
  if (!o.subnet.empty() || !o.gateway.empty() || !o.ip_range.empty()) {
    json c = json::object();
    if (!o.subnet.empty()) c["Subnet"] = o.subnet;
    if (!o.gateway.empty()) c["Gateway"] = o.gateway;
    if (!o.ip_range.empty()) c["IPRange"] = o.ip_range;
    ipam["Config"].push_back(c);
  }
  body["IPAM"] = ipam;
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> v = call_json(*c, "POST", "/networks/create", dump(body));
  if (!v) return fail(v.error());
  out(jstr(*v, "Id") + "\n");
  return kExitOk;
}

int list(const Globals& g, bool quiet, bool no_trunc, const std::vector<std::string>& filters) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> j = call_json(*c, "GET", "/networks" + filters_query(filters));
  if (!j) return fail(j.error());
  struct Row {
    std::string name, id, driver, scope;
  };
  std::vector<Row> nets;
  if (j->is_array())
    for (const json& n : *j) nets.push_back({jstr(n, "Name"), jstr(n, "Id"), jstr(n, "Driver"), jstr(n, "Scope")});
  std::sort(nets.begin(), nets.end(), [](const Row& a, const Row& b) { return a.name < b.name; });
  auto id_of = [no_trunc](const std::string& id) { return no_trunc ? id : id.substr(0, 12); };
  if (quiet) {
    std::string ids;
    for (const auto& n : nets) ids += id_of(n.id) + "\n";
    out(ids);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"NETWORK ID", "NAME", "DRIVER", "SCOPE"}};
  for (const auto& n : nets) rows.push_back({id_of(n.id), n.name, n.driver, n.scope});
  print_table(rows);
  return kExitOk;
}

int inspect(const Globals& g, const std::vector<std::string>& names) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  nlohmann::ordered_json found = nlohmann::ordered_json::array();
  std::vector<Error> errors;
  for (const std::string& name : names) {
    Result<Response> r = call(*c, "GET", net_path(name));
    if (!r) {
      errors.push_back(r.error());
      continue;
    }
    auto v = nlohmann::ordered_json::parse(r->body, nullptr, false);
    if (v.is_discarded()) errors.push_back(Error::invalid("GET /networks/{}: the daemon sent invalid JSON", name));
    else found.push_back(std::move(v));
  }
  out(found.dump(4, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
  for (const Error& e : errors) fail(e);
  return errors.empty() ? kExitOk : kExitError;
}

int connect(const Globals& g, const std::string& net, const std::string& container, const std::string& ip,
            const std::vector<std::string>& aliases) {
  json ep = json::object();
  if (!ip.empty()) ep["IPAMConfig"] = {{"IPv4Address", ip}};
  if (!aliases.empty()) ep["Aliases"] = aliases;
  json body = {{"Container", container}, {"EndpointConfig", ep}};
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<Response> r = call(*c, "POST", net_path(net, "/connect"), dump(body));
  return r ? kExitOk : fail(r.error());
}

int disconnect(const Globals& g, const std::string& net, const std::string& container, bool force) {
  json body = {{"Container", container}, {"Force", force}};
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<Response> r = call(*c, "POST", net_path(net, "/disconnect"), dump(body));
  return r ? kExitOk : fail(r.error());
}

int prune(const Globals& g, bool force, const std::vector<std::string>& filters) {
  if (!force) {
    out("WARNING! This will remove all custom networks not used by at least one container.\n"
        "Are you sure you want to continue? [y/N] ");
    char buf[64];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0 || (buf[0] != 'y' && buf[0] != 'Y')) return kExitOk;
  }
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> j = call_json(*c, "POST", "/networks/prune" + filters_query(filters));
  if (!j) return fail(j.error());
  if (const json& del = jget(*j, "NetworksDeleted"); del.is_array() && !del.empty()) {
    std::string text = "Deleted Networks:\n";
    for (const json& n : del)
      if (n.is_string()) text += n.get<std::string>() + "\n";
    out(text);
  }
  return kExitOk;
}

// `port`: every binding ("80/tcp -> 0.0.0.0:8080"), or one port's.
int port(const Globals& g, const std::string& container, const std::string& which) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> j = call_json(*c, "GET", container_path(container, "/json"));
  if (!j) return fail(j.error());
  const json& ports = jget(jget(*j, "NetworkSettings"), "Ports");
  std::string want = which;
  if (!want.empty() && want.find('/') == std::string::npos) want += "/tcp";
  std::vector<std::string> keys;
  if (ports.is_object())
    for (auto& [k, v] : ports.items()) keys.push_back(k);
  std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
    auto pa = parse_int(a.substr(0, a.find('/'))), pb = parse_int(b.substr(0, b.find('/')));
    return std::pair(pa.value_or(0), a) < std::pair(pb.value_or(0), b);
  });
  std::string text;
  for (const auto& k : keys) {
    if (!want.empty() && k != want) continue;
    const json& list = ports[k];
    if (!list.is_array()) continue;
    for (const json& b : list) {
      std::string addr = jstr(b, "HostIp") + ":" + jstr(b, "HostPort");
      text += want.empty() ? k + " -> " + addr + "\n" : addr + "\n";
    }
  }
  if (!want.empty() && text.empty())
    return fail(Error::not_found("No public port '{}' published for {}", want, container));
  out(text);
  return kExitOk;
}

}  // namespace

void add_network_commands(CLI::App& app, Globals& g, int& exit_code) {
  CLI::App* network = app.add_subcommand("network", "Manage networks");
  network->require_subcommand(1);

  auto copts = std::make_shared<CreateOptions>();
  CLI::App* create_cmd = network->add_subcommand("create", "Create a network");
  create_cmd->add_option("-d,--driver", copts->driver, "Driver to manage the Network (bridge)");
  create_cmd->add_option("--subnet", copts->subnet, "Subnet in CIDR format that represents a network segment");
  create_cmd->add_option("--gateway", copts->gateway, "IPv4 Gateway for the master subnet");
  create_cmd->add_option("--ip-range", copts->ip_range, "Allocate container ip from a sub-range");
  create_cmd->add_flag("--internal", copts->internal, "Restrict external access to the network");
  create_cmd->add_flag("--attachable", copts->attachable, "Enable manual container attachment");
  create_cmd->add_option("--label", copts->labels, "Set metadata on a network (k=v)")->allow_extra_args(false);
  create_cmd->add_option("-o,--opt", copts->opts, "Set driver specific options (k=v)")->allow_extra_args(false);
  create_cmd->add_option("NETWORK", copts->name, "Network name")->required();
  create_cmd->callback([&g, &exit_code, copts] { exit_code = create(g, *copts); });

  struct LsOptions {
    bool quiet = false, no_trunc = false;
    std::vector<std::string> filters;
  };
  auto ls = std::make_shared<LsOptions>();
  CLI::App* ls_cmd = network->add_subcommand("ls", "List networks");
  ls_cmd->alias("list");
  ls_cmd->add_flag("-q,--quiet", ls->quiet, "Only display network IDs");
  ls_cmd->add_flag("--no-trunc", ls->no_trunc, "Do not truncate the output");
  ls_cmd->add_option("-f,--filter", ls->filters, "Provide filter values (e.g. 'driver=bridge')")->allow_extra_args(false);
  ls_cmd->callback([&g, &exit_code, ls] { exit_code = list(g, ls->quiet, ls->no_trunc, ls->filters); });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect_cmd = network->add_subcommand("inspect", "Display detailed information on one or more networks");
  inspect_cmd->add_option("NETWORK", *names, "Network names or IDs")->required();
  inspect_cmd->callback([&g, &exit_code, names] { exit_code = inspect(g, *names); });

  auto rm_names = std::make_shared<std::vector<std::string>>();
  CLI::App* rm_cmd = network->add_subcommand("rm", "Remove one or more networks");
  rm_cmd->alias("remove");
  rm_cmd->add_option("NETWORK", *rm_names, "Network names or IDs")->required();
  rm_cmd->callback([&g, &exit_code, rm_names] {
    exit_code = for_each_id(g, *rm_names, [](Client& c, const std::string& n) -> Result<void> {
      BERTH_TRY(call(c, "DELETE", net_path(n)));
      return ok();
    });
  });

  struct ConnectOptions {
    std::string net, container, ip;
    std::vector<std::string> aliases;
    bool force = false;
  };
  auto con = std::make_shared<ConnectOptions>();
  CLI::App* connect_cmd = network->add_subcommand("connect", "Connect a container to a network");
  connect_cmd->add_option("--ip", con->ip, "IPv4 address (e.g., 172.30.100.104)");
  connect_cmd->add_option("--alias", con->aliases, "Add network-scoped alias for the container")->allow_extra_args(false);
  connect_cmd->add_option("NETWORK", con->net, "Network")->required();
  connect_cmd->add_option("CONTAINER", con->container, "Container")->required();
  connect_cmd->callback([&g, &exit_code, con] {
    exit_code = connect(g, con->net, con->container, con->ip, con->aliases);
  });
  auto dis = std::make_shared<ConnectOptions>();
  CLI::App* disconnect_cmd = network->add_subcommand("disconnect", "Disconnect a container from a network");
  disconnect_cmd->add_flag("-f,--force", dis->force, "Force the container to disconnect from a network");
  disconnect_cmd->add_option("NETWORK", dis->net, "Network")->required();
  disconnect_cmd->add_option("CONTAINER", dis->container, "Container")->required();
  disconnect_cmd->callback([&g, &exit_code, dis] { exit_code = disconnect(g, dis->net, dis->container, dis->force); });

  auto pr = std::make_shared<LsOptions>();
  CLI::App* prune_cmd = network->add_subcommand("prune", "Remove all unused networks");
  prune_cmd->add_flag("-f,--force", pr->quiet, "Do not prompt for confirmation");
  prune_cmd->add_option("--filter", pr->filters, "Provide filter values (e.g. 'until=<timestamp>')")
      ->allow_extra_args(false);
  prune_cmd->callback([&g, &exit_code, pr] { exit_code = prune(g, pr->quiet, pr->filters); });

  struct PortOptions {
    std::string container, port;
  };
  auto po = std::make_shared<PortOptions>();
  CLI::App* port_cmd = app.add_subcommand("port", "List port mappings or a specific mapping for the container");
  port_cmd->add_option("CONTAINER", po->container, "Container")->required();
  port_cmd->add_option("PRIVATE_PORT", po->port, "Container port, with /tcp or /udp");
  port_cmd->callback([&g, &exit_code, po] { exit_code = port(g, po->container, po->port); });
}

}  // namespace berth::ctl
