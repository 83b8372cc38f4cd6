#include "core/reactor/reactor.h"

#include <cxxabi.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <iterator>
#include <typeinfo>

#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/reactor/job_pool.h"

namespace berth::reactor {

Completion::~Completion() {
  BERTH_ASSERT_MSG(!in_flight_, "Completion destroyed with an operation in flight");
}

BufferRing::~BufferRing() {
  if (br_) {
    io_uring_unregister_buf_ring(ring_, group_);
    ::munmap(br_, br_bytes_);
  }
}

void BufferRing::recycle(unsigned id) {
  BERTH_ASSERT(id < count_);
  io_uring_buf_ring_add(br_, buffer(id), size_, id, mask_, 0);
  io_uring_buf_ring_advance(br_, 1);
}

Result<std::unique_ptr<Reactor>> Reactor::create(unsigned entries, unsigned job_threads) {
  std::unique_ptr<Reactor> r(new Reactor());
  log::never_wait_on_this_thread();  // the loop's thread (logging must not wait either)
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
            IORING_SETUP_CQSIZE;
  p.cq_entries = entries * 4;
  int rc = io_uring_queue_init_params(entries, &r->ring_, &p);
  if (rc == -EINVAL) {
    // Kernels before 6.1 lack DEFER_TASKRUN.
    p = {};
    p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
    p.cq_entries = entries * 4;
    rc = io_uring_queue_init_params(entries, &r->ring_, &p);
  }
  if (rc < 0)
    return Error::sys(-rc, "io_uring_setup ({} entries; is io_uring disabled by "
                           "kernel.io_uring_disabled or a seccomp filter?)", entries);
  r->ring_ok_ = true;

  io_uring_probe* probe = io_uring_get_probe_ring(&r->ring_);
  if (!probe) return Error::make(Code::kNotSupported, "io_uring probe failed");
  const int needed[] = {IORING_OP_ACCEPT, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_RECV,
                        IORING_OP_SEND, IORING_OP_POLL_ADD, IORING_OP_TIMEOUT,
                        IORING_OP_ASYNC_CANCEL, IORING_OP_PROVIDE_BUFFERS, IORING_OP_OPENAT, IORING_OP_SENDMSG,
                        IORING_OP_RECVMSG, IORING_OP_CONNECT, IORING_OP_SPLICE};
  for (int op : needed) {
    if (!io_uring_opcode_supported(probe, op)) {
      io_uring_free_probe(probe);
      return Error::make(Code::kNotSupported, "io_uring opcode {} not supported by this kernel (need Linux >= 6.1)", op);
    }
  }
  io_uring_free_probe(probe);

  // Blocking on purpose: io_uring then arms a poll instead of completing
  // with -EAGAIN when no job has finished.
  int efd = ::eventfd(0, EFD_CLOEXEC);
  if (efd < 0) return Error::sys(errno, "eventfd");
  r->job_event_fd_.reset(efd);
  r->jobs_ = std::make_unique<JobPool>(job_threads, efd);
  r->bulk_ = std::make_unique<JobPool>(job_threads, efd);
  r->background_ = std::make_unique<JobPool>(1, efd, kBackgroundNice);
  r->tidy_ = std::make_unique<JobPool>(1, efd);
  Reactor* self = r.get();
  r->job_reader_.set_callback([self](int32_t res, uint32_t) { self->job_reader_done(res); });
  r->submit_job_reader();
  return r;
}

Reactor::~Reactor() {
  idle_.clear();  // idle-time work never runs during teardown
  backlog_.clear();
  tidy_.reset();
  background_.reset();
  bulk_.reset();
  jobs_.reset();  // joins the workers first; their done callbacks are dropped
  for (PostNode* n = posted_.exchange(nullptr); n;) {  // nobody posts any more: dropped
    PostNode* next = n->next;
    delete n;
    n = next;
  }
  if (job_reader_.in_flight()) {
    cancel(job_reader_);
    while (job_reader_.in_flight()) run_once(-1);
  }
  if (ring_ok_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* Reactor::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (!sqe) {
    stats_.sq_full++;
    submit();
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

// EBUSY/EAGAIN: the kernel has no room for more completions (the CQ is
// overflowing) or no memory for now; with DEFER_TASKRUN, entering with
// GETEVENTS runs the pending task work, which frees it. Other errors are
// bugs (a bad ring, a bad SQE).
void Reactor::submit() {
  for (;;) {
    int rc = io_uring_submit(&ring_);
    if (rc >= 0) return;
    BERTH_ASSERT_MSG(rc == -EBUSY || rc == -EAGAIN || rc == -EINTR, "io_uring_submit failed");
    stats_.submit_retries++;
    if (rc != -EINTR) io_uring_get_events(&ring_);
  }
}

void Reactor::arm(io_uring_sqe* sqe, Completion& c) {
  BERTH_ASSERT_MSG(!c.in_flight_, "operation submitted twice");
  c.in_flight_ = true;
  pending_++;
  stats_.submitted++;
  io_uring_sqe_set_data(sqe, &c);
}

void Reactor::accept_multishot(int fd, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  arm(sqe, c);
}

void Reactor::accept(int fd, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  arm(sqe, c);
}

void Reactor::read(int fd, void* buf, unsigned len, uint64_t offset, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, fd, buf, len, offset);
  arm(sqe, c);
}

void Reactor::read_select(int fd, BufferRing& ring, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, fd, nullptr, ring.buffer_size(), uint64_t(-1));
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = ring.group();
  arm(sqe, c);
}

void Reactor::recv(int fd, void* buf, unsigned len, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv(sqe, fd, buf, len, 0);
  arm(sqe, c);
}

void Reactor::recv_multishot(int fd, BufferRing& ring, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = ring.group();
  arm(sqe, c);
}

void Reactor::write(int fd, const void* buf, unsigned len, uint64_t offset, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_write(sqe, fd, buf, len, offset);
  arm(sqe, c);
}

void Reactor::writev(int fd, const iovec* iov, unsigned n, uint64_t offset, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_writev(sqe, fd, iov, n, offset);
  arm(sqe, c);
}

void Reactor::send(int fd, const void* buf, unsigned len, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
  arm(sqe, c);
}

void Reactor::poll(int fd, unsigned mask, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, fd, mask);
  arm(sqe, c);
}

void Reactor::openat(int dirfd, const char* path, int flags, mode_t mode, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_openat(sqe, dirfd, path, flags, mode);
  arm(sqe, c);
}

void Reactor::recvmsg(int fd, msghdr* msg, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recvmsg(sqe, fd, msg, 0);
  arm(sqe, c);
}

void Reactor::sendmsg(int fd, const msghdr* msg, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
  arm(sqe, c);
}

void Reactor::connect(int fd, const sockaddr* addr, socklen_t len, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_connect(sqe, fd, addr, len);
  arm(sqe, c);
}

void Reactor::splice(int fd_in, int fd_out, unsigned len, unsigned flags, Completion& c, int64_t off_out) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_splice(sqe, fd_in, -1, fd_out, off_out, len, flags);
  arm(sqe, c);
}

