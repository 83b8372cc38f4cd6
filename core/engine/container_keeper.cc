// The engine's side of the keeper (runtime/keeper.h): finding or starting
// it, re-adopting at start the containers it kept while berthd was down,
// starting a new one when it dies, and letting go of containers at a clean
// exit with --live-restore.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/engine/io.h"
#include "core/engine/keeper_link.h"
#include "core/engine/log_format.h"
#include "core/engine/log_index.h"
#include "core/engine/networks.h"
#include "core/engine/process.h"
#include "core/engine/resources.h"
#include "core/engine/warm.h"
#include "core/reactor/fd_vault.h"
#include "core/runtime/exit.h"
#include "core/runtime/keeper.h"

namespace berth::engine {

namespace {

// A crash may leave a record half written at the log's end: cut it off, so
// that what the re-adopted pump appends follows a whole record. Starts from
// the last index entry that matches the log (else from the start); drops
// index entries past the new end. The log and its index stay open for the
// pump (each opened once: a start re-adopts thousands). Blocking: before
// the loop.
struct LastRecord {
  uint64_t payload_offset = 0;
  uint32_t len = 0;
  uint8_t stream = 0;   // 0: the log is empty
};

struct RepairedLog {
  unique_fd log;
  uint64_t size = 0;   // where the next record goes
  unique_fd idx;       // not open: the pump makes the index
  uint64_t idx_size = 0;
};

Result<RepairedLog> repair_log_tail(const std::string& path, LastRecord* last) {
  RepairedLog out;
  out.log = BERTH_TRY(open_fd(path, O_RDWR | O_CREAT, 0600));
  int log = out.log.get();
  struct stat st;
  if (::fstat(log, &st) < 0) return Error::sys(errno, "stat {}", path);
  uint64_t size = uint64_t(st.st_size), off = 0, idx_bytes = 0;
  std::string idx_path = log_index_path(path);
  out.idx.reset(::open(idx_path.c_str(), O_RDWR | O_CLOEXEC));
  const std::vector<IndexEntry> all = load_log_index(out.idx.get(), size, &idx_bytes);
  size_t matching = all.size();
  while (matching > 0 && !index_entry_matches(log, all[matching - 1])) matching--;
  if (matching > 0) off = all[matching - 1].offset;
  for (;;) {
    char head[kRecordHeaderBytes];
    RecordHeader h;
    if (off + kRecordHeaderBytes > size || ::pread(log, head, sizeof head, off_t(off)) != sizeof head ||
        !decode_record_header(head, &h) || off + kRecordHeaderBytes + h.len > size)
      break;
    *last = {off + kRecordHeaderBytes, h.len, h.stream};
    off += kRecordHeaderBytes + h.len;
  }
  if (off < size) {
    log::warn("engine", "{}: cutting {} bytes of a record torn by the crash", path, size - off);
    if (::ftruncate(log, off_t(off)) < 0) return Error::sys(errno, "truncate {}", path);
  }
  out.size = off;
  if (out.idx) {
    size_t keep = 0;
    for (const IndexEntry& e : all)
      if (e.offset < off) keep++;
    out.idx_size = keep * kIndexEntryBytes;
    // Cut only what is past the kept entries (a crash's torn entry too).
    if (out.idx_size != idx_bytes) (void)::ftruncate(out.idx.get(), off_t(out.idx_size));
  }
  return out;
}

// The pump consumes a record's bytes from the pipe only once the record is
// written (log_pump.h), so a crash in between leaves the log's last record
// also at the head of its pipe: if the pipe starts with exactly those
// bytes, they are read out. (A container that wrote the same bytes again
// right after would lose that repeat: the one case this cannot tell apart.)
void drop_duplicate(const std::string& id, const std::string& path, const LastRecord& last, int pipe_fd) {
  if (last.len == 0 || pipe_fd < 0) return;
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return;
  unique_fd tr(p[0]), tw(p[1]);
  (void)::fcntl(tw.get(), F_SETPIPE_SZ, int(kMaxRecordPayload));
  ssize_t n = ::tee(pipe_fd, tw.get(), last.len, SPLICE_F_NONBLOCK);
  if (n != ssize_t(last.len)) return;
  std::string head(last.len, '\0'), logged(last.len, '\0');
  if (::read(tr.get(), head.data(), last.len) != ssize_t(last.len)) return;
  unique_fd log(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!log || ::pread(log.get(), logged.data(), last.len, off_t(last.payload_offset)) != ssize_t(last.len)) return;
  if (head != logged) return;
  // The pipe is non-blocking (the pump made it so) and holds these bytes.
  if (::read(pipe_fd, head.data(), last.len) == ssize_t(last.len))
    log::info("engine", "id={}: {} bytes logged just before the crash were still in the pipe: read once", id, last.len);
}

}  // namespace

void keeper_main(int listen_fd, const char* exec_root) { runtime::keeper_main(listen_fd, exec_root); }

Result<void> Engine::open_keeper() {
  bool found = false;
  auto s = BERTH_TRY(runtime::Spawner::start(opts_.exec_root, &found,
                                             parking_->enabled() ? &parking_->vault() : nullptr));
  spawner_ = std::shared_ptr<runtime::Spawner>(std::move(s));
  keeper_->attach(spawner_);
  if (!found) {
    log::info("engine", "keeper started pid={}", spawner_->pid());
    return ok();
  }
  std::vector<runtime::KeptProcess> kept = spawner_->take_kept();
  size_t inits = 0;
  for (runtime::KeptProcess& k : kept) {
    if (k.exited) keeper_->remember(k.pid, {k.exit_code, k.exit_ns});
    if (k.kind == runtime::KeptKind::kInit && k.id.size() == 64) {
      inits++;
      kept_[k.id] = std::move(k);
    } else if (k.exited) {
      (void)spawner_->release(k.pid);
    }
  }
  // The warm inits of the last berthd: no container will take them.
  runtime::KeeperMsg kill;
  kill.type = runtime::KeeperType::kKillWarm;
  (void)spawner_->notify(kill, {});
  log::info("engine", "keeper found pid={}: it kept {} container processes", spawner_->pid(), inits);
  return ok();
}

// After load_containers: the kept inits no container took back. An init
// whose start a crash cut short (cloned, never released) or a warm init a
// created container had adopted waits for a release that no berthd will
// send, holding its namespaces: killed, and the keeper told to forget it
// (it reaps it); an exited one is forgotten. Their descriptors close here.
// (Warm inits still in the pool are the keeper's to kill: kKillWarm.)
void Engine::drop_unclaimed() {
  for (auto& [id, k] : kept_) {
    Container* c = by_id(id);
    if (c && c->proc && c->proc->pid == k.pid) continue;   // re-adopted
    if (!k.exited) {
      unique_fd pidfd(int(::syscall(SYS_pidfd_open, k.pid, 0)));
      if (pidfd) (void)runtime::kill(pidfd.get(), SIGKILL);
      log::warn("engine", "id={}: killed pid={}, an init that no container runs (a start or create cut short by the "
                "crash)", id, k.pid);
    }
    if (spawner_) (void)spawner_->release(k.pid);
    for (uint32_t key : k.keys) parking_->vault().drop(key);
  }
  kept_.clear();
}

pid_t Engine::keeper_pid() const { return spawner_ ? spawner_->pid() : 0; }
bool Engine::keeper_connected() const { return keeper_->connected(); }
uint64_t Engine::keeper_losses() const { return keeper_->losses(); }

// The keeper died (KeeperLink logged it): a new one for new containers,
// started on the job lane (the old one is reaped there if it was ours).
void Engine::keeper_lost() {
  pid_t old = spawner_ ? spawner_->pid() : 0;
  spawner_.reset();   // meanwhile berthd forks by itself (spawner.h)
  // Its warm inits go too: one cloned as the keeper died may have missed
  // its death signal (armed only after the clone) and lives on orphaned,
  // and its sync socket, held by berthd, never says the parent is gone. A
  // container adopting it would run with no parent to report its exit.
  warm_->drop_all();
  if (shutting_down_ || starting_keeper_) return check_shutdown();
  starting_keeper_ = true;
  auto out = std::make_shared<Result<std::unique_ptr<runtime::Spawner>>>(Error(Code::kCancelled, "not run"));
  bool queued = r_.run_job(
      [out, old, root = opts_.exec_root] {
        // Its listening socket closes only as it finishes dying: until
        // then a connect would reach it. Ours to reap if we forked it.
        unique_fd pidfd(int(::syscall(SYS_pidfd_open, old, 0)));
        pollfd p{pidfd.get(), POLLIN, 0};
        if (pidfd) (void)::poll(&p, 1, 5000);
        (void)::waitpid(old, nullptr, WNOHANG);
        for (int attempt = 0; attempt < 5; attempt++) {
          bool found;
          *out = runtime::Spawner::start(root, &found);
          if (*out) return;
          ::usleep(100000);   // a job lane: it may wait
        }
      },
      [this, out] {
        starting_keeper_ = false;
        if (!*out) {
          log::error("engine", "start a new keeper: {}", out->error().message());
          return check_shutdown();
        }
        spawner_ = std::shared_ptr<runtime::Spawner>(std::move(**out));
        if (shutting_down_) return check_shutdown();
        keeper_->attach(spawner_);
        keeper_->listen();
        log::warn("engine", "a new keeper runs pid={}", spawner_->pid());
      });
  if (!queued) starting_keeper_ = false;
}

// load_containers: a container the state says runs, and the keeper still
// has. false: not re-adopted (the caller records it as lost).
bool Engine::readopt(Container& c, runtime::KeptProcess& kept) {
  // Its networks (veths, addresses, ports, names) are taken back by
  // NetworkService::open, which runs after this (network_readopt.cc).
  unique_fd pidfd(int(::syscall(SYS_pidfd_open, kept.pid, 0)));
  if (!pidfd) {
    log::warn("engine", "id={}: pidfd_open {}: {}", c.id, kept.pid, std::strerror(errno));
    return false;
  }
  LastRecord last;
  auto tail = repair_log_tail(c.log_path(), &last);
  if (!tail) {
    log::error("engine", "id={}: re-adopt: {}", c.id, tail.error().message());
    (void)runtime::kill(pidfd.get(), SIGKILL);
    return false;
  }
  auto proc = std::make_unique<Process>();
  proc->pid = kept.pid;
  proc->pidfd = std::move(pidfd);
  proc->keeper_gen = keeper_->generation();
  // The keeper holds this pid for this container, unreaped: it is the
  // process the state recorded, so its recorded start time is its own
  // (watch_exit then only checks that it is alive). 0 (a state from before
  // the field): watch_exit reads it.
  proc->start_ticks = c.state.start_ticks;
  // Its held descriptors, from the vault hello put them in.
  for (uint32_t key : kept.keys) {
    auto fd = parking_->vault().take(key);
    if (fd) kept.fds.push_back(std::move(*fd));
    else log::error("engine", "id={}: a held descriptor back from the vault: {}", c.id, fd.error().message());
  }
  kept.keys.clear();
  unique_fd out, err;
  if (!c.spec.tty && kept.fds.size() == 2) {
    out = std::move(kept.fds[0]);
    err = std::move(kept.fds[1]);
    // Non-blocking as the pump leaves them (it set the flag on the pipe).
    for (int fd : {out.get(), err.get()}) (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    drop_duplicate(c.id, c.log_path(), last, last.stream == 1 ? out.get() : last.stream == 2 ? err.get() : -1);
  }
  proc->pump = std::make_unique<OutputPump>(r_, std::move(tail->log), tail->size, std::move(out), std::move(err),
                                            io_->pump_callbacks(c), parking_.get());
  proc->pump->use_log_files(c.log_path(), resolve_log_config(c.spec.log, opts_.log_defaults),
                            tail->idx ? Result<std::pair<unique_fd, uint64_t>>(std::pair{std::move(tail->idx), tail->idx_size})
                                      : IndexWriter::open_file(log_index_path(c.log_path())));
  if (c.spec.tty && kept.fds.size() == 1) {
    proc->pty.reset(::fcntl(kept.fds[0].get(), F_DUPFD_CLOEXEC, 3));
    proc->pump->set_output(std::move(kept.fds[0]));
  }
  c.log_committed = tail->size;
  c.cgroup = resources_->reopen(c);
  if (c.cgroup) c.cgroup->set_counter_base(c.state.cgroup_base);
  if (c.cgroup && Resources::wants_oom_watch(c.spec.resources)) {
    // Its OOM notifier again (the last berthd's died with it); an OOM kill
    // while berthd was down shows in the counter, read at the exit.
    auto fd = c.cgroup->oom_notifier();
    if (fd) proc->oom_fd = std::move(*fd);
    else log::warn("engine", "id={}: no OOM notifications after the re-adoption: {}", c.id, fd.error().message());
  }
  c.proc = std::move(proc);
  c.state.pid = kept.pid;
  c.proc->pump->start();
  watch_exit(c);
  resources_->watch_oom(c);
  health_started(c, true);
  log::info("engine", "re-adopted id={} pid={} (kept by the keeper while berthd was down)", c.id, kept.pid);
  return true;
}

// A clean exit with --live-restore: berthd lets go of the container, whose
// keeper keeps it running; its Process goes once nothing is in flight.
void Engine::detach(Container& c) {
  Process& p = *c.proc;
  if (p.detached || p.exited) return;
  p.detached = true;
  if (p.exit_c.in_flight()) r_.cancel(p.exit_c);
  if (p.awaiting_keeper) {
    keeper_->unwatch(p.pid);
    p.awaiting_keeper = false;
  }
  if (p.stop_timer_c.in_flight()) r_.cancel(p.stop_timer_c);
  if (p.oom_c.in_flight()) r_.cancel(p.oom_c);
  if (p.stdin) p.stdin->drop();
  p.pump->cancel();
  networks_->let_go(c);
  log::info("engine", "left running id={} pid={} (live restore)", c.id, p.pid);
}

}  // namespace berth::engine
