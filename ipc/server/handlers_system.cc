// /_ping, /version, /info.
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "ipc/server/connection.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

namespace berth::ipc {

namespace {

std::string kernel_version() {
  utsname u;
  return ::uname(&u) == 0 ? u.release : "";
}

std::string os_name() {
  auto text = read_file("/etc/os-release");
  if (!text) return "Linux";
  for (const auto& line : split(*text, '\n'))
    if (starts_with(line, "PRETTY_NAME=")) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  return "Linux";
}

void ping(Server&, Connection& c, const Params&) {
  c.respond(200, "OK", "text/plain; charset=utf-8",
            {{"Cache-Control", "no-cache, no-store, must-revalidate"}, {"Pragma", "no-cache"}});
}

void version(Server&, Connection& c, const Params&) {
  OrderedJson details = {{"ApiVersion", kApiVersion}, {"MinAPIVersion", kMinApiVersion},
                         {"GitCommit", "berth"},      {"GoVersion", "n/a (C++)"},
                         {"Os", "linux"},             {"Arch", "amd64"},
                         {"KernelVersion", kernel_version()}, {"BuildTime", __DATE__},
                         {"Experimental", "false"}};
  OrderedJson j = {{"Platform", {{"Name", "berth"}}},
                   {"Components", OrderedJson::array({{{"Name", "Engine"}, {"Version", kBerthVersion}, {"Details", details}}})},
                   {"Version", kBerthVersion},
                   {"ApiVersion", kApiVersion},
                   {"MinAPIVersion", kMinApiVersion},
                   {"GitCommit", "berth"},
                   {"GoVersion", "n/a (C++)"},
                   {"Os", "linux"},
                   {"Arch", "amd64"},
                   {"KernelVersion", kernel_version()},
                   {"BuildTime", __DATE__}};
  c.respond(200, j.dump());
}

void info(Server& s, Connection& c, const Params&) {
  using engine::Status;
  auto& e = s.engine();
  int running = e.count(Status::kRunning), paused = e.count(Status::kPaused);
  int total = int(e.containers().size());
  struct sysinfo si {};
  ::sysinfo(&si);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const cgroups::Driver* cg = e.resources().driver();
  auto has = [cg](std::string_view ctl) {
    if (!cg) return false;
    for (const auto& x : cg->controllers())
      if (x == ctl) return true;
    return false;
  };
  OrderedJson warnings = OrderedJson::array();
  if (!cg) warnings.push_back("WARNING: No cgroups: resource limits, stats and pause are unavailable");
  if (!e.keeper_connected())
    warnings.push_back("WARNING: No keeper process: containers started now die with berthd");
  if (e.keeper_losses() > 0)
    warnings.push_back(fmt::format("WARNING: the keeper died {} time(s) since berthd started: the containers it kept "
                                   "died with it",
                                   e.keeper_losses()));
  OrderedJson j = {
      {"ID", "berth"},
      {"Containers", total},
      {"ContainersRunning", running},
      {"ContainersPaused", paused},
      {"ContainersStopped", total - running - paused},
      {"Images", e.images().store().list().size()},
      {"Driver", "overlay2"},
      {"DriverStatus", OrderedJson::array({{"Backing Filesystem", "extfs"}, {"Supports d_type", "true"}})},
      {"Plugins", {{"Volume", {"local"}}, {"Network", {"none", "host"}}, {"Log", {"berth-log"}}}},
      {"MemoryLimit", has("memory")},
      {"SwapLimit", has("memory")},
      {"KernelMemory", false},
      {"KernelMemoryTCP", false},
      {"CpuCfsPeriod", has("cpu")},
      {"CpuCfsQuota", has("cpu")},
      {"CPUShares", has("cpu")},
      {"CPUSet", has("cpuset")},
      {"PidsLimit", has("pids")},
      {"OomKillDisable", false},
      {"IPv4Forwarding", false},
      {"Debug", false},
      {"NFd", 0},
      {"NGoroutines", 1},
      {"SystemTime", format_rfc3339_nano(now_ns())},
      {"LoggingDriver", "berth-log"},
      {"CgroupDriver", "cgroupfs"},
      {"CgroupVersion", cg && cg->version() == cgroups::Version::kV2 ? "2" : "1"},
      {"KernelVersion", kernel_version()},
      {"OperatingSystem", os_name()},
      {"OSType", "linux"},
      {"Architecture", "x86_64"},
      {"NCPU", ::get_nprocs()},
      {"MemTotal", int64_t(si.totalram) * si.mem_unit},
      {"DockerRootDir", e.options().root},
      {"Name", host},
      {"Labels", OrderedJson::array()},
      {"ExperimentalBuild", false},
      {"ServerVersion", kBerthVersion},
      {"Runtimes", {{"berth", {{"path", "builtin"}}}}},
      {"DefaultRuntime", "berth"},
      {"Swarm", {{"LocalNodeState", "inactive"}, {"ControlAvailable", false}}},
      {"LiveRestoreEnabled", e.options().live_restore},
      {"BerthKeeper", {{"Pid", e.keeper_pid()}, {"Connected", e.keeper_connected()}, {"Losses", e.keeper_losses()}}},
      {"Isolation", ""},
      {"InitBinary", ""},
      {"SecurityOptions", OrderedJson::array({"name=seccomp,profile=builtin"})},
      {"Warnings", warnings}};
  c.respond(200, j.dump());
}

}  // namespace

void add_system_routes(std::vector<Route>& r) {
  r.push_back({"GET", "/_ping", ping});
  r.push_back({"GET", "/version", version});
  r.push_back({"GET", "/info", info});
}

}  // namespace berth::ipc
