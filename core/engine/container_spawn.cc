// A start's spawn: the container's init made and released, with its stdio
// pipes, log file, cgroup and (AutoRemove) held mount namespace.
//
// Cold (no warm init): everything that blocks runs in one job on the job
// lane with values and owned fds only: the log file's open, the cgroup's
// mkdirs and limits (v2 before clone3, for CLONE_INTO_CGROUP; v1 after it,
// while the child mounts its root), clone3, the cgroup.procs write and the
// release. Warm (warm.h): the init exists and has its cgroup; its release
// (a sendmsg) and its pre-made log file need no job, unless the container
// has limits to write. Either way Engine::spawned() then sets up the
// Process on the reactor thread.
//
// The network (networks.h): NetworkService::prepare() takes the addresses
// and host ports on the reactor; the job then writes the container's /etc
// files and, right after the clone3 (while the child mounts its root),
// makes its veths and DNAT elements; the init is released only after.
// A warm start with a network takes a job for that too.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/container_security.h"
#include "core/engine/keeper_link.h"
#include "core/engine/log_index.h"
#include "core/engine/networks.h"
#include "core/engine/process.h"
#include "core/engine/volumes.h"
#include "core/engine/warm.h"
#include "core/runtime/exit.h"
#include "core/runtime/spawner.h"
#include "netns/netns_pool.h"

namespace berth::engine {

namespace {

// Pipes for stdout/stderr (and stdin with OpenStdin) without a tty; with
// one, the pty's master is the only channel (it comes with the exec status).
Result<void> make_pipes(const Container& c, SpawnResult& r, unique_fd& out_w, unique_fd& err_w, unique_fd& in_r) {
  auto pipe = [](unique_fd& rd, unique_fd& wr) -> Result<void> {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return Error::sys(errno, "pipe");
    rd.reset(p[0]);
    wr.reset(p[1]);
    return ok();
  };
  if (!c.spec.tty) {
    BERTH_TRY_VOID(pipe(r.out_r, out_w));
    BERTH_TRY_VOID(pipe(r.err_r, err_w));
    if (c.spec.open_stdin) BERTH_TRY_VOID(pipe(in_r, r.in_w));
  }
  return ok();
}

// The init's mount namespace, held so that its teardown runs on the job
// lane (the removal job with AutoRemove; Engine::tear_down_later) rather
// than in the init's exit, which is on the path of every `run --rm`, `wait`
// and `stop` (unmounting the overlay and a dozen other mounts, about
// 0.45 ms here, and the overlay's sync of the file system under its upper
// dir: half a second with a gigabyte of dirty data there). Opened while the
// child cannot have run its command yet; the init is our unreaped child, so
// the pid names no other process.
unique_fd open_mount_namespace(pid_t pid) {
  unique_fd fd(::open(fmt::format("/proc/{}/ns/mnt", pid).c_str(), O_RDONLY | O_CLOEXEC));
  // ENOENT: it died already (a set-up failure); a zombie has no namespaces.
  if (!fd && errno != ENOENT) log::warn("engine", "pid {}: its mount namespace is unmounted in its exit: {}", pid, std::strerror(errno));
  return fd;
}

// The cold start's job: input (values, owned fds) and output.
struct ColdSpawn {
  SpawnResult out;
  unique_fd out_w, err_w, in_r, netns;
  std::shared_ptr<cgroups::Driver> driver;   // null: no cgroups
  std::shared_ptr<runtime::Spawner> spawner;
  std::shared_ptr<NetworkStart> net;         // null: nothing of the network to do
  std::string cgroup_parent, id, log_path;
  cgroups::Resources limits;
  HostSecurity security;   // devices, shareable /dev/shm, namespaces to join

