// ExecService (exec.h): start a process in a running container
// (runtime::Spec::join_pidfd) and place it in the container's cgroup, on the
// job lane; stream its output to the client that started it, reap it and
// keep its exit code for GET /exec/{id}/json.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/exec.h"
#include "core/engine/io.h"
#include "core/engine/keeper_link.h"
#include "core/engine/process.h"
#include "core/runtime/prepare.h"
#include "core/runtime/spawn.h"
#include "core/runtime/spawner.h"

namespace berth::engine {

namespace {

constexpr size_t kMaxExecsPerContainer = 256;  // oldest finished ones are forgotten past this

// The container's environment as its init got it, then the exec's own
// (later entries win).
std::vector<std::string> exec_env(const std::vector<std::string>& base, const std::vector<std::string>& extra) {
  std::vector<std::string> out = base;
  for (const auto& kv : extra) put_env(out, kv);
  return out;
}

}  // namespace

Result<ExecInstance*> ExecService::create(Container& c, ExecConfig cfg) {
  BERTH_TRY_VOID(can(Verb::kExec, c.state.status, c.id));
  if (!c.proc || c.proc->exited) return Error::conflict("Container {} is not running", c.id);
  if (cfg.cmd.empty() || cfg.cmd[0].empty()) return Error::invalid("No exec command specified");
  auto e = std::make_unique<ExecInstance>();
  do {
    e->id = random_id();
  } while (execs_.count(e->id));
  e->container_id = c.id;
  e->config = std::move(cfg);
  ExecInstance* ep = e.get();
  execs_[e->id] = std::move(e);
  c.exec_ids.push_back(ep->id);
  // Bound the history: forget the oldest finished instances.
  for (size_t i = 0; c.exec_ids.size() > kMaxExecsPerContainer && i < c.exec_ids.size();) {
    auto it = execs_.find(c.exec_ids[i]);
    if (it != execs_.end() && it->second->exited && it->second->idle()) {
      execs_.erase(it);
      c.exec_ids.erase(c.exec_ids.begin() + long(i));
    } else {
      i++;
    }
  }
  e_.emit(c, "exec_create", {{"execID", ep->id}});
  return ep;
}

Result<ExecInstance*> ExecService::find(const std::string& id) {
  auto it = execs_.find(id);
  if (it == execs_.end() || it->second->container_gone) return Error::not_found("No such exec instance: {}", id);
  return it->second.get();
}

void ExecService::start(ExecInstance& e, bool detach, ExecSink sink, Done started) {
  if (e.started) return started(Error::conflict("Exec command {} has already run", e.id));
  Container* cp = e_.by_id(e.container_id);
  if (!cp) return started(Error::not_found("No such container: {}", e.container_id));
  Container& c = *cp;
  if (c.state.status != Status::kRunning || !c.proc || c.proc->exited)
    return started(Error::conflict("Container {} is not running", c.id));
  e.started = true;

  runtime::Spec spec;
  spec.id = c.id;
  spec.args = e.config.cmd;
  spec.env = exec_env(c.proc->spec.env, e.config.env);
  spec.user = !e.config.user.empty() ? e.config.user : c.proc->spec.user;
  spec.cwd = !e.config.working_dir.empty() ? e.config.working_dir : c.proc->spec.cwd;
  spec.security = c.proc->spec.security;  // its capabilities, seccomp, no_new_privs, ulimits, groups
  spec.userns = c.spec.userns;            // a remapped container's exec joins its user namespace
  spec.security.join_pid_pidfd = spec.security.join_ipc_pidfd = -1;   // the init's, closed since
  if (e.config.privileged && !spec.security.privileged) {
    // Every capability berthd has, under the container's own filter.
    spec.security.seccomp_capabilities = runtime::effective_capabilities(spec.security);
    spec.security.capabilities = runtime::all_capabilities();
  }
  spec.tty = e.config.tty;
  spec.tty_rows = e.config.console_rows;
  spec.tty_cols = e.config.console_cols;

  // The job's input: the spec, the child's ends of the pipes, and handles
  // it owns (a duplicate of the init's pidfd, the cgroup).
  struct Job {
    runtime::Spec spec;
    unique_fd out_w, err_w, in_r, join;
    std::shared_ptr<cgroups::Cgroup> cgroup;
    std::shared_ptr<runtime::Spawner> spawner;
    Result<runtime::Process> child = Error(Code::kCancelled, "exec not run");
    Result<void> released = ok();
  };
  auto job = std::make_shared<Job>();
  // Pipes without a tty (none when detached: /dev/null); with one, the pty
  // master arrives with the exec status (pty_arrived).
  auto fail = [&](Error err) {
    e.out.fd.reset();
    e.err.fd.reset();
    e.exited = true;
    e.exit_code = 126;
    started(std::move(err));
  };
  if (!detach && !spec.tty) {
    for (auto [pipe, wr, stream, want] : {std::tuple{&e.out, &job->out_w, uint8_t(1), e.config.attach_stdout},
                                          {&e.err, &job->err_w, uint8_t(2), e.config.attach_stderr}}) {
      if (!want) continue;
      int p[2];
      if (::pipe2(p, O_CLOEXEC) < 0) return fail(Error::sys(errno, "pipe"));
      pipe->fd.reset(p[0]);
      wr->reset(p[1]);
      pipe->stream = stream;
    }
  }
  if (!detach && e.config.attach_stdin) {
    ExecInstance* ep = &e;
    e.stdin = std::make_unique<StdinWriter>(e_.r_, [this, ep] {
      e_.r_.defer([this, id = ep->id] {
        if (auto it = execs_.find(id); it != execs_.end()) maybe_finish(*it->second);
      });
    });
    if (!spec.tty) {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) < 0) return fail(Error::sys(errno, "pipe"));
      job->in_r.reset(p[0]);
      e.stdin->open(unique_fd(p[1]));
    }
  }
  auto join = pidfd_of(*c.proc);
  if (!join) return fail(std::move(join.error()).context("a pidfd for container {}", c.id));
  job->join = std::move(*join);
  job->cgroup = c.cgroup;
  job->spawner = e_.spawner_;
  e.keeper_gen = e_.keeper_->generation();
  job->spec = std::move(spec);
  e.spawning = true;
  e.sink = std::move(sink);
  e.on_started = std::move(started);
  ExecInstance* ep = &e;
  bool queued = e_.r_.run_job(
      [job] {
        runtime::Spec& s = job->spec;
        s.join_pidfd = job->join.get();
        s.stdout_fd = job->out_w.get();
        s.stderr_fd = job->err_w.get();
        s.stdin_fd = job->in_r.get();
        s.cgroup_fd = job->cgroup ? job->cgroup->clone_into_fd() : -1;
        job->child = runtime::spawn_with(job->spawner.get(), s);
        s.join_pidfd = s.stdout_fd = s.stderr_fd = s.stdin_fd = s.cgroup_fd = -1;
        job->out_w.reset(), job->err_w.reset(), job->in_r.reset(), job->join.reset();
        if (!job->child) return;
        if (job->cgroup && job->cgroup->clone_into_fd() < 0) job->released = job->cgroup->add_process(job->child->pid);
        if (job->released) job->released = runtime::release(*job->child);
      },
      [this, ep, job] {
        ep->spec = std::move(job->spec);
        spawned(*ep, std::move(job->child), std::move(job->released));
      });
  if (!queued) {
    e.spawning = false;
    job->child = Error(Code::kSystem, "berthd is too busy (job backlog full); try again");
    spawned(e, std::move(job->child), ok());
  }
}

