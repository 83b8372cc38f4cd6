// What one container's stats read costs, on this host's real cgroups (root;
// skipped otherwise). 1,000 empty cgroups are made with the driver under a
// parent of this process's own cgroup, as berthd makes containers'; then:
//   - BM_Stats: Cgroup::stats() of each in turn (what a stats pass does per
//     container);
//   - BM_ControlFiles: only the open, read and close of the v1 files a stats
//     read opens (13 in 5 hierarchies), each by its whole path. v1 hosts
//     only.
// The cgroups are removed at the end.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cgroups/cgroups.h"
#include "cgroups/control.h"

namespace {

using namespace berth;

constexpr int kCgroups = 1000;

struct Fixture {
  std::unique_ptr<cgroups::Driver> driver;
  std::vector<std::unique_ptr<cgroups::Cgroup>> cgs;
  std::string parent = "berth-bench-stats-" + std::to_string(::getpid());
  std::string error;

  Fixture() {
    if (::geteuid() != 0) {
      error = "needs root";
      return;
    }
    auto d = cgroups::detect();
    if (!d) {
      error = d.error().message();
      return;
    }
    driver = std::move(*d);
    for (int i = 0; i < kCgroups; i++) {
      auto cg = driver->create(parent, "c" + std::to_string(i));
      if (!cg) {
        error = cg.error().message();
        return;
      }
      cgs.push_back(std::move(*cg));
    }
  }
  ~Fixture() {
    for (auto& cg : cgs) (void)cgroups::destroy_retrying(*cg);
    // The parent, in every hierarchy.
    if (driver)
      if (auto p = driver->open("", parent)) (void)cgroups::destroy_retrying(**p);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// The v1 files of a stats read, per controller (v1_memory.cc, v1_cpu.cc,
// v1_pids.cc, v1_blkio.cc).
const std::vector<std::pair<std::string, std::vector<std::string>>>& v1_files() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> files = {
      {"memory",
       {"memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.limit_in_bytes", "memory.stat",
        "memory.oom_control"}},
      {"cpuacct", {"cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"}},
      {"cpu", {"cpu.stat"}},
      {"pids", {"pids.current", "pids.max"}},
      {"blkio", {"blkio.throttle.io_service_bytes", "blkio.throttle.io_serviced"}}};
  return files;
}

// This process's cgroup in each v1 hierarchy (/proc/self/cgroup), where the
// driver made the parent.
std::string self_in(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string list = "," + line.substr(a + 1, b - a - 1) + ",";
    if (list.find("," + controller + ",") != std::string::npos) return line.substr(b + 1) == "/" ? "" : line.substr(b + 1);
  }
  return "";
}

// Each cgroup's directory per v1 controller; a missing one is named.
std::vector<std::vector<std::string>> v1_dirs(const Fixture& f, std::string* missing) {
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < f.cgs.size(); i++) {
    std::vector<std::string> dirs;
    for (const auto& [controller, files] : v1_files()) {
      dirs.push_back("/sys/fs/cgroup/" + controller + self_in(controller) + "/" + f.parent + "/c" + std::to_string(i));
      if (::access(dirs.back().c_str(), F_OK) < 0) *missing = dirs.back();
    }
    out.push_back(std::move(dirs));
  }
  return out;
}

void BM_Stats(benchmark::State& state) {
  Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  size_t i = 0;
  for (auto _ : state) {
    auto s = f.cgs[i++ % f.cgs.size()]->stats();
    if (!s) return state.SkipWithError(s.error().message().c_str());
    benchmark::DoNotOptimize(s->memory_usage);
  }
}
BENCHMARK(BM_Stats);

void BM_ControlFiles(benchmark::State& state) {
  Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  if (f.driver->version() != cgroups::Version::kV1) return state.SkipWithError("a v1 host only");
  std::string missing;
  auto dirs = v1_dirs(f, &missing);
  if (!missing.empty()) return state.SkipWithError(("no directory " + missing).c_str());
  size_t i = 0;
  for (auto _ : state) {
    const auto& mine = dirs[i++ % dirs.size()];
    for (size_t c = 0; c < mine.size(); c++)
      for (const auto& file : v1_files()[c].second) {
        auto text = cgroups::read_control_if_exists(mine[c], file);
        if (!text) return state.SkipWithError(text.error().message().c_str());
        benchmark::DoNotOptimize(text->has_value());
      }
  }
}

BENCHMARK(BM_ControlFiles);

}  // namespace

BENCHMARK_MAIN();
