#include "core/engine/stats_hub.h"

#include <unistd.h>

#include <algorithm>
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
  subs_[token] = Sub{id, std::move(cg), std::move(sink)};
  by_id_.emplace(id, token);
  first_waiting_.push_back(token);
  if (!first_pass_running_) first_pass();
  arm_timer();
  return token;
}

void StatsHub::forget(std::map<uint64_t, Sub>::iterator it) {
  auto [from, to] = by_id_.equal_range(it->second.id);
  for (auto i = from; i != to; ++i)
    if (i->second == it->first) {
      by_id_.erase(i);
      break;
    }
  subs_.erase(it);
}

void StatsHub::unsubscribe(uint64_t token) {
  if (auto it = subs_.find(token); it != subs_.end()) forget(it);
}

void StatsHub::container_stopped(const std::string& id) {
  std::vector<uint64_t> tokens;
  auto [from, to] = by_id_.equal_range(id);
  for (auto i = from; i != to; ++i) tokens.push_back(i->second);
  std::vector<Sink> ended;
  for (uint64_t t : tokens)
    if (auto it = subs_.find(t); it != subs_.end()) {
      ended.push_back(std::move(it->second.sink));
      forget(it);
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
    std::map<std::string, std::shared_ptr<cgroups::Cgroup>> unique;
    for (auto& [token, s] : subs_) unique.emplace(s.id, s.cg);
    if (!unique.empty()) {
      full_pass_running_ = true;
      read_pass(Targets(unique.begin(), unique.end()), nullptr, [this] { full_pass_running_ = false; });
    }
  }
  arm_timer();
}

void StatsHub::first_pass() {
  auto tokens = std::make_shared<std::vector<uint64_t>>();
  std::map<std::string, std::shared_ptr<cgroups::Cgroup>> unique;
  for (uint64_t t : first_waiting_)
    if (auto it = subs_.find(t); it != subs_.end()) {
      tokens->push_back(t);
      unique.emplace(it->second.id, it->second.cg);
    }
  first_waiting_.clear();
  if (tokens->empty()) return;
  first_pass_running_ = true;
  first_passes_++;
  read_pass(Targets(unique.begin(), unique.end()), tokens, [this] {
    first_pass_running_ = false;
    if (!first_waiting_.empty()) first_pass();
  });
}

// One pass: its targets, their veths, the subscribers it is for, and what
// is left of it.
struct StatsHub::Pass {
  Targets targets;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> links;  // id -> (host veth, ifname)
  std::map<std::string, netns::InterfaceStats> counters;                          // host veth -> its counters
  std::shared_ptr<std::vector<uint64_t>> first;
  std::function<void()> ended;
  size_t left = 0;   // chunks not yet delivered
};

void StatsHub::read_pass(Targets targets, std::shared_ptr<std::vector<uint64_t>> first, std::function<void()> ended) {
  passes_++;
  if (targets.empty()) return ended();
  auto pass = std::make_shared<Pass>();
  pass->targets = std::move(targets);
  pass->first = std::move(first);
  pass->ended = std::move(ended);
  std::vector<std::string> names;
  if (interfaces_)
    for (const auto& [id, cg] : pass->targets) {
      auto l = interfaces_(id);
      for (const auto& [host, ifname] : l) names.push_back(host);
      if (!l.empty()) pass->links[id] = std::move(l);
    }
  if (names.empty()) return read_chunks(pass);
  // Every veth of the pass in one netlink dump, before the chunks read
  // (a dump per chunk would list all the host's links once per chunk).
  auto dump = [pass, names = std::move(names)] {
    if (auto st = netns::host_side_stats(names))
      for (auto& c : *st) pass->counters[c.name] = std::move(c);
  };
  auto then = [this, alive = alive_, pass] {
    if (*alive) read_chunks(pass);
  };
  if (!r_.run_job(dump, then)) read_chunks(pass);   // without the counters
}

void StatsHub::read_chunks(const std::shared_ptr<Pass>& pass) {
  const size_t n = pass->targets.size();
  pass->left = (n + kChunk - 1) / kChunk;
  for (size_t from = 0; from < n; from += kChunk) {
    auto out = std::make_shared<std::map<std::string, StatsSample>>();
    size_t to = std::min(n, from + kChunk);
    auto work = [pass, out, from, to] {
      uint64_t sys = read_system_cpu_ns();
      int cpus = int(::sysconf(_SC_NPROCESSORS_ONLN));
      for (size_t i = from; i < to; i++) {
        const auto& [id, cg] = pass->targets[i];
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
        if (auto l = pass->links.find(id); l != pass->links.end())
          for (const auto& [host, ifname] : l->second)
            if (auto it = pass->counters.find(host); it != pass->counters.end()) {
              netns::InterfaceStats is = it->second;
              is.name = ifname;
              s.networks.push_back(std::move(is));
            }
        out->emplace(id, std::move(s));
      }
    };
    auto done = [this, alive = alive_, pass, out] {
      if (!*alive) return;
      deliver(*out, pass->first.get());
      if (--pass->left == 0) pass->ended();
    };
    if (!r_.run_job(work, done)) {
      log::warn("engine", "job queue full: stats of {} containers skipped", to - from);
      if (--pass->left == 0) pass->ended();
    }
  }
}

void StatsHub::give(uint64_t token, const StatsSample& s) {
  auto it = subs_.find(token);
  if (it == subs_.end() || s.read_ns <= it->second.last_read_ns) return;   // gone, or an older read
  it->second.last_read_ns = s.read_ns;
  Sink sink = it->second.sink;   // the sink may unsubscribe itself (or another)
  sink(&s);
}

// Each sample to its container's subscribers (all, or the first pass's),
// found through by_id_: a chunk costs its samples' subscribers, not every
// subscriber.
void StatsHub::deliver(const std::map<std::string, StatsSample>& out, const std::vector<uint64_t>* first) {
  std::vector<std::pair<uint64_t, const StatsSample*>> to;
  if (first) {
    for (uint64_t t : *first)
      if (auto it = subs_.find(t); it != subs_.end())
        if (auto s = out.find(it->second.id); s != out.end()) to.push_back({t, &s->second});
  } else {
    for (const auto& [id, sample] : out) {
      auto [from, end] = by_id_.equal_range(id);
      for (auto i = from; i != end; ++i) to.push_back({i->second, &sample});
    }
  }
  for (auto [t, s] : to) give(t, *s);
}

}  // namespace berth::engine
