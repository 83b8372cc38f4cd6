// `update [flags] CONTAINER...`: docker's `container update` for resources
// and the restart policy.
//
//   POST /containers/{id}/update  {"Memory":…, "NanoCpus":…, "RestartPolicy":{…}}  → 200 {"Warnings":[…]}
//
// The body holds only the fields of the flags given (resources.h); docker
// sends every field with zeros for "unchanged", which means the same to the
// daemon. Each container is updated in turn; its name is printed on success,
// then the daemon's warnings (stdout, as docker), then the errors (stderr),
// exit 1 if any. A malformed flag value exits 125 before any request, and no
// flag at all is an error (exit 1), as in docker.
#include <memory>

#include "tools/berthctl/berthctl.h"
#include "tools/berthctl/resources.h"

namespace berth::ctl {
namespace {

struct UpdateOptions {
  ResourceFlags resources;
  std::string restart;   // --restart; "" = keep
  std::vector<std::string> ids;
};

int update(const Globals& g, const UpdateOptions& o) {
  Result<json> fields = resource_fields(o.resources);
  if (!fields) return fail(fields.error(), kExitRunFailure);
  if (!o.restart.empty()) {
    Result<json> policy = restart_policy_json(o.restart);
    if (!policy) return fail(policy.error(), kExitRunFailure);
    (*fields)["RestartPolicy"] = *policy;
  }
  if (fields->empty()) return fail(Error::invalid("you must provide one or more flags when using this command"));
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  std::string body = dump(*fields);
  std::vector<std::string> warnings;
  std::vector<Error> errors;
  for (const std::string& id : o.ids) {
    Result<Response> r = call(*c, "POST", container_path(id, "/update"), body);
    if (!r) {
      errors.push_back(r.error());
      continue;
    }
    out(id + "\n");
    json answer = parse_json(r->body);
    const json& w = jget(answer, "Warnings");  // absent or null: none
    if (w.is_array())
      for (const json& line : w)
        if (line.is_string()) warnings.push_back(line.get<std::string>());
  }
  std::string text;
  for (const std::string& w : warnings) text += w + "\n";
  out(text);
  for (const Error& e : errors) fail(e);
  return errors.empty() ? kExitOk : kExitError;
}

}  // namespace

void add_update_command(CLI::App& app, Globals& g, int& exit_code) {
  auto opts = std::make_shared<UpdateOptions>();
  CLI::App* sub = app.add_subcommand("update", "Update configuration of one or more containers");
  add_resource_flags(sub, opts->resources);
  sub->add_option("--restart", opts->restart, "Restart policy to apply when a container exits");
  sub->add_option("CONTAINER", opts->ids)->required();
  sub->callback([&g, &exit_code, opts] { exit_code = update(g, *opts); });
}

}  // namespace berth::ctl
