// /_ping, /version, /info, /metrics.
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/base/file.h"
#include "core/base/histogram.h"
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
      {"SecurityOptions", e.options().userns_remap
                              ? OrderedJson::array({"name=seccomp,profile=builtin", "name=userns"})
                              : OrderedJson::array({"name=seccomp,profile=builtin"})},
      {"BerthUsernsRemap", e.options().userns_remap_name},
      {"Warnings", warnings}};
  c.respond(200, j.dump());
}

void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// A metric with one unlabelled sample: its header and value, the name once.
template <typename T>
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help, T value) {
  metric(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

void histogram(std::string& out, std::string_view name, std::string_view help, const Histogram& h) {
  metric(out, name, "histogram", help);
  uint64_t cum = 0;
  for (size_t i = 0; i < h.bounds().size(); i++) {
    cum += h.counts()[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, h.bounds()[i], cum);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, h.count(), name, h.sum_s(),
                     name, h.count());
}

// Prometheus' text format (0.0.4): what an operator of a dense node watches.
void metrics(Server& s, Connection& c, const Params&) {
  using engine::Status;
  auto& e = s.engine();
  std::string out;
  metric(out, "berth_containers", "gauge", "Containers by state.");
  for (Status st : {Status::kCreated, Status::kRunning, Status::kPaused, Status::kRestarting, Status::kRemoving,
                    Status::kExited, Status::kDead})
    out += fmt::format("berth_containers{{state=\"{}\"}} {}\n", engine::status_name(st), e.count(st));
  const auto& k = e.counters();
  single(out, "berth_container_starts_total", "counter", "Container starts begun (past validation).", k.starts);
  single(out, "berth_container_start_failures_total", "counter", "Container starts that failed.", k.start_failures);
  histogram(out, "berth_container_start_seconds", "From a start's request to the container running.", k.start_latency);
  single(out, "berth_log_bytes_total", "counter", "Container output written to log files.", k.log_bytes);
  single(out, "berth_log_dropped_bytes_total", "counter", "Output dropped by non-blocking logs (mode=non-blocking).",
         k.log_dropped_bytes);
  single(out, "berth_log_dropped_records_total", "counter", "Records dropped by non-blocking logs.",
         k.log_dropped_records);
  single(out, "berth_warm_inits_ready", "gauge", "Warm container inits ready for adoption.", e.warm_ready());
  const auto& rs = s.reactor().stats();
  histogram(out, "berth_reactor_busy_seconds",
            "Time each reactor loop iteration ran callbacks: how long a new event may wait behind them.",
            s.reactor().busy());
  single(out, "berth_reactor_loops_total", "counter", "Reactor loop iterations.", rs.loops);
  single(out, "berth_reactor_completions_total", "counter", "io_uring completions handled.", rs.completed);
  single(out, "berth_reactor_jobs_backlogged_total", "counter", "Jobs that waited for room in a full job lane.",
         rs.job_backlogged);
  single(out, "berth_api_connections", "gauge", "Open API connections.", s.connections());
  const auto& fds = e.fd_budget();
  single(out, "berth_fds_open", "gauge", "File descriptors berthd has open.", count_open_fds());
  single(out, "berth_fds_limit", "gauge", "berthd's file descriptor limit (RLIMIT_NOFILE).", fds.limit());
  single(out, "berth_fds_reserve", "gauge",
         "Descriptors a start must leave free (beyond it, starts are refused before they begin).", fds.reserve());
  c.respond(200, std::move(out), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

void add_system_routes(std::vector<Route>& r) {
  r.push_back({"GET", "/metrics", metrics});
  r.push_back({"GET", "/_ping", ping});
  r.push_back({"GET", "/version", version});
  r.push_back({"GET", "/info", info});
}

}  // namespace berth::ipc
