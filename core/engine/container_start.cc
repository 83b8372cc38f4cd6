// start: resolve the image's layers, spawn the init process (runtime), pump
// its output into the log, watch its pidfd; the start succeeds when the exec
// error pipe reports EOF (execve succeeded).
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/process.h"

namespace berth::engine {

namespace {

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Image env, then the container's own (later entries win, like Docker).
std::vector<std::string> merge_env(const std::vector<std::string>& image_env,
                                   const std::vector<std::string>& env, const std::string& hostname) {
  std::vector<std::string> out;
  put_env(out, kDefaultPath);
  put_env(out, "HOSTNAME=" + hostname);
  for (auto& e : image_env) put_env(out, e);
  for (auto& e : env) put_env(out, e);
  return out;
}

}  // namespace

void put_env(std::vector<std::string>& env, const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == std::string::npos) return;  // "NAME" alone unsets: drop it
  std::string key = kv.substr(0, eq + 1);
  for (auto& e : env)
    if (starts_with(e, key)) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

// What the container's output pump tells the engine: output for attached
// clients, log progress for followers, drops, and the end of the output.
OutputPump::Callbacks Engine::pump_callbacks(Container& c) {
  Container* cp = &c;
  OutputPump::Callbacks cb;
  cb.output = [cp](uint8_t stream, std::string_view data) {
    for (auto& a : cp->attachers)
      if ((stream == 1 && a.want_stdout) || (stream == 2 && a.want_stderr)) a.output(stream, data);
  };
  cb.committed = [this, cp](uint64_t n) {
    cp->log_committed = n;
    notify_log(*cp, false);
  };
  cb.rotated = [this, cp] {
    cp->log_generation++;
    cp->log_committed = 0;
    notify_log(*cp, false);
  };
  cb.dropped = [cp](uint64_t bytes) {
    cp->log_dropped_bytes += bytes;
    cp->log_dropped_records++;
  };
  cb.drained = [this, cp] {
    r_.defer([this, id = cp->id] {
      if (auto it = containers_.find(id); it != containers_.end()) maybe_finish_exit(*it->second);
    });
  };
  return cb;
}

// The runtime's view of the container: its layers, command, environment,
// user and mounts (stdio, netns and cgroup are added by spawn()).
Result<runtime::Spec> Engine::init_spec(Container& c) {
  fs::Image img = BERTH_TRY_CTX(images_->resolve(c.image_id), "image {}", c.image_id);
  runtime::Spec spec;
  spec.id = c.id;
  spec.lower_dirs = img.layer_dirs;
  spec.lower_dirs.push_back(init_layer());
  spec.upper_dir = c.dir + "/upper";
  spec.work_dir = c.dir + "/work";
  spec.rootfs_dir = c.dir + "/rootfs";
  spec.args = c.path_args;
  spec.hostname = c.spec.hostname.empty() ? c.id.substr(0, 12) : c.spec.hostname;
  spec.env = merge_env(img.config.env, c.spec.env, spec.hostname);
  spec.cwd = !c.spec.working_dir.empty() ? c.spec.working_dir
             : !img.config.working_dir.empty() ? img.config.working_dir : "/";
  spec.user = !c.spec.user.empty() ? c.spec.user : img.config.user;
  spec.new_netns = c.spec.network_mode != "host";
  BERTH_TRY_VOID(resolve_mounts(c, spec));
  return spec;
}

Result<void> Engine::spawn(Container& c) {
  runtime::Spec spec = BERTH_TRY(init_spec(c));

  // Without a tty: pipes for stdout and stderr (and stdin with OpenStdin).
  // With one, the pty's master is the only channel; it arrives with the exec
  // status (pty_arrived).
  unique_fd out_r, out_w, err_r, err_w, in_r, in_w;
  spec.tty = c.spec.tty;
  spec.tty_rows = c.spec.console_rows;
  spec.tty_cols = c.spec.console_cols;
  if (!c.spec.tty) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) < 0) return Error::sys(errno, "pipe");
    out_r.reset(out[0]);
    out_w.reset(out[1]);
    if (::pipe2(err, O_CLOEXEC) < 0) return Error::sys(errno, "pipe");
    err_r.reset(err[0]);
    err_w.reset(err[1]);
    spec.stdout_fd = out_w.get();
    spec.stderr_fd = err_w.get();
  }
  if (c.spec.open_stdin && !c.spec.tty) {
    int in[2];
    if (::pipe2(in, O_CLOEXEC) < 0) return Error::sys(errno, "pipe");
    in_r.reset(in[0]);
    in_w.reset(in[1]);
    spec.stdin_fd = in_r.get();
  }

  unique_fd log_fd = BERTH_TRY(open_fd(c.log_path(), O_WRONLY | O_CREAT, 0600));
  struct stat st;
  if (::fstat(log_fd.get(), &st) < 0) return Error::sys(errno, "stat {}", c.log_path());

  auto proc = std::make_unique<Process>();
  Result<void> released = ok();
  if (!c.warm || !warm_take(c, spec, *proc, &released)) BERTH_TRY_VOID(spawn_init(c, spec, *proc, &released));
  proc->spec = spec;
  if (c.spec.open_stdin) {
    proc->stdin = make_stdin_writer(c);
    if (in_w) proc->stdin->open(std::move(in_w));
  }
  out_w.reset();
  err_w.reset();
  if (!released) {
    (void)runtime::kill(proc->pidfd.get(), SIGKILL);
    // The child is reaped by the exit watch below like any other.
  }

  proc->pump = std::make_unique<OutputPump>(r_, std::move(log_fd), uint64_t(st.st_size),
                                            std::move(out_r), std::move(err_r), pump_callbacks(c));
  proc->pump->use_log_files(c.log_path(), resolve_log_config(c.spec.log, opts_.log_defaults));
  c.log_committed = uint64_t(st.st_size);
  c.proc = std::move(proc);
  c.state.pid = c.proc->pid;
  if (!c.spec.tty) c.proc->pump->start();  // with a tty: once the master is here
  stdin_started(c);
  watch_exit(c);
  if (released) watch_oom(c);
  if (!released) return std::move(released.error()).context("start container init");
  warm_after_start(c, spec);
  return ok();
}

