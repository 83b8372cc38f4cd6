// The reactor: berthd's single io_uring loop.
//
// Thread: every method is reactor-thread-only (the thread that created the
// Reactor and calls run()), except post(), which any thread may call, and
// job bodies given to run_job() and run_background(), which run on pool
// threads and must not touch reactor-owned objects.
//
// Ownership: an operation's state is a Completion embedded in the object that
// owns the operation (a connection, a log pump, a process watcher). The SQE's
// user_data is the Completion's address. The owner, the Completion and any
// buffer handed to the kernel must stay alive until the Completion's last CQE
// has been delivered (in_flight() false): for a multishot op that is the CQE
// without IORING_CQE_F_MORE; for a cancelled op it is the op's own CQE, which
// arrives even when cancelled (as -ECANCELED). Destroying an owner with an op
// in flight is a bug (asserted in ~Completion).
//
// Callbacks never run while the completion queue is being drained: the loop
// copies a batch of CQEs, advances the CQ, then invokes callbacks in order.
// A callback may submit new ops and may destroy owners whose completions are
// all idle, including its own owner (provided the callback touches nothing
// after that).
//
// Blocking work has three lanes (each a JobPool; job_pool.h):
//   run_job         short blocking syscalls on a start's or a request's path
//                   (clone3, mkdir, rename, a state write, cgroup files);
//   run_bulk        long work (tar, digests, unpacking, commit, export), so
//                   a 1 GiB save never holds up a start's clone3;
//   run_background  work ahead of need at nice 10 (warm inits, netns).
// A full lane never runs work inline on the reactor thread: the job waits
// in the reactor's backlog (bounded) until the lane has room.
//
// The watchdog (set_watchdog) names every callback that held the loop
// longer than a threshold while the thread blocked or computed: the check
// behind "the reactor thread never blocks".
#pragma once

#include <liburing.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/histogram.h"
#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::reactor {

class JobPool;

// The background lane's nice value (Reactor::run_background).
constexpr int kBackgroundNice = 10;

class Completion {
 public:
  // res is the CQE result (>= 0 or -errno); flags the CQE flags.
  using Callback = std::function<void(int32_t res, uint32_t flags)>;

  Completion() = default;
  explicit Completion(Callback cb) : cb_(std::move(cb)) {}
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  ~Completion();

  void set_callback(Callback cb) { cb_ = std::move(cb); }
  bool in_flight() const { return in_flight_; }

 private:
  friend class Reactor;
  Callback cb_;
  bool in_flight_ = false;
};

// A group of equally sized buffers the kernel picks from (IOSQE_BUFFER_SELECT),
// registered with io_uring_register_buf_ring (liburing 2.3 has no setup helper).
class BufferRing {
 public:
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group() const { return group_; }
  unsigned buffer_size() const { return size_; }
  char* buffer(unsigned id) { return data_.get() + size_t(id) * size_; }
  // Returns buffer `id` to the kernel. Every buffer the kernel handed out
  // must come back here exactly once, on every completion path.
  void recycle(unsigned id);
  // The buffer id carried by a CQE's flags (IORING_CQE_F_BUFFER must be set).
  static unsigned buffer_id(uint32_t cqe_flags) { return cqe_flags >> IORING_CQE_BUFFER_SHIFT; }
  static bool has_buffer(uint32_t cqe_flags) { return cqe_flags & IORING_CQE_F_BUFFER; }

 private:
  friend class Reactor;
  BufferRing() = default;
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  std::unique_ptr<char[]> data_;
  uint16_t group_ = 0;
  unsigned count_ = 0, size_ = 0, mask_ = 0;
};

struct Stats {
  uint64_t submitted = 0;
  uint64_t completed = 0;
  uint64_t sq_full = 0;   // times the SQ was full and had to be flushed
  uint64_t loops = 0;
  uint64_t submit_retries = 0;   // io_uring_submit said EBUSY/EAGAIN/EINTR: retried
  uint64_t job_backlogged = 0;   // jobs that waited for room in a full lane
  uint64_t watchdog_fired = 0;   // callbacks over the watchdog's threshold
};

// Bounds of the reactor's own queues. Past them something loops (a callback
// that defers itself forever, a producer that ignores back-pressure): the
// daemon stops with a message rather than growing without end.
inline constexpr size_t kMaxDeferred = 1 << 20;
inline constexpr size_t kMaxIdle = 1 << 16;
inline constexpr size_t kMaxBacklog = 1 << 16;
inline constexpr size_t kMaxPosted = 1 << 16;

enum class Lane { kJob, kBulk, kBackground, kTidy };