// The spawn's outcome, on the reactor thread.
void ExecService::spawned(ExecInstance& e, Result<runtime::Process> child, Result<void> released) {
  e.spawning = false;
  Container* c = e_.by_id(e.container_id);
  auto started = std::move(e.on_started);
  e.on_started = nullptr;
  if (!child) {
    e.out.fd.reset();
    e.err.fd.reset();
    if (e.stdin) e.stdin->drop();
    e.exited = true;
    e.exit_code = 126;
    started(std::move(child.error()).context("exec in container {}", e.container_id));
    auto sink = std::move(e.sink);
    e.sink = {};
    if (sink.ended) sink.ended();
    return maybe_finish(e);
  }
  runtime::Process& p = *child;
  e.pid = p.pid;
  e.pidfd = std::move(p.pidfd);
  e.error_fd = std::move(p.error_fd);
  e.running = true;
  e.on_started = std::move(started);
  if (e.config.tty) {
    e.pty_handoff.pid = p.pid;
    e.pty_handoff.tty = true;
    e.pty_handoff.sync_fd = std::move(p.sync_fd);
  }
  if (!released) {
    (void)runtime::kill(e.pidfd.get(), SIGKILL);
    log::warn("engine", "exec id={} in container id={}: {}", e.id, e.container_id, released.error().message());
  }
  if (c) e_.emit(*c, "exec_start", {{"execID", e.id}});

  ExecInstance* ep = &e;
  e.exit_c.set_callback([this, ep](int32_t res, uint32_t) { exit_ready(*ep, res); });
  e_.r_.poll(e.pidfd.get(), POLLIN, e.exit_c);
  e.error_c.set_callback([this, ep](int32_t res, uint32_t) { error_read(*ep, res); });
  e_.r_.read(e.error_fd.get(), &e.child_error, sizeof e.child_error, uint64_t(-1), e.error_c);
  for (ExecInstance::Pipe* pp : {&e.out, &e.err})
    if (pp->fd) read(e, *pp);
}

