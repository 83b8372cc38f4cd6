// `volume create|ls|inspect|rm|prune`: the docker CLI's requests and output.
//
//   create [--name N | N] [--label k=v] [-d local] [-o k=v]
//                          → POST /volumes/create {Name, Driver, DriverOpts, Labels}; prints the name
//   ls [-q] [-f k=v]       → GET /volumes[?filters=]; "DRIVER  VOLUME NAME" rows, by name
//   inspect NAME...        → GET /volumes/NAME each; a JSON array (4-space indent)
//   rm [-f] NAME...        → DELETE /volumes/NAME[?force=1] each; prints each name removed
//   prune [-f] [-a] [--filter k=v]
//                          → POST /volumes/prune?filters={"all":["true"],…} after a y/N
//                            prompt (unless -f); "Deleted Volumes:" and the space reclaimed
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
  std::string name, positional, driver = "local";
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

// Filters as the API takes them: {"key":{"value":true}}, from "key=value" flags.
std::string filters_query(const std::vector<std::string>& flags, bool all) {
  json f = json::object();
  for (const std::string& kv : flags) {
    auto eq = kv.find('=');
    f[kv.substr(0, eq)][eq == std::string::npos ? "" : kv.substr(eq + 1)] = true;
  }
  if (all) f["all"]["true"] = true;
  return f.empty() ? "" : "?filters=" + ipc::url_encode(dump(f));
}

int create(const Globals& g, const CreateOptions& o) {
  if (!o.name.empty() && !o.positional.empty() && o.name != o.positional)
    return fail(Error::invalid("conflicting options: either specify --name or provide positional arg, not both"));
  json body = {{"Name", o.name.empty() ? o.positional : o.name},
               {"Driver", o.driver},
               {"DriverOpts", key_values(o.opts)},
               {"Labels", key_values(o.labels)}};
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> v = call_json(*c, "POST", "/volumes/create", dump(body));
  if (!v) return fail(v.error());
  out(jstr(*v, "Name") + "\n");
  return kExitOk;
}

int list(const Globals& g, bool quiet, const std::vector<std::string>& filters) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> j = call_json(*c, "GET", "/volumes" + filters_query(filters, false));
  if (!j) return fail(j.error());
  std::vector<std::pair<std::string, std::string>> vols;  // name, driver
  if (const json& arr = jget(*j, "Volumes"); arr.is_array())
    for (const json& v : arr) vols.emplace_back(jstr(v, "Name"), jstr(v, "Driver"));
  std::sort(vols.begin(), vols.end());
  if (quiet) {
    std::string names;
    for (const auto& [name, driver] : vols) names += name + "\n";
    out(names);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"DRIVER", "VOLUME NAME"}};
  for (const auto& [name, driver] : vols) rows.push_back({driver, name});
  print_table(rows);
  return kExitOk;
}

int inspect(const Globals& g, const std::vector<std::string>& names) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  nlohmann::ordered_json found = nlohmann::ordered_json::array();
  std::vector<Error> errors;
  for (const std::string& name : names) {
    Result<Response> r = call(*c, "GET", "/volumes/" + ipc::path_escape(name));
    if (!r) {
      errors.push_back(r.error());
      continue;
    }
    auto v = nlohmann::ordered_json::parse(r->body, nullptr, false);
    if (v.is_discarded()) errors.push_back(Error::invalid("GET /volumes/{}: the daemon sent invalid JSON", name));
    else found.push_back(std::move(v));
  }
  out(found.dump(4, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
  for (const Error& e : errors) fail(e);
  return errors.empty() ? kExitOk : kExitError;
}

// The docker CLI's y/N prompt: anything but "y"/"Y" (or no input) declines.
bool confirm(const std::string& warning) {
  out(warning + "\nAre you sure you want to continue? [y/N] ");
  char buf[64];
  ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
  return n > 0 && (buf[0] == 'y' || buf[0] == 'Y');
}

int prune(const Globals& g, bool force, bool all, const std::vector<std::string>& filters) {
  if (!force && !confirm(all ? "WARNING! This will remove all local volumes not used by at least one container."
                             : "WARNING! This will remove anonymous local volumes not used by at least one container.")) {
    return kExitOk;
  }
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> j = call_json(*c, "POST", "/volumes/prune" + filters_query(filters, all));
  if (!j) return fail(j.error());
  std::string text;
  if (const json& del = jget(*j, "VolumesDeleted"); del.is_array() && !del.empty()) {
    text = "Deleted Volumes:\n";
    for (const json& n : del)
      if (n.is_string()) text += n.get<std::string>() + "\n";
    text += "\n";
  }
  out(text + "Total reclaimed space: " + human_size(double(jint(*j, "SpaceReclaimed"))) + "\n");
  return kExitOk;
}

}  // namespace