// The init made here and now: clone3, cgroups, release. An error means no
// child exists; once it does, *released says whether it was released.
Result<void> Engine::spawn_init(Container& c, runtime::Spec& spec, Process& proc, Result<void>* released) {
  // A namespace from the pool, if one is ready; the child keeps its own copy
  // of the fd until it joins, so ours closes when this function returns.
  unique_fd netns;
  if (spec.new_netns) netns = netns_pool_->take();
  spec.netns_fd = netns.get();
  // v2 clones straight into the cgroup, which must exist first. v1 makes it
  // after clone3, while the child mounts its root (runtime/spawn.h): the
  // mkdirs and the cgroup.procs writes overlap with the child's set-up.
  bool cgroup_first = cgroups_ && cgroups_->version() == cgroups::Version::kV2;
  if (cgroup_first) BERTH_TRY_VOID(setup_cgroup(c, spec));
  log::debug("engine", "spawn id={}", c.id);
  auto spawned = runtime::spawn(spec);
  spec.netns_fd = -1;
  if (!spawned) {
    release_cgroup(c);
    return std::move(spawned.error());
  }
  runtime::Process p = std::move(*spawned);
  proc.pid = p.pid;
  proc.pidfd = std::move(p.pidfd);
  proc.error_fd = std::move(p.error_fd);
  hold_mount_namespace(c, proc);
  // v1: the child waits on the sync socket until it is in its cgroups.
  *released = cgroup_first ? Result<void>(ok()) : setup_cgroup(c, spec);
  if (*released) *released = place_in_cgroup(c, p.pid);
  log::debug("engine", "release id={} pid={}", c.id, p.pid);
  if (*released) *released = runtime::release(p);
  if (c.spec.tty) {
    proc.pty_handoff.pid = p.pid;
    proc.pty_handoff.tty = true;
    proc.pty_handoff.sync_fd = std::move(p.sync_fd);
  }
  return ok();
}

void Engine::watch_exit(Container& c) {
  Container* cp = &c;
  c.proc->exit_c.set_callback([this, cp](int32_t res, uint32_t) { exit_ready(*cp, res); });
  r_.poll(c.proc->pidfd.get(), POLLIN, c.proc->exit_c);
}

void Engine::exit_ready(Container& c, int32_t res) {
  Process& p = *c.proc;
  if (res == -ECANCELED) return;
  auto st = runtime::reap(p.pidfd.get());
  if (!st) {
    log::error("engine", "reap id={}: {}", c.id, st.error().message());
    return process_exited(c, 255);
  }
  if (!st->has_value()) return watch_exit(c);  // woken without an exit: poll again
  process_exited(c, (*st)->exit_code);
}