void Reactor::timeout(const __kernel_timespec* ts, Completion& c) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_timeout(sqe, const_cast<__kernel_timespec*>(ts), 0, 0);
  arm(sqe, c);
}

void Reactor::cancel(Completion& target) {
  if (!target.in_flight_) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel(sqe, &target, 0);
  io_uring_sqe_set_data(sqe, nullptr);  // the cancel's own CQE is ignored
  stats_.submitted++;
}

void Reactor::defer(std::function<void()> fn) {
  BERTH_ASSERT_MSG(deferred_.size() < kMaxDeferred, "reactor: deferred queue at its bound (a callback loops)");
  deferred_.push_back(std::move(fn));
}

bool Reactor::post(std::function<void()> fn) {
  if (posted_count_.fetch_add(1, std::memory_order_relaxed) >= kMaxPosted) {
    posted_count_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  auto* n = new PostNode{std::move(fn), posted_.load(std::memory_order_relaxed)};
  while (!posted_.compare_exchange_weak(n->next, n, std::memory_order_release, std::memory_order_relaxed)) {
  }
  // The list was empty: the loop took (or never had) the rest, so wake it.
  // A non-empty list has a wake-up on its way already.
  if (!n->next) {
    uint64_t one = 1;
    while (::write(job_event_fd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
  return true;
}

// Runs what other threads posted, oldest first.
void Reactor::collect_posted() {
  PostNode* n = posted_.exchange(nullptr, std::memory_order_acquire);
  PostNode* fifo = nullptr;
  while (n) {
    PostNode* next = n->next;
    n->next = fifo;
    fifo = n;
    n = next;
  }
  while (fifo) {
    std::unique_ptr<PostNode> node(fifo);
    fifo = fifo->next;
    posted_count_.fetch_sub(1, std::memory_order_relaxed);
    invoke(node->fn.target_type(), node->fn);
  }
}

void Reactor::when_idle(std::function<void()> fn) {
  BERTH_ASSERT_MSG(idle_.size() < kMaxIdle, "reactor: idle queue at its bound");
  idle_.push_back(std::move(fn));
}

JobPool& Reactor::pool(Lane lane) {
  switch (lane) {
    case Lane::kJob: return *jobs_;
    case Lane::kBulk: return *bulk_;
    case Lane::kBackground: return *background_;
    case Lane::kTidy: return *tidy_;
  }
  return *jobs_;
}

bool Reactor::run_on(Lane lane, std::function<void()> work, std::function<void()> done) {
  // Behind earlier backlogged jobs of its lane, never ahead of them.
  bool waiting = false;
  for (const auto& b : backlog_) waiting |= b.lane == lane;
  if (!waiting && pool(lane).try_submit(work, done)) return true;
  if (backlog_.size() >= kMaxBacklog) return false;
  stats_.job_backlogged++;
  backlog_.push_back({lane, std::move(work), std::move(done)});
  retry_jobs_ = true;
  return true;
}

// Moves backlogged jobs into their lanes as room appears, in order per lane.
void Reactor::flush_backlog() {
  bool full[4] = {false, false, false, false};
  for (auto it = backlog_.begin(); it != backlog_.end();) {
    int l = int(it->lane);
    if (!full[l] && pool(it->lane).try_submit(it->work, it->done)) {
      it = backlog_.erase(it);
      continue;
    }
    full[l] = true;
    ++it;
  }
}

size_t Reactor::jobs_outstanding() const {
  return jobs_->outstanding() + bulk_->outstanding() + background_->outstanding() + tidy_->outstanding() +
         backlog_.size();
}

void Reactor::drain_jobs() {
  while (jobs_outstanding() > 0) run_once(100);
}

void Reactor::submit_job_reader() {
  read(job_event_fd_.get(), &job_event_buf_, sizeof job_event_buf_, 0, job_reader_);
}

void Reactor::job_reader_done(int32_t res) {
  if (res == -ECANCELED || !jobs_) return;
  collect_jobs();
  submit_job_reader();
}

// Runs posted work, then finished jobs' `done`s, and moves backlogged jobs
// into their lanes.
// A lane whose lock a worker holds right now is left for the next turn
// (retry_jobs_: the loop then waits at most kRetryMs).
void Reactor::collect_jobs() {
  // The finished jobs are taken before the posts: a job's posts happen
  // before it finishes, so every post of a job taken here is on the stack
  // by now and runs before its `done`. Taking the posts first let a job
  // post more and finish in between, and its `done` overtook them.
  retry_jobs_ = false;
  std::vector<std::function<void()>> dones;
  for (JobPool* pool : {jobs_.get(), bulk_.get(), background_.get(), tidy_.get()}) {
    bool busy = false;
    auto finished = pool->take_finished(&busy);
    if (dones.empty()) dones = std::move(finished);
    else std::move(finished.begin(), finished.end(), std::back_inserter(dones));
    retry_jobs_ |= busy;
  }
  collect_posted();
  for (auto& done : dones) invoke(done.target_type(), done);
  if (!backlog_.empty()) flush_backlog();
  retry_jobs_ |= !backlog_.empty();
}

void Reactor::set_watchdog(std::chrono::microseconds threshold, std::chrono::microseconds cpu_threshold,
                           std::function<void(const WatchdogEvent&)> report) {
  watchdog_threshold_ = threshold;
  watchdog_cpu_threshold_ = cpu_threshold;
  watchdog_report_ = std::move(report);
}

namespace {

int64_t now_us(clockid_t clock) {
  timespec ts;
  ::clock_gettime(clock, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string demangle(const std::type_info& t) {
  int status = 0;
  char* s = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : t.name();
  std::free(s);
  return out;
}

}  // namespace

template <class F>
void Reactor::invoke(const std::type_info& type, F&& fn) {
  if (!watchdog_report_) return fn();
  rusage before, after;
  ::getrusage(RUSAGE_THREAD, &before);
  int64_t wall0 = now_us(CLOCK_MONOTONIC), cpu0 = now_us(CLOCK_THREAD_CPUTIME_ID);
  fn();
  int64_t wall = now_us(CLOCK_MONOTONIC) - wall0, cpu = now_us(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  if (wall <= watchdog_threshold_.count()) return;
  ::getrusage(RUSAGE_THREAD, &after);
  long switches = after.ru_nvcsw - before.ru_nvcsw;
  if (switches == 0 && cpu <= watchdog_cpu_threshold_.count()) return;  // preempted, not blocked
  stats_.watchdog_fired++;
  watchdog_report_({demangle(type), wall0, wall, cpu, switches});
}

// The loop's submit-and-wait: EINTR (a signal), ETIME (the timeout) and
// EBUSY/EAGAIN (CQ overflow; the completions below are taken, which makes
// room) are the loop's normal life; anything else is a broken ring.
void Reactor::checked(int rc) {
  if (rc >= 0 || rc == -EINTR || rc == -ETIME) return;
  BERTH_ASSERT_MSG(rc == -EBUSY || rc == -EAGAIN, "io_uring_enter failed");
  stats_.submit_retries++;
}

void Reactor::run() {
  while (!stopping_) run_once(-1);
}

void Reactor::run_once(int timeout_ms) {
  stats_.loops++;
  unsigned wait_nr = deferred_.empty() ? 1 : 0;
  if (wait_nr && !idle_.empty() && jobs_->outstanding() == 0 && bulk_->outstanding() == 0) {
    checked(io_uring_submit_and_get_events(&ring_));
    if (io_uring_cq_ready(&ring_) == 0) {
      auto fn = std::move(idle_.front());
      idle_.pop_front();
      int64_t t0 = monotonic_ns();
      invoke(fn.target_type(), fn);
      busy_.observe_ns(monotonic_ns() - t0);
      return;
    }
    wait_nr = 0;  // completions are ready: take them without blocking
  }
  if (wait_nr && retry_jobs_ && (timeout_ms < 0 || timeout_ms > kRetryMs)) timeout_ms = kRetryMs;
  if (timeout_ms >= 0 && wait_nr) {
    __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000LL};
    io_uring_cqe* cqe = nullptr;
    checked(io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr));
  } else if (wait_nr) {
    checked(io_uring_submit_and_wait(&ring_, wait_nr));
  } else {
    // Deferred work is waiting: don't block, but do run the kernel's task
    // work so completions are reaped (DEFER_TASKRUN needs GETEVENTS).
    checked(io_uring_submit_and_get_events(&ring_));
  }
  int64_t woke = monotonic_ns();
  // Copy the batch and release the CQ before any callback runs.
  batch_.clear();
  unsigned head, n = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    batch_.push_back({cqe->user_data, cqe->res, cqe->flags});
    n++;
  }
  io_uring_cq_advance(&ring_, n);
  stats_.completed += n;
  for (const Cqe& e : batch_) {
    if (!e.user_data) continue;
    auto* c = reinterpret_cast<Completion*>(e.user_data);
    BERTH_ASSERT(c->in_flight_);
    if (!(e.flags & IORING_CQE_F_MORE)) {
      c->in_flight_ = false;
      pending_--;
    }
    BERTH_ASSERT_MSG(e.res != -EBADF && e.res != -EFAULT, "io_uring op on a bad fd or buffer");
    if (!c->cb_) continue;
    // The job reader runs every finished job's `done`: those are timed one by one.
    if (c == &job_reader_) c->cb_(e.res, e.flags);
    else invoke(c->cb_.target_type(), [&] { c->cb_(e.res, e.flags); });
  }
  while (!deferred_.empty()) {
    auto fn = std::move(deferred_.front());
    deferred_.pop_front();
    invoke(fn.target_type(), fn);
  }
  if (retry_jobs_) collect_jobs();
  log::flush_pending();
  busy_.observe_ns(monotonic_ns() - woke);
}

Result<std::unique_ptr<BufferRing>> Reactor::create_buffer_ring(uint16_t group, unsigned count, unsigned size) {
  BERTH_ASSERT(count && (count & (count - 1)) == 0 && count <= 32768);
  std::unique_ptr<BufferRing> b(new BufferRing());
  b->ring_ = &ring_;
  b->group_ = group;
  b->count_ = count;
  b->size_ = size;
  b->mask_ = io_uring_buf_ring_mask(count);
  b->br_bytes_ = count * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, b->br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return Error::sys(errno, "mmap buffer ring");
  b->br_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = count;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    ::munmap(mem, b->br_bytes_);
    b->br_ = nullptr;
    return Error::sys(-rc, "register buffer ring {}", group);
  }
  io_uring_buf_ring_init(b->br_);
  b->data_.reset(new char[size_t(count) * size]);
  for (unsigned i = 0; i < count; i++)
    io_uring_buf_ring_add(b->br_, b->buffer(i), size, i, b->mask_, i);
  io_uring_buf_ring_advance(b->br_, count);
  return b;
}

}  // namespace berth::reactor