void add_volume_commands(CLI::App& app, Globals& g, int& exit_code) {
  CLI::App* volume = app.add_subcommand("volume", "Manage volumes");
  volume->require_subcommand(1);

  auto copts = std::make_shared<CreateOptions>();
  CLI::App* create_cmd = volume->add_subcommand("create", "Create a volume");
  create_cmd->add_option("--name", copts->name, "Specify volume name");
  create_cmd->add_option("-l,--label", copts->labels, "Set metadata for a volume (k=v)")->allow_extra_args(false);
  create_cmd->add_option("-d,--driver", copts->driver, "Specify volume driver name (default \"local\")");
  create_cmd->add_option("-o,--opt", copts->opts, "Set driver specific options (k=v)")->allow_extra_args(false);
  create_cmd->add_option("VOLUME", copts->positional, "Volume name");
  create_cmd->callback([&g, &exit_code, copts] { exit_code = create(g, *copts); });

  auto quiet = std::make_shared<bool>(false);
  auto ls_filters = std::make_shared<std::vector<std::string>>();
  CLI::App* ls = volume->add_subcommand("ls", "List volumes");
  ls->alias("list");
  ls->add_flag("-q,--quiet", *quiet, "Only display volume names");
  ls->add_option("-f,--filter", *ls_filters, "Provide filter values (e.g. \"dangling=true\")")->allow_extra_args(false);
  ls->callback([&g, &exit_code, quiet, ls_filters] { exit_code = list(g, *quiet, *ls_filters); });

  auto inspect_names = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect_cmd = volume->add_subcommand("inspect", "Display detailed information on one or more volumes");
  inspect_cmd->add_option("VOLUME", *inspect_names)->required();
  inspect_cmd->callback([&g, &exit_code, inspect_names] { exit_code = inspect(g, *inspect_names); });

  auto rm_force = std::make_shared<bool>(false);
  auto rm_names = std::make_shared<std::vector<std::string>>();
  CLI::App* rm = volume->add_subcommand("rm", "Remove one or more volumes");
  rm->alias("remove");
  rm->add_flag("-f,--force", *rm_force, "Force the removal of one or more volumes");
  rm->add_option("VOLUME", *rm_names)->required();
  rm->callback([&g, &exit_code, rm_force, rm_names] {
    std::string q = *rm_force ? "?force=1" : "";
    exit_code = for_each_id(g, *rm_names, [&](Client& c, const std::string& name) -> Result<void> {
      BERTH_TRY(call(c, "DELETE", "/volumes/" + ipc::path_escape(name) + q));
      return ok();
    });
  });

  auto prune_force = std::make_shared<bool>(false);
  auto prune_all = std::make_shared<bool>(false);
  auto prune_filters = std::make_shared<std::vector<std::string>>();
  CLI::App* prune_cmd = volume->add_subcommand("prune", "Remove unused local volumes");
  prune_cmd->add_flag("-f,--force", *prune_force, "Do not prompt for confirmation");
  prune_cmd->add_flag("-a,--all", *prune_all, "Remove all unused volumes, not just anonymous ones");
  prune_cmd->add_option("--filter", *prune_filters, "Provide filter values (e.g. \"label=<label>\")")
      ->allow_extra_args(false);
  prune_cmd->callback([&g, &exit_code, prune_force, prune_all, prune_filters] {
    exit_code = prune(g, *prune_force, *prune_all, *prune_filters);
  });
}

}  // namespace berth::ctl