void Engine::start(Container& c, Done done) {
  if (c.state.status == Status::kRunning || c.state.status == Status::kPaused)
    return done(Error(Code::kNotModified, "container already started"));
  if (shutting_down_) return done(Error::conflict("berthd is shutting down; container {} not started", c.id));
  if (c.cgroup) return done(Error::conflict("container {} is still shutting down", c.id));
  if (c.state.status == Status::kRemoving)
    return done(Error::conflict("container {} is marked for removal and cannot be started", c.id));
  if (c.proc) return done(Error::conflict("container {} is still shutting down", c.id));
  if (c.overlay_copies && c.overlay_copies->load() > 0)
    return done(Error::conflict("container {} has a copy (cp) in progress; start it when the copy ends", c.id));
  if (c.cgroup_removals > 0) {
    // Its last cgroup is still being removed, at the path the new one takes.
    c.after_cgroup_removed.push_back([this, id = c.id, done = std::move(done)]() mutable {
      auto it = containers_.find(id);
      if (it == containers_.end()) return done(Error::not_found("No such container: {}", id));
      start(*it->second, std::move(done));
    });
    return;
  }
  c.state.error.clear();
  c.state.exit_code = 0;
  c.state.oom_killed = false;
  auto r = spawn(c);
  if (!r) {
    c.state.error = r.error().message();
    persist(c);
    if (!c.proc) {
      if (c.spec.auto_remove) remove_now(c, [](Result<void>) {});
      return done(std::move(r.error()));
    }
    // The child exists but could not be released (it was killed): report the
    // failure now; the exit watch reaps it and ends the start as failed.
    c.proc->start_failed = true;
    done(std::move(r.error()));
    done = [](Result<void>) {};
  }
  c.state.status = Status::kRunning;
  c.state.started_ns = now_ns();
  c.state.finished_ns = 0;
  Container* cp = &c;
  c.proc->error_c.set_callback([this, cp, done = std::move(done)](int32_t res, uint32_t) {
    exec_result(*cp, res, done);
  });
  r_.read(c.proc->error_fd.get(), &c.proc->child_error, sizeof c.proc->child_error, uint64_t(-1),
          c.proc->error_c);
}

// A process's namespaces are torn down in its own exit, before its parent
// hears of it: for a container's init that is the unmounting of the overlay
// root, /proc, /dev, /sys and the masked paths, about 0.45 ms of every
// container's exit here (a one-off variant of runtime's SpawnTest holding
// the namespace, /bin/true: exec to reaped 0.30 ms held, 0.74 ms not). With
// AutoRemove nobody waits for the files between exit and removal, so berthd
// keeps a reference to the namespace, and the removal job drops it before
// deleting the container's directory. Others keep the usual order: a
// stopped container can be started again at once, and its next overlay
// must not meet the last one still mounted.
// Opened right after clone3, while the child cannot have run its command
// yet (it has its own mount namespace from the start). One fd per running
// AutoRemove container.
void Engine::hold_mount_namespace(const Container& c, Process& p) {
  if (!c.spec.auto_remove) return;
  // The init is our unreaped child, so the pid cannot name another process.
  p.mntns.reset(::open(fmt::format("/proc/{}/ns/mnt", p.pid).c_str(), O_RDONLY | O_CLOEXEC));
  // ENOENT: it died already (a set-up failure); a zombie has no namespaces.
  if (!p.mntns && errno != ENOENT)
    log::warn("engine", "id={}: its mount namespace is unmounted in its exit: {}", c.id, std::strerror(errno));
}

// Tty: the child queued the pty master before execve; the pump reads one
// copy, resize and stdin use others.
void Engine::pty_arrived(Container& c) {
  Process& p = *c.proc;
  auto master = runtime::receive_pty(p.pty_handoff);
  if (!master) {
    log::error("engine", "id={}: {}", c.id, master.error().message());
    (void)runtime::kill(p.pidfd.get(), SIGKILL);
    return;
  }
  auto copy = [&]() -> unique_fd { return unique_fd(::fcntl(master->get(), F_DUPFD_CLOEXEC, 3)); };
  p.pty = copy();
  if (p.pending_rows || p.pending_cols) (void)set_window_size(p.pty.get(), p.pending_rows, p.pending_cols);
  if (p.stdin) p.stdin->open(copy());
  p.pump->set_output(std::move(*master));
}

void Engine::exec_result(Container& c, int32_t res, Done done) {
  Process& p = *c.proc;
  p.error_fd.reset();
  if (c.spec.tty) {
    if (res == 0 && !p.start_failed) pty_arrived(c);
    p.pty_handoff.sync_fd.reset();
    p.pump->start();  // without the master (a failed start) it drains at once
  }
  if (p.start_failed) {
    // Already reported when the release failed.
  } else if (res == 0) {
    log::info("engine", "start id={} pid={}", c.id, p.pid);
    emit(c, "start");
    persist(c);
    after_persist(c, [done] { done(ok()); });
  } else {
    Error e = res == int32_t(sizeof p.child_error)
                  ? runtime::describe_child_error(p.child_error, p.spec)
                  : Error::sys(res < 0 ? -res : EIO, "read exec status of container init");
    p.start_failed = true;
    c.state.error = e.message();
    log::info("engine", "start failed id={}: {}", c.id, e.message());
    done(std::move(e));
  }
  maybe_finish_exit(c);
}

}  // namespace berth::engine
