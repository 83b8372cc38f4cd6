// What one container's stats read costs, on this host's real cgroups (root;
// skipped otherwise). 1,000 empty cgroups are made with the driver under a
// parent of this process's own cgroup, as berthd makes containers'; then
// BM_Stats reads Cgroup::stats() of each in turn (what a stats pass does
// per container: on v1, 13 control files in 5 hierarchies). The cgroups
// are removed at the end.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "cgroups/cgroups.h"

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

}  // namespace

BENCHMARK_MAIN();
