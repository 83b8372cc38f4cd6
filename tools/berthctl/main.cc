// berthctl entry point: global flags, subcommand registration, exit status.
// See berthctl.h for the layout of the tool.
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "tools/berthctl/berthctl.h"

namespace berth::ctl {
namespace {

using AddCommands = void (*)(CLI::App&, Globals&, int&);

// Every command group, the most used first. Building all of CLI11's options
// costs a third of the process (`perf stat`, `berthctl -H <nowhere> run x`:
// 1.31 ms task-clock with all groups, 0.95 ms with run's alone), and a
// `run` is often one of many in a script, so main() stops adding groups
// once the command word is there. No table of names to keep in step: the
// groups themselves say what they register.
constexpr AddCommands kCommandGroups[] = {
    add_run_commands,    add_container_commands, add_exec_command,  add_inspect_command, add_image_commands,
    add_system_commands, add_changes_commands,   add_cp_command,    add_attach_command,  add_stats_command,
    add_top_command,     add_update_command,     add_volume_commands, add_network_commands,
    add_registry_commands,
};

// The command word: the first argument that is neither a global option nor
// -H's value; "" when there is none (then every group is added, for --help
// and for CLI11's own errors).
std::string_view command_word(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    if (a == "-H" || a == "--host") {
      i++;
    } else if (!a.starts_with("-")) {
      return a;
    }
  }
  return {};
}

bool has_command(const CLI::App& app, std::string_view word) {
  return !app.get_subcommands([&](const CLI::App* s) { return s->check_name(std::string(word)); }).empty();
}

}  // namespace
}  // namespace berth::ctl

int main(int argc, char** argv) {
  using namespace berth::ctl;
  CLI::App app{"berthctl: manage berth containers through the Docker Engine API"};
  app.require_subcommand(1);
  Globals g;
  g.argv = argv;
  const char* env_host = std::getenv("BERTH_HOST");
  g.host = env_host && *env_host ? env_host : std::string(berth::ipc::kDefaultHost);
  app.add_option("-H,--host", g.host, "Daemon socket to connect to (unix:///path; default $BERTH_HOST)");
  app.add_flag_callback("-v,--version", [] {
    out(fmt::format("berthctl version {}, API {}\n", kVersion, berth::ipc::kClientApiVersion));
    std::exit(0);
  }, "Print the client version and exit");

  int exit_code = kExitOk;
  std::string_view word = command_word(argc, argv);
  for (AddCommands add : kCommandGroups) {
    add(app, g, exit_code);
    if (!word.empty() && has_command(app, word)) break;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; flag errors exit 125 like the docker CLI's.
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitRunFailure;
  }
  return exit_code;
}
