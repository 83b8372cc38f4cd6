// Reactor op rate: a write and a read on a pipe per iteration, batched
// `range(0)` pairs per loop turn; and the job-pool round trip.
#include <fcntl.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "core/reactor/reactor.h"

using berth::reactor::Completion;
using berth::reactor::Reactor;

static void BM_PipeWriteRead(benchmark::State& state) {
  auto r = std::move(*Reactor::create(1024, 1));
  const int batch = int(state.range(0));
  struct Pair {
    int fds[2];
    char out[64] = {}, in[64];
    Completion w, rd;
  };
  std::vector<std::unique_ptr<Pair>> pairs;
  int done = 0;
  for (int i = 0; i < batch; i++) {
    auto p = std::make_unique<Pair>();
    if (pipe2(p->fds, O_CLOEXEC) < 0) state.SkipWithError("pipe");
    p->w.set_callback([](int32_t, uint32_t) {});
    p->rd.set_callback([&done](int32_t, uint32_t) { done++; });
    pairs.push_back(std::move(p));
  }
  for (auto _ : state) {
    done = 0;
    for (auto& p : pairs) {
      r->write(p->fds[1], p->out, sizeof p->out, uint64_t(-1), p->w);
      r->read(p->fds[0], p->in, sizeof p->in, uint64_t(-1), p->rd);
    }
    while (done < batch || r->pending() > 1) r->run_once(-1);
  }
  state.SetItemsProcessed(state.iterations() * batch * 2);
  for (auto& p : pairs) {
    close(p->fds[0]);
    close(p->fds[1]);
  }
}
BENCHMARK(BM_PipeWriteRead)->Arg(1)->Arg(64)->Arg(512);

static void BM_JobRoundTrip(benchmark::State& state) {
  auto r = std::move(*Reactor::create(256, 2));
  for (auto _ : state) {
    bool done = false;
    r->run_job([] {}, [&done] { done = true; });
    while (!done) r->run_once(-1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JobRoundTrip);

BENCHMARK_MAIN();