void ExecService::read(ExecInstance& e, ExecInstance::Pipe& p) {
  ExecInstance* ep = &e;
  ExecInstance::Pipe* pp = &p;
  p.c.set_callback([this, ep, pp](int32_t res, uint32_t) {
    if (res > 0) {
      if (ep->sink.output) ep->sink.output(pp->stream, std::string_view(pp->buf, size_t(res)));
      return read(*ep, *pp);
    }
    pp->fd.reset();  // EOF, or EIO from a pty whose slave closed: the same for the client
    maybe_finish(*ep);
  });
  e_.r_.read(p.fd.get(), p.buf, sizeof p.buf, uint64_t(-1), p.c);
}

void ExecService::pty_arrived(ExecInstance& e) {
  auto master = runtime::receive_pty(e.pty_handoff);
  if (!master) {
    log::error("engine", "exec id={}: {}", e.id, master.error().message());
    (void)runtime::kill(e.pidfd.get(), SIGKILL);
    return;
  }
  auto copy = [&]() -> unique_fd { return unique_fd(::fcntl(master->get(), F_DUPFD_CLOEXEC, 3)); };
  e.pty = copy();
  if (e.pending_rows || e.pending_cols) (void)set_window_size(e.pty.get(), e.pending_rows, e.pending_cols);
  if (e.stdin) e.stdin->open(copy());
  e.out.fd = std::move(*master);
  e.out.stream = 1;
  read(e, e.out);
}

void ExecService::write_stdin(ExecInstance& e, std::string_view data, std::function<void()> done) {
  if (!e.stdin) return done();
  e.stdin->write(data, std::move(done));
}

void ExecService::close_stdin(ExecInstance& e) {
  if (e.stdin && !e.config.tty) e.stdin->close();  // a terminal has no half-close
}

Result<void> ExecService::resize(ExecInstance& e, unsigned short rows, unsigned short cols) {
  if (!e.config.tty) return Error::conflict("exec {} has no tty to resize", e.id);
  if (!e.running) return Error::conflict("exec {} is not running", e.id);
  if (!e.pty) {
    e.pending_rows = rows;
    e.pending_cols = cols;
    return ok();
  }
  return set_window_size(e.pty.get(), rows, cols);
}

void ExecService::error_read(ExecInstance& e, int32_t res) {
  e.error_fd.reset();
  auto started = std::move(e.on_started);
  e.on_started = nullptr;
  if (res == 0 && e.config.tty) pty_arrived(e);
  e.pty_handoff.sync_fd.reset();
  if (res != 0 && e.stdin) e.stdin->drop();
  if (res == 0) {
    log::info("engine", "exec id={} pid={} container id={}", e.id, e.pid, e.container_id);
    if (started) started(ok());
  } else {
    Error err = res == int32_t(sizeof e.child_error)
                    ? runtime::describe_child_error(e.child_error, e.spec)
                    : Error::sys(res < 0 ? -res : EIO, "read exec status");
    log::info("engine", "exec failed id={}: {}", e.id, err.message());
    // Docker's codes: 127 when the command is not there, 126 when it cannot run.
    e.start_error_code = err.sys_errno() == ENOENT || err.code() == Code::kNotFound ? 127 : 126;
    if (started) started(std::move(err));
  }
  maybe_finish(e);
}

