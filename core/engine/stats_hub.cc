#include "core/engine/stats_hub.h"

#include <unistd.h>

#include <vector>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"

namespace berth::engine {

uint64_t read_system_cpu_ns() {
  auto text = read_file("/proc/stat");
  if (!text) return 0;
  std::string_view line(*text);
  line = line.substr(0, line.find('\n'));
  if (!starts_with(line, "cpu ")) return 0;
  uint64_t ticks = 0;
  // user nice system idle iowait irq softirq steal (guest is already in user)
  int field = 0;
  for (auto& tok : split(line.substr(4), ' ')) {
    if (tok.empty()) continue;
    if (field++ >= 8) break;
    ticks += uint64_t(parse_int(tok).value_or(0));
  }
  long hz = ::sysconf(_SC_CLK_TCK);
  return ticks * (1000000000ull / uint64_t(hz > 0 ? hz : 100));
}

StatsHub::StatsHub(reactor::Reactor& r, int64_t interval_ms) : r_(r) {
  interval_.tv_sec = interval_ms / 1000;
  interval_.tv_nsec = (interval_ms % 1000) * 1000000;
  timer_c_.set_callback([this](int32_t res, uint32_t) { tick(res); });
}

StatsHub::~StatsHub() {
  *alive_ = false;
  if (timer_c_.in_flight()) r_.cancel(timer_c_);
}

uint64_t StatsHub::subscribe(const std::string& id, std::shared_ptr<cgroups::Cgroup> cg, Sink sink) {
  uint64_t token = next_token_++;
  subs_[token] = Sub{id, cg, std::move(sink)};
  read_pass({{id, std::move(cg)}}, token);
  arm_timer();
  return token;
}

void StatsHub::unsubscribe(uint64_t token) { subs_.erase(token); }

void StatsHub::container_stopped(const std::string& id) {
  std::vector<Sink> ended;
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (it->second.id == id) {
      ended.push_back(std::move(it->second.sink));
      it = subs_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& s : ended) s(nullptr);
}

void StatsHub::arm_timer() {
  if (subs_.empty() || timer_c_.in_flight()) return;
  r_.timeout(&interval_, timer_c_);
}

void StatsHub::tick(int32_t res) {
  if (res == -ECANCELED || !*alive_) return;
  // A pass that takes longer than the interval (thousands of containers)
  // is not joined by another: the next starts at a tick after it ended.
  if (!full_pass_running_) {
    std::map<std::string, std::shared_ptr<cgroups::Cgroup>> targets;
    for (auto& [token, s] : subs_) targets.emplace(s.id, s.cg);
    if (!targets.empty()) read_pass(std::move(targets));
  }
  arm_timer();
}

void StatsHub::read_pass(std::map<std::string, std::shared_ptr<cgroups::Cgroup>> targets,
                         uint64_t only_token) {
  struct Pass {
    std::map<std::string, std::shared_ptr<cgroups::Cgroup>> targets;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> links;  // id -> (host veth, ifname)
    std::map<std::string, StatsSample> out;
  };
  auto pass = std::make_shared<Pass>();
  pass->targets = std::move(targets);
  if (interfaces_)
    for (const auto& [id, cg] : pass->targets) pass->links[id] = interfaces_(id);
  passes_++;
  auto work = [pass] {
    uint64_t sys = read_system_cpu_ns();
    int cpus = int(::sysconf(_SC_NPROCESSORS_ONLN));
    // Every container's veths in one netlink dump.
    std::vector<std::string> names;
    for (const auto& [id, l] : pass->links)
      for (const auto& [host, ifname] : l) names.push_back(host);
    std::map<std::string, netns::InterfaceStats> counters;
    if (!names.empty())
      if (auto st = netns::host_side_stats(names))
        for (auto& c : *st) counters[c.name] = std::move(c);
    for (auto& [id, cg] : pass->targets) {
      StatsSample s;
      s.system_cpu_ns = sys;
      s.online_cpus = cpus;
      s.read_ns = now_ns();
      if (cg) {
        auto st = cg->stats();
        if (st) {
          s.stats = std::move(*st);
          s.ok = true;
        }
      }
      for (const auto& [host, ifname] : pass->links[id])
        if (auto it = counters.find(host); it != counters.end()) {
          netns::InterfaceStats is = it->second;
          is.name = ifname;
          s.networks.push_back(std::move(is));
        }
      pass->out.emplace(id, std::move(s));
    }
  };
  auto done = [this, alive = alive_, pass, only_token] {
    if (!*alive) return;
    if (!only_token) full_pass_running_ = false;
    deliver(pass->out, only_token);
  };
  if (!only_token) full_pass_running_ = true;
  if (!r_.run_job(work, done)) {
    if (!only_token) full_pass_running_ = false;
    log::warn("engine", "job queue full: stats pass skipped");
  }
}

// One walk over the subscribers, whatever the number of samples: a pass of
// every container must not cost subscribers x containers.
void StatsHub::deliver(const std::map<std::string, StatsSample>& out, uint64_t only_token) {
  std::vector<std::pair<uint64_t, const StatsSample*>> to;
  if (only_token) {
    auto it = subs_.find(only_token);
    if (it == subs_.end()) return;
    auto s = out.find(it->second.id);
    if (s != out.end()) to.push_back({only_token, &s->second});
  } else {
    for (auto& [token, sub] : subs_)
      if (auto s = out.find(sub.id); s != out.end()) to.push_back({token, &s->second});
  }
  for (auto [t, s] : to) {
    auto it = subs_.find(t);
    if (it == subs_.end()) continue;  // a sink unsubscribed another
    Sink sink = it->second.sink;      // the sink may unsubscribe itself
    sink(s);
  }
}

}  // namespace berth::engine