  Result<void> open_log() {
    // Read and write: the pump reads a spliced record's last byte back
    // (log_pump.h), for the index's line starts.
    out.log_fd = BERTH_TRY(open_fd(log_path, O_RDWR | O_CREAT, 0600));
    struct stat st;
    if (::fstat(out.log_fd.get(), &st) < 0) return Error::sys(errno, "stat {}", log_path);
    out.log_size = uint64_t(st.st_size);
    out.log_index = IndexWriter::open_file(log_index_path(log_path));
    return ok();
  }

  // Memory-limited containers: the cgroup's OOM notifier (opening cgroup
  // files belongs off the loop: Resources::watch_oom).
  void open_oom_notifier() {
    if (!out.cgroup || !Resources::wants_oom_watch(limits)) return;
    auto fd = out.cgroup->oom_notifier();
    if (fd) out.oom_fd = std::move(*fd);
    else log::warn("engine", "no OOM notifications for id={}: {}", id, fd.error().message());
  }

  Result<void> make_cgroup() {
    if (out.cgroup) return Resources::apply(*out.cgroup, id, limits);  // a dead warm init's
    out.cgroup = BERTH_TRY(Resources::make(*driver, cgroup_parent, id, limits, out.spec.security, security.device_rules));
    return ok();
  }

  // The init's network: its veths made in its namespace (the pool's, or
  // the one clone3 made), DNAT added; a failure keeps it from its release.
  void connect_network() {
    if (!net || !net->needs_netns()) return;
    unique_fd own;
    int fd = netns.get();
    if (fd < 0) {
      auto opened = open_fd(fmt::format("/proc/{}/ns/net", out.child.pid), O_RDONLY);
      if (!opened) {
        out.released = std::move(opened.error()).context("connect container {}", id);
        return;
      }
      own = std::move(*opened);
      fd = own.get();
    }
    // Never berthd's own namespace (a child that has not joined its own yet).
    struct stat mine {}, theirs {};
    if (::stat("/proc/self/ns/net", &mine) == 0 && ::fstat(fd, &theirs) == 0 && mine.st_ino == theirs.st_ino &&
        mine.st_dev == theirs.st_dev) {
      out.released = Error(Code::kSystem, fmt::format("connect container {}: its init is still in berthd's network namespace", id));
      return;
    }
    out.released = net->connect(fd);
  }