class Reactor {
 public:
  static Result<std::unique_ptr<Reactor>> create(unsigned entries = 1024, unsigned job_threads = 2);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // --- operations; each arms `c` (which must be idle) -------------------
  void accept_multishot(int listen_fd, Completion& c);
  // One connection (SOCK_NONBLOCK | SOCK_CLOEXEC): for listeners that must
  // not take more than they can serve.
  void accept(int listen_fd, Completion& c);
  void read(int fd, void* buf, unsigned len, uint64_t offset, Completion& c);
  // Reads into a buffer the kernel picks from `ring`; the CQE flags carry its id.
  void read_select(int fd, BufferRing& ring, Completion& c);
  void recv(int fd, void* buf, unsigned len, Completion& c);
  void recv_multishot(int fd, BufferRing& ring, Completion& c);
  void write(int fd, const void* buf, unsigned len, uint64_t offset, Completion& c);
  void writev(int fd, const iovec* iov, unsigned n, uint64_t offset, Completion& c);
  void send(int fd, const void* buf, unsigned len, Completion& c);  // MSG_NOSIGNAL
  void poll(int fd, unsigned poll_mask, Completion& c);              // one shot
  // Submits what is prepared now rather than at the loop's next turn: an
  // operation holds its file from its submission on, so after flush() the
  // caller may close the descriptor it named (OutputPump's parking).
  void flush() { if (io_uring_sq_ready(&ring_)) submit(); }
  // openat(2) by the kernel's workers: the CQE's res is the new fd or
  // -errno. `path` must stay valid until the CQE.
  void openat(int dirfd, const char* path, int flags, mode_t mode, Completion& c);
  // `msg`, its iovecs, name and control buffers must stay valid until the
  // CQE (keep them in the owner, beside the Completion).
  void recvmsg(int fd, msghdr* msg, Completion& c);
  void sendmsg(int fd, const msghdr* msg, Completion& c);  // MSG_NOSIGNAL
  // Connects a (non-blocking) socket; `addr` must stay valid until the CQE.
  void connect(int fd, const sockaddr* addr, socklen_t len, Completion& c);
  // splice(2) of up to `len` bytes from fd_in to fd_out (one of them a
  // pipe) at their current offsets; `flags` are SPLICE_F_*. The kernel runs
  // it on an io-wq worker: with SPLICE_F_NONBLOCK and non-blocking fds it
  // returns -EAGAIN rather than park that worker, so poll first.
  // `off_out` >= 0: fd_out is a file written at that offset (pwrite-like),
  // its file position untouched.
  void splice(int fd_in, int fd_out, unsigned len, unsigned flags, Completion& c, int64_t off_out = -1);
  // `ts` must stay valid until the CQE (keep it beside the Completion).
  void timeout(const __kernel_timespec* ts, Completion& c);
  // Asks the kernel to cancel `target`'s op; target's own CQE still arrives.
  // No-op if target is idle.
  void cancel(Completion& target);

  // Runs `fn` on the reactor thread after the current batch of callbacks.
  void defer(std::function<void()> fn);
  // Any thread: runs `fn` on the reactor thread soon (in posting order per
  // posting thread), for work whose progress a job reports while it runs
  // (a pull's events). Neither side waits: posters push onto a lock-free
  // list and wake the loop through its job eventfd only when the list was
  // empty; the loop takes the whole list at once, before it runs finished
  // jobs' `done`s (so what a job posted runs before its `done`). Returns
  // false, dropping `fn`, when kMaxPosted posts are already waiting: a
  // poster must coalesce rather than post per byte. Posts still waiting
  // when the Reactor is destroyed are dropped; posting after that is a bug
  // (jobs end before: ~Reactor joins the lanes first).
  bool post(std::function<void()> fn);
  // Runs `fn` on the reactor thread once the loop is idle: no completion
  // ready, nothing deferred, no run_job() job queued or running (the
  // background and tidy lanes do not count: idle-time work goes to the
  // first, and the second's clean-ups take long waits, not CPU). One
  // per idle moment, in order. For work that should use only otherwise idle
  // time.
  void when_idle(std::function<void()> fn);
  // Runs `work` on a lane's pool thread; then `done` on the reactor thread.
  // A full lane queues the job in the reactor's backlog until there is
  // room. Returns false (and runs neither) only when that backlog is full
  // too (kMaxBacklog): callers answer "busy" or log the loss.
  // run_job: short blocking syscalls; run_bulk: long work (tar, digests);
  // run_background: ahead-of-need work at nice 10 (processes it forks
  // inherit the nice value); run_tidy: clean-up after the fact that mostly
  // waits in the kernel (a veth's unregister waits for RCU grace periods,
  // ~20 ms), one thread, kept out of the idle test so that the idle-time
  // work (warm inits) is not held back by it.
  bool run_job(std::function<void()> work, std::function<void()> done) {
    return run_on(Lane::kJob, std::move(work), std::move(done));
  }
  bool run_bulk(std::function<void()> work, std::function<void()> done) {
    return run_on(Lane::kBulk, std::move(work), std::move(done));
  }
  bool run_background(std::function<void()> work, std::function<void()> done) {
    return run_on(Lane::kBackground, std::move(work), std::move(done));
  }
  bool run_tidy(std::function<void()> work, std::function<void()> done) {
    return run_on(Lane::kTidy, std::move(work), std::move(done));
  }
  bool run_on(Lane lane, std::function<void()> work, std::function<void()> done);
  // Jobs queued, running or finished but not yet completed, on every lane
  // (backlog included).
  size_t jobs_outstanding() const;
  // Runs the loop until every lane is empty and every job's `done` has run
  // (daemon shutdown: nothing a job holds may be freed under it).
  void drain_jobs();

