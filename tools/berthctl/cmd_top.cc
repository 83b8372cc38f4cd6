// `top CONTAINER [ps OPTIONS]`: the processes of a running container.
//
//   GET /containers/{id}/top[?ps_args=...]  → {"Titles":[…],"Processes":[[…],…]}
//
// Printed as a table, one row per process, like docker's `top`; a stopped or
// unknown container is the daemon's error (exit 1).
#include <memory>

#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {
namespace {

struct TopOptions {
  std::string id;
  std::vector<std::string> ps_args;
};

int top(const Globals& g, const TopOptions& o) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  std::string path = container_path(o.id, "/top");
  std::string args;
  for (const std::string& a : o.ps_args) args += (args.empty() ? "" : " ") + a;
  if (!args.empty()) path += "?ps_args=" + ipc::url_encode(args);
  Result<json> r = call_json(*c, "GET", path);
  if (!r) return fail(r.error());
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> titles;
  for (const json& t : jget(*r, "Titles")) titles.push_back(t.is_string() ? t.get<std::string>() : "");
  rows.push_back(titles);
  for (const json& p : jget(*r, "Processes")) {
    std::vector<std::string> row;
    for (const json& f : p) row.push_back(f.is_string() ? f.get<std::string>() : f.dump());
    rows.push_back(std::move(row));
  }
  print_table(rows);
  return kExitOk;
}

}  // namespace

void add_top_command(CLI::App& app, Globals& g, int& exit_code) {
  auto opts = std::make_shared<TopOptions>();
  CLI::App* sub = app.add_subcommand("top", "Display the running processes of a container");
  sub->add_option("CONTAINER", opts->id)->required();
  // ps options ("-ef", "aux") look like flags: they are taken as extras.
  sub->allow_extras();
  sub->callback([&g, &exit_code, opts, sub] {
    opts->ps_args = sub->remaining();
    exit_code = top(g, *opts);
  });
}

}  // namespace berth::ctl
