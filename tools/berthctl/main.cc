// berthctl entry point: global flags, subcommand registration, exit status.
// See berthctl.h for the layout of the tool.
#include <cstdlib>

#include <fmt/format.h>

#include "tools/berthctl/berthctl.h"

int main(int argc, char** argv) {
  using namespace berth::ctl;
  CLI::App app{"berthctl: manage berth containers through the Docker Engine API"};
  app.require_subcommand(1);
  Globals g;
  const char* env_host = std::getenv("BERTH_HOST");
  g.host = env_host && *env_host ? env_host : std::string(berth::ipc::kDefaultHost);
  app.add_option("-H,--host", g.host, "Daemon socket to connect to (unix:///path; default $BERTH_HOST)");
  app.add_flag_callback("-v,--version", [] {
    out(fmt::format("berthctl version {}, API {}\n", kVersion, berth::ipc::kClientApiVersion));
    std::exit(0);
  }, "Print the client version and exit");

  int exit_code = kExitOk;
  add_run_commands(app, g, exit_code);
  add_container_commands(app, g, exit_code);
  add_inspect_command(app, g, exit_code);
  add_image_commands(app, g, exit_code);
  add_system_commands(app, g, exit_code);
  add_stats_command(app, g, exit_code);
  add_update_command(app, g, exit_code);
  add_exec_command(app, g, exit_code);
  add_attach_command(app, g, exit_code);
  add_top_command(app, g, exit_code);
  add_changes_commands(app, g, exit_code);
  add_cp_command(app, g, exit_code);
  add_volume_commands(app, g, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; flag errors exit 125 like the docker CLI's.
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitRunFailure;
  }
  return exit_code;
}
