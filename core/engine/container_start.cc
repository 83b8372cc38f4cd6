// start: the container's init spawned (container_spawn.cc), its output
// pumped into the log and its pidfd watched; the start succeeds when the
// exec error pipe reports EOF (execve succeeded).
#include <algorithm>
#include <cctype>
#include <tuple>

#include <fmt/format.h>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/container_security.h"
#include "core/engine/images.h"
#include "core/engine/networks.h"
#include "core/engine/process.h"
#include "core/engine/resources.h"
#include "core/engine/security_options.h"
#include "core/engine/volumes.h"

namespace berth::engine {

namespace {

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Links' variables, the image env, then the container's own (later
// entries win, like Docker).
std::vector<std::string> merge_env(const std::vector<std::string>& image_env,
                                   const std::vector<std::string>& env, const std::string& hostname,
                                   const std::vector<std::string>& link_env = {}) {
  std::vector<std::string> out;
  put_env(out, kDefaultPath);
  put_env(out, "HOSTNAME=" + hostname);
  for (auto& e : link_env) put_env(out, e);
  for (auto& e : image_env) put_env(out, e);
  for (auto& e : env) put_env(out, e);
  return out;
}

// Docker's link variables for one target seen as `alias` by container
// `name`: ALIAS_NAME, ALIAS_PORT (the lowest exposed port),
// ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO] per exposed port, and
// ALIAS_ENV_<key> for the target's environment but HOME and PATH.
std::vector<std::string> link_env(const std::string& name, const std::string& alias, const std::string& ip,
                                  const std::vector<std::string>& exposed, const std::vector<std::string>& target_env) {
  std::string prefix;
  for (char ch : alias) prefix += ch == '-' || ch == '.' ? '_' : char(std::toupper(static_cast<unsigned char>(ch)));
  std::vector<std::string> out;
  out.push_back(fmt::format("{}_NAME=/{}/{}", prefix, name, alias));
  struct Port {
    int port;
    std::string proto;
  };
  std::vector<Port> ports;
  for (const std::string& k : exposed) {
    auto slash = k.find('/');
    int port = std::atoi(k.substr(0, slash).c_str());
    if (port > 0) ports.push_back({port, slash == std::string::npos ? "tcp" : k.substr(slash + 1)});
  }
  std::sort(ports.begin(), ports.end(),
            [](const Port& a, const Port& b) { return std::tie(a.port, a.proto) < std::tie(b.port, b.proto); });
  if (!ports.empty()) out.push_back(fmt::format("{}_PORT={}://{}:{}", prefix, ports[0].proto, ip, ports[0].port));
  for (const Port& p : ports) {
    std::string up;
    for (char ch : p.proto) up += char(std::toupper(static_cast<unsigned char>(ch)));
    std::string base = fmt::format("{}_PORT_{}_{}", prefix, p.port, up);
    out.push_back(fmt::format("{}={}://{}:{}", base, p.proto, ip, p.port));
    out.push_back(fmt::format("{}_ADDR={}", base, ip));
    out.push_back(fmt::format("{}_PORT={}", base, p.port));
    out.push_back(fmt::format("{}_PROTO={}", base, p.proto));
  }
  for (const std::string& kv : target_env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string key = kv.substr(0, eq);
    if (key == "HOME" || key == "PATH") continue;
    out.push_back(fmt::format("{}_ENV_{}", prefix, kv));
  }
  return out;
}

// --init: berth-init (tools/berth-init) bound read-only at kInitTarget
// runs the command as its child: it forwards signals and reaps zombies.
constexpr const char* kInitTarget = "/sbin/berth-init";

void add_init(runtime::Spec& spec, const std::string& init_path) {
  runtime::Mount m;
  m.kind = runtime::Mount::Kind::kBind;
  m.source = init_path;
  m.target = kInitTarget;
  m.readonly = true;
  m.recursive = false;
  m.file = true;
  spec.mounts.push_back(std::move(m));
  std::vector<std::string> args{kInitTarget, "--"};
  args.insert(args.end(), spec.args.begin(), spec.args.end());
  spec.args = std::move(args);
  spec.signals_blocked = true;   // berth-init waits for them; see Spec
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

// The runtime's view of the container: its layers, command, environment,
// user and mounts (stdio, netns and cgroup are added by spawn()).
Result<runtime::Spec> Engine::init_spec(Container& c) {
  fs::Image img = BERTH_TRY_CTX(images_->store().resolve(c.image_id), "image {}", c.image_id);
  runtime::Spec spec;
  spec.id = c.id;
  spec.lower_dirs = img.layer_dirs;
  spec.lower_dirs.push_back(opts_.init_layer());
  spec.upper_dir = c.dir + "/upper";
  spec.work_dir = c.dir + "/work";
  spec.rootfs_dir = c.dir + "/rootfs";
  spec.args = c.path_args;
  spec.hostname = networks_->hostname(c);
  std::vector<std::string> links;
  for (const auto& l : BERTH_TRY(networks_->link_targets(c))) {
    auto timg = images_->store().resolve(l.target->image_id);
    std::vector<std::string> tenv = timg ? timg->config.env : std::vector<std::string>{};
    for (const auto& e : l.target->spec.env) put_env(tenv, e);
    for (auto& e : link_env(c.name, l.alias, l.ip, l.target->spec.net.exposed, tenv)) links.push_back(std::move(e));
  }
  spec.env = merge_env(img.config.env, c.spec.env, spec.hostname, links);
  spec.cwd = !c.spec.working_dir.empty() ? c.spec.working_dir
             : !img.config.working_dir.empty() ? img.config.working_dir : "/";
  spec.user = !c.spec.user.empty() ? c.spec.user : img.config.user;
  spec.cgroupns_host = c.spec.cgroupns_host;
  spec.empty_dir = opts_.empty_dir();
  spec.cgroup_skeleton = opts_.cgroup_skeleton_dir();
  if (const cgroups::Driver* d = resources_->driver())
    for (auto& m : d->container_view()) spec.cgroup_view.push_back({m.name, m.fstype, m.options});
  spec.security = to_runtime_security(c.spec.security);   // the rest at the spawn (container_security.h)
  spec.userns = c.spec.userns;
  if (c.spec.security.ipc.kind == NamespaceMode::Kind::kShareable) spec.security.shm_dir = shm_dir_of(c);
  BERTH_TRY_VOID(volumes_->resolve_mounts(c, spec));
  BERTH_TRY_VOID(networks_->add_to_spec(c, spec));   // host or own netns; /etc files
  if (c.spec.network_mode == "none") spec.sysfs_netns_fd = sysfs_netns_.get();
  if (c.spec.init) add_init(spec, opts_.init_path);
  return spec;
}

void Engine::start(Container& c, Done done) {
  // Waiting for its policy's restart: Docker counts it as running.
  if (c.state.status == Status::kRestarting) return done(Error(Code::kNotModified, "container already started"));
  start_container(c, true, std::move(done));
}

// `manual`: a start by the user (start, restart, or the daemon's start as
// Docker's restore does), which resets the restart policy's count, delay
// and the manual stop; the policy's own restarts keep them.
void Engine::start_container(Container& c, bool manual, Done done) {
  if (auto ok_ = can(Verb::kStart, c.state.status, c.id); !ok_) return done(std::move(ok_));
  if (shutting_down_) return done(Error::conflict("berthd is shutting down; container {} not started", c.id));
  if (c.starting) return done(Error::conflict("container {} is already being started", c.id));
  if (c.cgroup || c.proc) return done(Error::conflict("container {} is still shutting down", c.id));
  if (c.overlay_copies && c.overlay_copies->load() > 0)
    return done(Error::conflict("container {} has a copy (cp) in progress; start it when the copy ends", c.id));
  if (c.start_gates > 0) {
    // Its last cgroup is still being removed, at the path the new one takes
    // (or its last mount namespace torn down, whose overlay had its dirs).
    c.after_start_gates.push_back([this, id = c.id, manual, done = std::move(done)]() mutable {
      Container* ct = by_id(id);
      if (!ct) return done(Error::not_found("No such container: {}", id));
      start_container(*ct, manual, std::move(done));
    });
    return;
  }
  auto fds = fd_budget_.take();
  // The idle pumps kept open for chatty containers give their descriptors
  // back before a start is refused for want of them.
  if (!fds && parking_ && parking_->park_all_idle() > 0) fds = fd_budget_.take();
  if (!fds) {
    log::warn("engine", "start id={} refused: {}", c.id, fds.error().message());
    return done(std::move(fds.error()));
  }
  if (manual) {
    cancel_restart(c);
    c.restart_count = 0;
    c.restart_delay_ms = 0;
    c.manually_stopped = false;
  }
  c.state.error.clear();
  c.state.exit_code = 0;
  c.state.oom_killed = false;
  c.starting = true;
  counters_.starts++;
  done = [this, t0 = now_ns(), done = std::move(done)](Result<void> r) {
    fd_budget_.give_back();
    if (r) counters_.start_latency.observe_ns(now_ns() - t0);
    else counters_.start_failures++;
    done(std::move(r));
  };
  spawn(c, [this, id = c.id, done = std::move(done)](Result<void> r) mutable {
    Container& ct = *by_id(id);
    ct.starting = false;
    auto waiting = std::move(ct.after_start);
    ct.after_start.clear();
    for (auto& fn : waiting) r_.defer(std::move(fn));
    if (!r) {
      ct.state.error = r.error().message();
      persist(ct);
      if (!ct.proc) {
        networks_->stopped(ct);  // what prepare() took for it
        unmount_shm_later(*this, r_, ct);
        if (ct.spec.auto_remove) remove_now(ct, [](Result<void>) {}, true);
        check_shutdown();
        return done(std::move(r.error()));
      }
      // The child exists but could not be released (it was killed): report
      // the failure now; the exit watch reaps it and ends the start as failed.
      ct.proc->start_failed = true;
      done(std::move(r.error()));
      done = [](Result<void>) {};
    }
    ct.state.status = Status::kRunning;
    ct.state.started_ns = now_ns();
    ct.state.finished_ns = 0;
    Container* cp = &ct;
    ct.proc->error_c.set_callback([this, cp, done = std::move(done)](int32_t res, uint32_t) {
      exec_result(*cp, res, done);
    });
    r_.read(ct.proc->error_fd.get(), &ct.proc->child_error, sizeof ct.proc->child_error, uint64_t(-1),
            ct.proc->error_c);
  });
}

void Engine::exec_result(Container& c, int32_t res, Done done) {
  Process& p = *c.proc;
  p.error_fd.reset();
  if (c.spec.tty) {
    if (res == 0 && !p.start_failed) io_->pty_arrived(c);
    p.pty_handoff.sync_fd.reset();
    p.pump->start();  // without the master (a failed start) it drains at once
  }
  if (p.start_failed) {
    // Already reported when the release failed.
  } else if (res == 0) {
    log::info("engine", "start id={} pid={}", c.id, p.pid);
    emit(c, "start");
    health_started(c);
    persist(c);
    when_persisted(c, [done] { done(ok()); });
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
