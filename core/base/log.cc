#include "core/base/log.h"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "core/base/assert.h"
#include "core/base/unique_fd.h"

namespace berth::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}
void write_all(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n <= 0) return;  // stderr closed or full disk: nothing to tell it to
    text.remove_prefix(size_t(n));
  }
}

// The writer thread's buffer (start_writer). Producers only try_lock it:
// a thread that finds it taken (the writer swapping buffers, or another
// producer, preempted on a busy host) keeps its lines in a buffer of its own
// and hands them over with its next line or flush_pending(), so logging
// never waits. The writer sleeps on an eventfd, not a condition variable
// (glibc's pthread_cond_signal can wait on the condvar's internal lock).
struct Writer {
  std::mutex mu;
  unique_fd wake;   // eventfd: lines are waiting
  std::string buf;
  uint64_t dropped = 0;
  bool stop = false;
  std::thread thread;

  void run() {
    // Signals are for the daemon's own thread (its signalfd), never this one.
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::string out;
    for (;;) {
      uint64_t n;
      if (::read(wake.get(), &n, sizeof n) < 0) continue;  // EINTR
      uint64_t lost;
      bool done;
      {
        std::lock_guard lk(mu);
        out.swap(buf);
        lost = dropped;
        dropped = 0;
        done = stop;
      }
      if (lost) write_all(fmt::format("(berth log: {} lines dropped, the log could not keep up)\n", lost));
      write_all(out);
      out.clear();
      if (done) return;
    }
  }
  void notify() {
    uint64_t one = 1;
    ssize_t r = ::write(wake.get(), &one, sizeof one);
    (void)r;
  }
};
thread_local std::string t_spill;   // lines this thread could not hand over yet
thread_local bool t_never_wait = false;   // never_wait_on_this_thread()
std::atomic<Writer*> g_writer{nullptr};

}  // namespace

void start_writer() {
  if (g_writer.load()) return;
  auto* w = new Writer();
  w->wake.reset(::eventfd(0, EFD_CLOEXEC));
  w->thread = std::thread([w] { w->run(); });
  g_writer.store(w);
}

void never_wait_on_this_thread() { t_never_wait = true; }

void stop_writer() {
  t_never_wait = false;
  flush_pending();
  Writer* w = g_writer.exchange(nullptr);
  if (!w) return;
  {
    std::lock_guard lk(w->mu);
    w->stop = true;
  }
  w->notify();
  w->thread.join();
  delete w;
}

void flush_pending() {
  Writer* w = g_writer.load(std::memory_order_acquire);
  if (!w || t_spill.empty()) return;
  {
    std::unique_lock lk(w->mu, std::defer_lock);
    if (t_never_wait) (void)lk.try_lock();
    else lk.lock();
    if (!lk.owns_lock()) {
      if (t_spill.size() > kMaxBuffered) t_spill.clear();  // stuck for long: drop (counted as one)
      return;
    }
    if (w->buf.size() + t_spill.size() > kMaxBuffered) w->dropped += 1;
    else w->buf += t_spill;
  }
  t_spill.clear();
  w->notify();
}

void set_level(Level l) { g_level.store(l, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view s, Level* out) {
  if (s == "debug") *out = Level::kDebug;
  else if (s == "info") *out = Level::kInfo;
  else if (s == "warn" || s == "warning") *out = Level::kWarn;
  else if (s == "error") *out = Level::kError;
  else return false;
  return true;
}

void write(Level l, std::string_view component, std::string_view msg) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  std::string line = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z {} {} {}\n",
                                 t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                                 t.tm_min, t.tm_sec, ts.tv_nsec / 1000, level_name(l),
                                 component, msg);
  if (g_writer.load(std::memory_order_acquire)) {
    t_spill += line;
    return flush_pending();
  }
  // One write per line; stderr may be a pipe shared with other writers.
  write_all(line);
}

}  // namespace berth::log

namespace berth {
void assert_fail(const char* expr, const char* file, int line, const char* msg) {
  // What the log writer still holds goes first: the lines before a crash
  // tell most about it.
  if (auto* w = log::g_writer.load(); w && w->mu.try_lock()) {
    log::write_all(w->buf);
    w->buf.clear();
    w->mu.unlock();
  }
  std::fprintf(stderr, "berth: assertion failed: %s at %s:%d%s%s\n", expr, file, line,
               msg ? ": " : "", msg ? msg : "");
  std::abort();
}
}  // namespace berth
