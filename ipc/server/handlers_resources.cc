// Resource control endpoints: /containers/{id}/pause, /unpause, /update,
// /stats and /top.
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/create_request.h"
#include "ipc/server/exec_update_request.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

#include "ipc/server/api_fields.h"

namespace berth::ipc {

namespace {

using engine::Container;
using engine::StatsSample;

void pause(Server& s, Connection& c, const Params& p) {
  if (Container* ct = find_or_respond(s, c, p[0])) s.engine().pause(*ct, reply(s, c, 204));
}

void unpause(Server& s, Connection& c, const Params& p) {
  if (Container* ct = find_or_respond(s, c, p[0])) s.engine().unpause(*ct, reply(s, c, 204));
}

void update(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  std::vector<std::string> warnings;
  auto res = parse_update_request(c.body(), &warnings);
  if (!res) return c.respond_error(res.error());
  s.engine().update(*ct, res->resources, res->restart, [&s, serial = c.serial(), warnings](Result<std::vector<std::string>> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return conn->respond_error(r.error());
    std::vector<std::string> all = warnings;
    all.insert(all.end(), r->begin(), r->end());
    OrderedJson j = {{"Warnings", all}};
    conn->respond(200, j.dump());
  });
}

// ---- stats ----

uint64_t host_memory() {
  struct sysinfo si {};
  ::sysinfo(&si);
  return uint64_t(si.totalram) * si.mem_unit;
}

OrderedJson blkio_json(const std::vector<cgroups::BlkioEntry>& v) {
  OrderedJson a = OrderedJson::array();
  for (const auto& e : v) a.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  return a;
}

OrderedJson cpu_json(const StatsSample* s) {
  if (!s) {
    return {{"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
            {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}};
  }
  const auto& st = s->stats;
  OrderedJson usage = {{"total_usage", st.cpu_total_ns},
                       {"usage_in_kernelmode", st.cpu_system_ns},
                       {"usage_in_usermode", st.cpu_user_ns}};
  if (!st.cpu_percpu_ns.empty()) usage["percpu_usage"] = st.cpu_percpu_ns;
  return {{"cpu_usage", usage},
          {"system_cpu_usage", s->system_cpu_ns},
          {"online_cpus", s->online_cpus},
          {"throttling_data",
           {{"periods", st.throttling_periods},
            {"throttled_periods", st.throttled_periods},
            {"throttled_time", st.throttled_time_ns}}}};
}

// Docker's stats object. `cur` null: a container that is not running (all
// zeros, as Docker answers); `pre` null: no earlier sample.
std::string stats_json(const Container& ct, const StatsSample* cur, const StatsSample* pre) {
  constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";
  OrderedJson mem = OrderedJson::object();
  OrderedJson pids = OrderedJson::object();
  OrderedJson blkio = {{"io_service_bytes_recursive", nullptr}, {"io_serviced_recursive", nullptr},
                       {"io_queue_recursive", nullptr},        {"io_service_time_recursive", nullptr},
                       {"io_wait_time_recursive", nullptr},    {"io_merged_recursive", nullptr},
                       {"io_time_recursive", nullptr},         {"sectors_recursive", nullptr}};
  if (cur) {
    const auto& st = cur->stats;
    OrderedJson kv = OrderedJson::object();
    for (const auto& [k, v] : st.memory_stat) kv[k] = v;
    mem = {{"usage", st.memory_usage},
           {"max_usage", st.memory_max_usage},
           {"stats", kv},
           {"limit", st.memory_limit ? std::min(st.memory_limit, host_memory()) : host_memory()}};
    if (st.oom_kills) mem["failcnt"] = st.oom_kills;
    pids = {{"current", st.pids_current}};
    if (st.pids_limit) pids["limit"] = st.pids_limit;
    if (!st.io_service_bytes.empty()) blkio["io_service_bytes_recursive"] = blkio_json(st.io_service_bytes);
    if (!st.io_serviced.empty()) blkio["io_serviced_recursive"] = blkio_json(st.io_serviced);
  }
  OrderedJson j = {{"read", cur ? format_rfc3339_nano(cur->read_ns) : kZeroTime},
                   {"preread", pre ? format_rfc3339_nano(pre->read_ns) : kZeroTime},
                   {"pids_stats", pids},
                   {"blkio_stats", blkio},
                   {"num_procs", 0},
                   {"storage_stats", OrderedJson::object()},
                   {"cpu_stats", cpu_json(cur)},
                   {"precpu_stats", cpu_json(pre)},
                   {"memory_stats", mem},
                   {"name", "/" + ct.name},
                   {"id", ct.id}};
  // Docker's per-interface counters; absent without a network.
  if (cur && !cur->networks.empty()) {
    OrderedJson nets = OrderedJson::object();
    for (const auto& n : cur->networks)
      nets[n.name] = {{"rx_bytes", n.rx_bytes},   {"rx_packets", n.rx_packets}, {"rx_errors", n.rx_errors},
                      {"rx_dropped", n.rx_dropped}, {"tx_bytes", n.tx_bytes},   {"tx_packets", n.tx_packets},
                      {"tx_errors", n.tx_errors}, {"tx_dropped", n.tx_dropped}};
    j["networks"] = nets;
  }
  return j.dump() + "\n";
}

// One stats request: a stream (stream=true, the default), two samples one
// interval apart so precpu is filled (stream=false), or one (one-shot=true).
// A stream's head goes at once. An answer of one object is a plain response
// sent when its sample is there, head and body together, as dockerd sends
// it: the docker CLI gives each container's body 2 s from its head, and on
// a host with thousands of containers the second sample can take longer.
struct StatsWatch {
  Server& s;
  uint64_t serial;
  std::string id;
  bool stream, one_shot;
  uint64_t token = 0;
  bool ended = false;
  std::unique_ptr<StatsSample> prev;

  void on_sample(const StatsSample* sample) {
    Connection* conn = s.lookup(serial);
    if (!conn || ended) return finish(conn);
    auto found = s.engine().find(id);
    if (!found || !sample) return finish(conn);
    const StatsSample* pre = prev ? prev.get() : nullptr;
    if (stream) {
      conn->send_chunk(stats_json(**found, sample, pre));
    } else if (one_shot || pre) {
      ended = true;
      if (token) s.engine().resources().unwatch_stats(token);
      return conn->respond(200, stats_json(**found, sample, one_shot ? nullptr : pre));
    }
    prev = std::make_unique<StatsSample>(*sample);
  }
  // No more samples: a stream ends; a pending answer is the stopped
  // container's all-zero object (or 404 once it is gone).
  void finish(Connection* conn) {
    if (ended) return;
    ended = true;
    if (token) s.engine().resources().unwatch_stats(token);
    if (!conn) return;
    if (stream) return conn->end_stream();
    auto found = s.engine().find(id);
    if (!found) return conn->respond_error(Error::not_found("No such container: {}", id));
    conn->respond(200, stats_json(**found, nullptr, nullptr));
  }
};

void stats(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  auto stream = c.request().query_bool("stream", true);
  auto one_shot = c.request().query_bool("one-shot", false);
  if (!stream || !one_shot) return c.respond_error(!stream ? stream.error() : one_shot.error());
  if (*one_shot && *stream) return c.respond_error(Error::invalid("cannot have stream=true and one-shot=true"));
  bool running = ct->state.status == engine::Status::kRunning || ct->state.status == engine::Status::kPaused;
  if (!running) {
    // Docker answers a stopped container with one all-zero object.
    return c.respond(200, stats_json(*ct, nullptr, nullptr));
  }
  if (*stream) c.start_stream(200, "application/json");
  else c.close_on_hangup();   // a client gone before the answer stops the watch
  auto w = std::make_shared<StatsWatch>(StatsWatch{s, c.serial(), ct->id, *stream, *one_shot});
  uint64_t token = s.engine().resources().watch_stats(*ct, [w](const StatsSample* sample) { w->on_sample(sample); });
  if (w->ended) return;
  w->token = token;
  c.on_close([w] {
    if (w->ended) return;
    w->ended = true;
    if (w->token) w->s.engine().resources().unwatch_stats(w->token);
  });
}

// ---- top ----

struct ProcInfo {
  pid_t pid = 0, ppid = 0;
  uid_t uid = 0;
  std::string state, cmd, comm;
  uint64_t utime = 0, stime = 0, start = 0, rss_pages = 0, vsize = 0;
};

std::optional<ProcInfo> read_proc(pid_t pid) {
  std::string dir = fmt::format("/proc/{}", pid);
  auto stat = read_file(dir + "/stat");
  if (!stat) return std::nullopt;
  ProcInfo pi;
  pi.pid = pid;
  auto open = stat->find('('), close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos) return std::nullopt;
  pi.comm = stat->substr(open + 1, close - open - 1);
  auto f = split(std::string_view(*stat).substr(close + 2), ' ');
  // Fields after ")": state(0) ppid(1) ... utime(11) stime(12) ... starttime(19) vsize(20) rss(21)
  if (f.size() < 22) return std::nullopt;
  pi.state = f[0];
  pi.ppid = pid_t(parse_int(f[1]).value_or(0));
  pi.utime = uint64_t(parse_int(f[11]).value_or(0));
  pi.stime = uint64_t(parse_int(f[12]).value_or(0));
  pi.start = uint64_t(parse_int(f[19]).value_or(0));
  pi.vsize = uint64_t(parse_int(f[20]).value_or(0));
  pi.rss_pages = uint64_t(parse_int(f[21]).value_or(0));
  if (auto st = read_file(dir + "/status"))
    for (const auto& line : split(*st, '\n'))
      if (starts_with(line, "Uid:")) {
        auto parts = split(line.substr(4), '\t');
        for (const auto& x : parts)
          if (!x.empty()) {
            pi.uid = uid_t(parse_int(x).value_or(0));
            break;
          }
      }
  if (auto cl = read_file(dir + "/cmdline"); cl && !cl->empty()) {
    std::string cmd = *cl;
    while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    pi.cmd = cmd;
  } else {
    pi.cmd = "[" + pi.comm + "]";
  }
  return pi;
}

std::string clock_text(uint64_t ticks) {
  long hz = ::sysconf(_SC_CLK_TCK);
  uint64_t secs = ticks / uint64_t(hz > 0 ? hz : 100);
  return fmt::format("{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60);
}

// ps_args: "-ef" (the default) or "aux"; anything else is refused rather
// than run through a real ps on the host.
void top(Server& s, Connection& c, const Params& p) {
  Container* ct = find_or_respond(s, c, p[0]);
  if (!ct) return;
  std::string args = c.request().query_value("ps_args").value_or("-ef");
  if (args.empty()) args = "-ef";
  bool aux = args == "aux" || args == "-aux";
  if (!aux && args != "-ef" && args != "ef" && args != "-e" && args != "-f")
    return c.respond_error(Error::invalid("unsupported ps_args \"{}\" (supported: -ef, aux)", args));
  auto pids = s.engine().resources().pids(*ct);
  if (!pids) return c.respond_error(pids.error());
  std::sort(pids->begin(), pids->end());
  OrderedJson titles = aux ? OrderedJson{"USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"}
                           : OrderedJson{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"};
  OrderedJson procs = OrderedJson::array();
  long page_kb = ::sysconf(_SC_PAGESIZE) / 1024;
  for (pid_t pid : *pids) {
    auto pi = read_proc(pid);
    if (!pi) continue;  // exited meanwhile
    std::string uid = std::to_string(pi->uid);
    std::string time = clock_text(pi->utime + pi->stime);
    if (aux)
      procs.push_back({uid, std::to_string(pi->pid), "0.0", "0.0", std::to_string(pi->vsize / 1024),
                       std::to_string(pi->rss_pages * uint64_t(page_kb)), "?", pi->state, "-", time, pi->cmd});
    else
      procs.push_back({uid, std::to_string(pi->pid), std::to_string(pi->ppid), "0", "-", "?", time, pi->cmd});
  }
  OrderedJson j = {{"Titles", titles}, {"Processes", procs}};
  c.respond(200, j.dump());
}

}  // namespace

void add_resource_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/containers/{}/pause", pause});
  r.push_back({"POST", "/containers/{}/unpause", unpause});
  r.push_back({"POST", "/containers/{}/update", update});
  r.push_back({"GET", "/containers/{}/stats", stats});
  r.push_back({"GET", "/containers/{}/top", top});
}

}  // namespace berth::ipc