  // The watchdog: after each callback (completions, deferred, idle, job
  // completions) that took longer than `threshold` of wall time while the
  // reactor thread blocked (a voluntary context switch: a sleeping syscall,
  // a lock, a page fault waiting for I/O) or computed for longer than
  // `cpu_threshold`, `report` gets the callback's name and the times.
  // Preemption alone does not count, and computing has a looser bound: on
  // a VM the hypervisor's steal time is counted as the guest thread's CPU
  // time (on this 2-vCPU VM under load, callbacks doing microseconds of
  // work showed 1-2 ms of CPU). Costs two getrusage calls per callback:
  // for tests and debugging, off by default.
  struct WatchdogEvent {
    std::string name;   // the callback's type, demangled (a lambda names its function)
    int64_t start_us = 0;   // CLOCK_MONOTONIC at the callback's start (to match with traces)
    int64_t wall_us = 0, cpu_us = 0;
    long voluntary_switches = 0;
  };
  void set_watchdog(std::chrono::microseconds threshold, std::chrono::microseconds cpu_threshold,
                    std::function<void(const WatchdogEvent&)> report);

  // Loops until stop() is called. run_once() handles one batch, waiting up
  // to timeout_ms (-1 = forever) for at least one completion.
  void run();
  void run_once(int timeout_ms = -1);
  void stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }

  Result<std::unique_ptr<BufferRing>> create_buffer_ring(uint16_t group, unsigned count, unsigned size);

  const Stats& stats() const { return stats_; }
  // How long each loop iteration ran its callbacks (from the wake-up to the
  // next wait): what a new event may have waited behind them.
  const Histogram& busy() const { return busy_; }
  unsigned pending() const { return pending_; }

 private:
  Reactor() = default;
  io_uring_sqe* get_sqe();
  void arm(io_uring_sqe* sqe, Completion& c);
  void submit();  // io_uring_submit, retried on EBUSY/EAGAIN/EINTR
  void checked(int rc);  // the result of the loop's submit-and-wait
  void submit_job_reader();
  void job_reader_done(int32_t res);
  void flush_backlog();
  void collect_jobs();
  void collect_posted();
  static constexpr int kRetryMs = 1;   // a lane's lock was busy: look again this soon
  JobPool& pool(Lane lane);
  // Runs one callback, timed when the watchdog is on.
  template <class F>
  void invoke(const std::type_info& type, F&& fn);

  io_uring ring_{};
  bool ring_ok_ = false;
  bool stopping_ = false;
  unsigned pending_ = 0;   // ops in flight (completions with in_flight_)
  Stats stats_;
  Histogram busy_ = Histogram::latency();
  struct Cqe { uint64_t user_data; int32_t res; uint32_t flags; };
  std::vector<Cqe> batch_;
  std::deque<std::function<void()>> deferred_;
  std::deque<std::function<void()>> idle_;

  std::unique_ptr<JobPool> jobs_, bulk_, background_, tidy_;
  struct Backlogged {
    Lane lane;
    std::function<void()> work, done;
  };
  std::deque<Backlogged> backlog_;
  bool retry_jobs_ = false;   // a lane's lock was busy, or jobs wait in the backlog
  std::chrono::microseconds watchdog_threshold_{0}, watchdog_cpu_threshold_{0};
  std::function<void(const WatchdogEvent&)> watchdog_report_;
  unique_fd job_event_fd_;
  uint64_t job_event_buf_ = 0;
  Completion job_reader_;
  // post(): a lock-free stack (newest first) the loop takes whole.
  struct PostNode {
    std::function<void()> fn;
    PostNode* next = nullptr;
  };
  std::atomic<PostNode*> posted_{nullptr};
  std::atomic<size_t> posted_count_{0};
};

}  // namespace berth::reactor
