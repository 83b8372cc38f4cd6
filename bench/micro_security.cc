// What default confinement costs a container start, piece by piece (root
// for the kernel parts; they skip otherwise):
//   - compiling the default seccomp profile (a cache miss) and finding it
//     compiled (the usual start);
//   - loading the compiled program in a fresh process (the child's
//     seccomp(2): the kernel checks the classic BPF, converts and JITs it),
//     timed inside a forked child;
//   - a cheap syscall with and without the filter installed;
//   - the v1 devices cgroup allowlist writes, and loading the v2 BPF device
//     program.
#include <benchmark/benchmark.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/child_value.h"
#include "cgroups/cgroups.h"
#include "cgroups/device_bpf.h"
#include "core/base/strings.h"
#include "core/runtime/capabilities.h"
#include "core/runtime/seccomp.h"

namespace {

using berth::bench::in_child;

using namespace berth;

int64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

std::shared_ptr<const runtime::SeccompProgram> default_program() {
  auto p = runtime::compile_seccomp(runtime::default_seccomp_profile(), runtime::kDefaultCapabilities);
  return p ? *p : nullptr;
}

void BM_SeccompCompileCached(benchmark::State& state) {
  auto warm = default_program();
  for (auto _ : state)
    benchmark::DoNotOptimize(runtime::compile_seccomp(runtime::default_seccomp_profile(), runtime::kDefaultCapabilities));
}
BENCHMARK(BM_SeccompCompileCached);

void BM_SeccompCompileMiss(benchmark::State& state) {
  uint64_t i = 0;
  for (auto _ : state) {  // 64 capability sets cycle through the 32-entry cache: every lookup misses
    uint64_t caps = runtime::kDefaultCapabilities ^ (uint64_t(i++ % 64) << 32);
    benchmark::DoNotOptimize(runtime::compile_seccomp(runtime::default_seccomp_profile(), caps));
  }
}
BENCHMARK(BM_SeccompCompileMiss)->Unit(benchmark::kMillisecond);

int load(const runtime::SeccompProgram& prog) {
  sock_fprog fp{static_cast<unsigned short>(prog.filter.size()), const_cast<sock_filter*>(prog.filter.data())};
  return int(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp));
}

void BM_SeccompLoadInChild(benchmark::State& state) {
  auto prog = default_program();
  if (!prog) return state.SkipWithError("compile failed");
  for (auto _ : state) {
    int64_t ns = in_child([&] {
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      int64_t t = now_ns();
      if (load(*prog) < 0) return int64_t(-1);
      return now_ns() - t;
    }, -1);  // a duration in ns, measured in a child: the filter stays there
    if (ns < 0) return state.SkipWithError("seccomp load failed");
    state.SetIterationTime(double(ns) / 1e9);
  }
  state.counters["instructions"] = double(prog->filter.size());
}
BENCHMARK(BM_SeccompLoadInChild)->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(200);

void getpid_loop(benchmark::State& state, bool filtered) {
  auto prog = default_program();
  constexpr int kCalls = 200000;
  for (auto _ : state) {
    int64_t ns = in_child([&] {
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      if (filtered && load(*prog) < 0) return int64_t(-1);
      int64_t t = now_ns();
      for (int i = 0; i < kCalls; i++) syscall(SYS_getppid);
      return (now_ns() - t) / kCalls;
    }, -1);
    if (ns < 0) return state.SkipWithError("failed");
    state.SetIterationTime(double(ns) / 1e9);
  }
}
void BM_SyscallUnfiltered(benchmark::State& state) { getpid_loop(state, false); }
void BM_SyscallFiltered(benchmark::State& state) { getpid_loop(state, true); }
BENCHMARK(BM_SyscallUnfiltered)->UseManualTime()->Unit(benchmark::kNanosecond)->Iterations(20);
BENCHMARK(BM_SyscallFiltered)->UseManualTime()->Unit(benchmark::kNanosecond)->Iterations(20);

void BM_V1DeviceAllowlist(benchmark::State& state) {
  auto driver = cgroups::detect();
  if (!driver || (*driver)->version() != cgroups::Version::kV1) return state.SkipWithError("no cgroup v1 here");
  std::string name = "berth-bench-dev-" + random_id().substr(0, 8);
  for (auto _ : state) {
    state.PauseTiming();
    auto cg = (*driver)->create("", name);
    if (!cg) return state.SkipWithError(cg.error().message().c_str());
    state.ResumeTiming();
    auto r = (*cg)->set_devices(cgroups::default_device_rules());
    state.PauseTiming();
    (void)(*cg)->destroy();
    if (!r) return state.SkipWithError(r.error().message().c_str());
    state.ResumeTiming();
  }
}
BENCHMARK(BM_V1DeviceAllowlist)->Unit(benchmark::kMicrosecond)->Iterations(200);

void BM_V2DeviceProgramLoad(benchmark::State& state) {
  auto insns = cgroups::device_program(cgroups::default_device_rules());
  for (auto _ : state) {
    auto fd = cgroups::load_device_program(insns);
    if (!fd) return state.SkipWithError(fd.error().message().c_str());
  }
}
BENCHMARK(BM_V2DeviceProgramLoad)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