void ExecService::exit_ready(ExecInstance& e, int32_t res) {
  if (res == -ECANCELED) return maybe_finish(e);
  auto st = runtime::reap(e.pidfd.get());
  if (st && !st->has_value()) {
    ExecInstance* ep = &e;
    e.exit_c.set_callback([this, ep](int32_t r, uint32_t) { exit_ready(*ep, r); });
    return e_.r_.poll(e.pidfd.get(), POLLIN, e.exit_c);
  }
  if (!st && st.error().sys_errno() == ECHILD) {
    // The keeper's child: its status comes from the keeper (keeper_link.h).
    e.awaiting_keeper = true;
    e_.keeper_->on_exit(e.pid, e.keeper_gen, [this, id = e.id](std::optional<KeptExit> k) {
      auto it = execs_.find(id);
      BERTH_ASSERT(it != execs_.end());  // awaiting_keeper keeps it
      ExecInstance& x = *it->second;
      x.awaiting_keeper = false;
      exec_exited(x, k ? k->exit_code : 128 + SIGKILL);
    });
    return;
  }
  exec_exited(e, st ? (*st)->exit_code : 255);
}

void ExecService::exec_exited(ExecInstance& e, int exit_code) {
  e.exit_code = e.start_error_code ? e.start_error_code : exit_code;
  e.pidfd.reset();
  e.exited = true;
  if (e.stdin) e.stdin->drop();
  e.pty.reset();
  maybe_finish(e);
}

// The exec is over once it is reaped, its exec status is known and its
// output is drained: then the exit code is final and the client is told.
void ExecService::maybe_finish(ExecInstance& e) {
  if (e.running && e.exited && !e.error_c.in_flight() && e.output_done()) {
    e.running = false;
    log::info("engine", "exec die id={} exit_code={}", e.id, e.exit_code);
    if (Container* c = e_.by_id(e.container_id))
      e_.emit(*c, "exec_die", {{"execID", e.id}, {"exitCode", std::to_string(e.exit_code)}});
    auto sink = std::move(e.sink);
    e.sink = {};
    if (sink.ended) sink.ended();
  }
  e_.r_.defer([this, id = e.id] {
    drop_if_idle(id);
    e_.check_shutdown();
  });
}

void ExecService::drop_if_idle(const std::string& id) {
  auto it = execs_.find(id);
  if (it == execs_.end()) return;
  ExecInstance& e = *it->second;
  if (e.container_gone && e.idle() && !e.running) execs_.erase(it);
}

// The container is being removed: its exec instances go too (once idle).
void ExecService::forget(const Container& c) {
  for (const auto& id : c.exec_ids) {
    auto it = execs_.find(id);
    if (it == execs_.end()) continue;
    it->second->container_gone = true;
    drop_if_idle(id);
  }
}

void ExecService::kill(const std::string& id) {
  auto it = execs_.find(id);
  if (it == execs_.end() || !it->second->running || it->second->exited || !it->second->pidfd) return;
  (void)runtime::kill(it->second->pidfd.get(), SIGKILL);
}

void ExecService::discard(const std::string& id) {
  auto it = execs_.find(id);
  if (it == execs_.end()) return;
  if (Container* c = e_.by_id(it->second->container_id)) std::erase(c->exec_ids, id);
  it->second->container_gone = true;
  e_.r_.defer([this, id] { drop_if_idle(id); e_.check_shutdown(); });
}

void ExecService::kill_running() {
  for (auto& [id, e] : execs_)
    if (e->running && !e->exited && e->pidfd) (void)runtime::kill(e->pidfd.get(), SIGKILL);
}

bool ExecService::busy() const {
  for (const auto& [id, e] : execs_)
    if (e->running || !e->idle()) return true;
  return false;
}

}  // namespace berth::engine