  void run() {
    if (!(out.created = open_log())) return;
    if (!(out.created = security.prepare(out.spec.security))) return;
    if (!(out.created = VolumeService::prepare_sources(out.spec.mounts))) return;
    if (net && !(out.created = net->write_files())) return;
    if (net && net->joins()) {
      auto joined = net->join_netns();
      if (!joined) {
        out.created = std::move(joined.error());
        return;
      }
      netns = std::move(*joined);
    }
    bool v2 = driver && driver->version() == cgroups::Version::kV2;
    if (v2 && !(out.created = make_cgroup())) {
      if (out.cgroup) (void)destroy_retrying(*out.cgroup);
      out.cgroup.reset();
      return;
    }
    runtime::Spec& spec = out.spec;
    spec.stdout_fd = out_w.get();
    spec.stderr_fd = err_w.get();
    spec.stdin_fd = in_r.get();
    spec.netns_fd = netns.get();
    spec.cgroup_fd = out.cgroup ? out.cgroup->clone_into_fd() : -1;
    out.since_ns = now_ns();
    auto child = runtime::spawn_with(spawner.get(), spec);
    spec.stdout_fd = spec.stderr_fd = spec.stdin_fd = spec.netns_fd = spec.cgroup_fd = -1;
    security.spawned(spec.security);
    out_w.reset();
    err_w.reset();
    in_r.reset();
    if (!child) {
      netns.reset();
      out.created = std::move(child.error());
      if (out.cgroup) (void)destroy_retrying(*out.cgroup);
      out.cgroup.reset();
      return;
    }
    out.child = std::move(*child);
    // Its start time (pidfd_of, process.h), read here: /proc/<pid>/stat
    // can wait on the process, which the loop must not.
    if (auto t = runtime::identity(out.child.pid, out.child.pidfd.get()); t) out.start_ticks = *t;
    connect_network();
    netns.reset();
    out.mntns = open_mount_namespace(out.child.pid);
    // v1: the child waits on its sync socket until it is in its cgroups.
    if (out.released && driver && !v2) out.released = make_cgroup();
    if (out.released && out.cgroup && out.cgroup->clone_into_fd() < 0)
      out.released = out.cgroup->add_process(out.child.pid);
    if (out.released) open_oom_notifier();
    if (out.released) out.released = runtime::release(out.child);
  }
};

}  // namespace

void Engine::spawn(Container& c, Done done) {
  auto spec = init_spec(c);
  if (!spec) return done(std::move(spec.error()));
  // Addresses and host ports first: a port taken elsewhere fails here.
  auto net = networks_->prepare(c, !c.warm);
  if (!net) return done(std::move(net.error()));
  auto job = std::make_shared<ColdSpawn>();
  job->net = *net;
  SpawnResult& out = job->out;
  out.keeper_gen = spawner_ ? keeper_->generation() : 0;
  out.net = job->net;
  if (auto r = make_pipes(c, out, job->out_w, job->err_w, job->in_r); !r) return done(std::move(r));
  spec->tty = c.spec.tty;
  spec->tty_rows = c.spec.console_rows;
  spec->tty_cols = c.spec.console_cols;
  auto security = host_security(*this, c, spec->security);
  if (!security) return done(std::move(security.error()));
  out.spec = std::move(*spec);
  std::string id = c.id;
  auto finish = [this, id, done](SpawnResult r) {
    Container* ct = by_id(id);
    BERTH_ASSERT(ct);  // removal and shutdown wait while a start is under way
    spawned(*ct, std::move(r), done);
  };

  if (c.warm) {
    std::optional<WarmHandover> w = warm_->take(c);
    if (w) {
      // The warm init is alive: it is the container's init from now on.
      out.warm = true;
      out.child = std::move(w->proc);
      out.keeper_gen = w->keeper_gen;
      out.since_ns = w->since_ns;
      out.start_ticks = w->start_ticks;
      out.cgroup = std::move(w->cgroup);
      out.log_fd = std::move(w->log_fd);
      out.log_index = std::pair{std::move(w->index_fd), uint64_t(0)};
      job->netns = std::move(w->netns);  // connect_network() makes the veths there
      out.spec.stdout_fd = job->out_w.get();
      out.spec.stderr_fd = job->err_w.get();
      out.spec.stdin_fd = job->in_r.get();
      out.mntns = open_mount_namespace(out.child.pid);
      log::debug("engine", "release id={} pid={} (warm)", c.id, out.child.pid);
      bool limits = !c.spec.resources.empty() && out.cgroup;
      if (!limits && !job->net) {
        out.released = runtime::release(out.child, out.spec);
        job->out_w.reset(), job->err_w.reset(), job->in_r.reset();
        return finish(std::move(out));
      }
      job->id = id;
      if (limits) job->limits = c.spec.resources;
      bool queued = r_.run_job(
          [job, limits] {
            SpawnResult& o = job->out;
            if (job->net) o.released = job->net->write_files();
            if (o.released) job->connect_network();  // its netns: /proc/<pid>/ns/net
            if (o.released && limits) o.released = Resources::apply(*o.cgroup, job->id, job->limits);
            if (o.released && limits) job->open_oom_notifier();
            if (o.released) o.released = runtime::release(o.child, o.spec);
            job->out_w.reset(), job->err_w.reset(), job->in_r.reset();
          },
          [job, finish] { finish(std::move(job->out)); });
      if (!queued) {
        out.released = Error(Code::kSystem, "berthd is too busy (job backlog full)");
        finish(std::move(out));
      }
      return;
    }
    // It died before the start: its cgroup (same path) is reused below.
    out.cgroup = std::move(c.cgroup);
  }

  job->driver = resources_->shared_driver();
  job->spawner = spawner_;
  job->cgroup_parent = resources_->parent_of(c);
  job->id = c.id;
  job->limits = c.spec.resources;
  job->log_path = c.log_path();
  job->security = std::move(*security);
  if (out.spec.new_netns && !(job->net && job->net->joins())) job->netns = netns_pool_->take();
  log::debug("engine", "spawn id={}", c.id);
  if (!r_.run_job([job] { job->run(); }, [job, finish] { finish(std::move(job->out)); })) {
    out.created = Error(Code::kSystem, "berthd is too busy (job backlog full); try again");
    finish(std::move(out));
  }
}

// The spawn's outcome on the reactor thread: the Process with its pump,
// stdin and watches. A child that could not be released is killed here and
// reaped by the exit watch like any other.
void Engine::spawned(Container& c, SpawnResult r, Done done) {
  if (r.net) networks_->started(c, *r.net);
  if (!r.created) return done(std::move(r.created.error()));
  c.cgroup = std::move(r.cgroup);
  auto proc = std::make_unique<Process>();
  proc->pid = r.child.pid;
  proc->keeper_gen = r.keeper_gen;
  proc->since_ns = r.since_ns;
  proc->start_ticks = r.start_ticks;
  // The keeper holds the read ends too: a container writing while berthd
  // is down fills its pipes instead of dying of SIGPIPE (runtime/keeper.h).
  if (spawner_ && r.out_r && r.err_r) {
    for (int fd : {r.out_r.get(), r.err_r.get()}) (void)::fcntl(fd, F_SETPIPE_SZ, 1 << 20);
    if (auto h = spawner_->hold(r.child.pid, c.id, {r.out_r.get(), r.err_r.get()}); !h)
      log::warn("engine", "id={}: the keeper does not hold its output: {}", c.id, h.error().message());
  }
  proc->pidfd = std::move(r.child.pidfd);
  proc->error_fd = std::move(r.child.error_fd);
  proc->mntns = std::move(r.mntns);
  if (proc->mntns && parking_ && parking_->enabled()) {
    if (auto key = parking_->vault().stash(proc->mntns.get()); key) {
      proc->mntns_key = *key;
      proc->mntns.reset();
    }
  }
  proc->oom_fd = std::move(r.oom_fd);
  proc->spec = std::move(r.spec);
  if (c.spec.tty) {
    proc->pty_handoff.pid = r.child.pid;
    proc->pty_handoff.tty = true;
    proc->pty_handoff.sync_fd = std::move(r.child.sync_fd);
  }
  if (c.spec.open_stdin) {
    proc->stdin = io_->make_stdin_writer(c);
    if (r.in_w) proc->stdin->open(std::move(r.in_w));
  }
  if (!r.released) (void)runtime::kill(proc->pidfd.get(), SIGKILL);
  proc->pump = std::make_unique<OutputPump>(r_, std::move(r.log_fd), r.log_size, std::move(r.out_r),
                                            std::move(r.err_r), io_->pump_callbacks(c), parking_.get());
  proc->pump->use_log_files(c.log_path(), resolve_log_config(c.spec.log, opts_.log_defaults), std::move(r.log_index));
  c.log_committed = r.log_size;
  c.proc = std::move(proc);
  c.state.pid = c.proc->pid;
  c.state.start_ticks = c.proc->start_ticks;
  c.state.cgroup_base = c.cgroup ? c.cgroup->counter_base() : cgroups::Cgroup::CounterBase{};
  if (!c.spec.tty) c.proc->pump->start();  // with a tty: once the master is here
  io_->stdin_started(c);
  watch_exit(c);
  if (r.released) resources_->watch_oom(c);
  if (!r.released) return done(std::move(r.released.error()).context("start container init"));
  warm_->after_start(c, c.proc->spec);
  volumes_->emit_mounts(c, "mount");
  done(ok());
}

}  // namespace berth::engine
