// A container's confinement at create and start (container_security.h).
#include "core/engine/container_security.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/process.h"
#include "core/runtime/mount_plan.h"
#include "core/runtime/security.h"

namespace berth::engine {

namespace {

using Kind = NamespaceMode::Kind;

// A duplicate of the running container `ref`'s init pidfd, for `what`
// ("PID", "IPC"). Docker's messages.
Result<unique_fd> running_init(Engine& e, const std::string& ref, const char* what, Container** out) {
  auto found = e.find(ref);
  if (!found) return Error::invalid("cannot join {} namespace of container {}: {}", what, ref, found.error().message());
  Container& x = **found;
  if (!is_running(x.state.status) || !x.proc || x.proc->exited)
    return Error::conflict("cannot join {} namespace of container {}: container {} is not running", what, ref, x.id);
  auto fd = pidfd_of(*x.proc);
  if (!fd) return std::move(fd.error()).context("a pidfd for the init of container {}", x.id);
  *out = &x;
  return std::move(*fd);
}

}  // namespace

std::vector<std::string> masked_paths(const SecurityRequest& r) {
  if (r.privileged || r.unmasked_paths) return {};
  return {runtime::kMaskedPaths, runtime::kMaskedPaths + runtime::kMaskedPathCount};
}

std::vector<std::string> readonly_paths(const SecurityRequest& r) {
  if (r.privileged || r.unmasked_paths) return {};
  return {runtime::kReadonlyPaths, runtime::kReadonlyPaths + runtime::kReadonlyPathCount};
}

std::string shm_dir_of(const Container& c) { return c.dir + "/shm"; }

bool warm_compatible(const SecurityRequest& r) {
  return r.pid.kind != Kind::kContainer && r.ipc.kind != Kind::kContainer && r.ipc.kind != Kind::kShareable &&
         r.device_cgroup_rules.empty() && r.devices.empty();
}

Result<void> check_security_references(Engine& e, const SecurityRequest& r) {
  for (auto [m, what] : {std::pair{&r.pid, "PID"}, {&r.ipc, "IPC"}}) {
    if (m->kind != Kind::kContainer) continue;
    // 400, not 404: a 404 to create makes the docker CLI pull the image.
    if (auto found = e.find(m->container); !found)
      return Error::invalid("cannot join {} namespace of container {}: {}", what, m->container, found.error().message());
  }
  return ok();
}

Result<void> check_userns(const Engine& e, const SecurityRequest& r, const std::string& network_mode) {
  if (!e.options().userns_remap || r.host_userns) return ok();
  const char* fix = "; with --userns-remap, run it with --userns host";
  if (r.privileged)
    return Error::invalid("privileged mode is incompatible with user namespaces{}", fix);
  if (network_mode == "host") return Error::invalid("cannot share the host's network namespace when user namespaces are enabled{}", fix);
  for (auto [m, what] : {std::pair{&r.pid, "PID"}, {&r.ipc, "IPC"}, {&r.uts, "UTS"}}) {
    if (m->kind == Kind::kHost)
      return Error::invalid("cannot share the host {} namespace when user namespaces are enabled{}", what, fix);
    if (m->kind == Kind::kContainer)
      return Error::invalid("cannot join the {} namespace of container {} when user namespaces are enabled{}", what,
                            m->container, fix);
  }
  return ok();
}

Result<std::vector<runtime::Device>> resolve_device_mappings(const std::vector<DeviceMapping>& devices) {
  std::vector<runtime::Device> out;
  for (const DeviceMapping& m : devices) {
    auto nodes = runtime::resolve_devices(m.path_on_host, m.path_in_container, m.cgroup_permissions);
    // A missing node is the request's fault (400), not a missing container
    // or image (a 404 makes the docker CLI try to pull the image).
    if (!nodes) return Error::invalid("{}", nodes.error().message());
    out.insert(out.end(), nodes->begin(), nodes->end());
  }
  return out;
}

Result<void> HostSecurity::prepare(runtime::Security& s) {
  s.devices = BERTH_TRY(resolve_device_mappings(devices));
  if (!make_shm_dir.empty()) {
    if (::mkdir(make_shm_dir.c_str(), 0700) < 0 && errno != EEXIST)
      return Error::sys(errno, "mkdir {}", make_shm_dir);
    // A failed start's mount, if one is left: this start's is a new one.
    BERTH_TRY_VOID(runtime::remove_shm(make_shm_dir));
    BERTH_TRY_VOID(runtime::make_shm(make_shm_dir, shm_size));
  }
  s.join_pid_pidfd = join_pid ? join_pid.get() : -1;
  s.join_ipc_pidfd = join_ipc ? join_ipc.get() : -1;
  return ok();
}

void HostSecurity::spawned(runtime::Security& s) {
  s.join_pid_pidfd = s.join_ipc_pidfd = -1;
  join_pid.reset();
  join_ipc.reset();
}

Result<HostSecurity> host_security(Engine& e, const Container& c, runtime::Security& s) {
  const SecurityRequest& r = c.spec.security;
  HostSecurity h;
  h.devices = r.devices;
  h.device_rules = r.device_cgroup_rules;
  if (r.ipc.kind == Kind::kShareable) {
    h.make_shm_dir = shm_dir_of(c);
    h.shm_size = r.shm_size;
    s.shm_dir = h.make_shm_dir;
  }
  Container* x = nullptr;
  if (r.pid.kind == Kind::kContainer) h.join_pid = BERTH_TRY(running_init(e, r.pid.container, "PID", &x));
  if (r.ipc.kind == Kind::kContainer) {
    unique_fd fd = BERTH_TRY(running_init(e, r.ipc.container, "IPC", &x));
    const NamespaceMode& theirs = x->spec.security.ipc;
    if (theirs.kind == Kind::kHost) {
      s.host_ipc = true;   // X is on the host's IPC namespace: so is this one
    } else if (theirs.kind == Kind::kShareable) {
      h.join_ipc = std::move(fd);
      s.shm_dir = shm_dir_of(*x);
    } else {
      return Error::invalid("container {}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
                            r.ipc.container);
    }
  }
  return h;
}

void unmount_shm_later(Engine& e, reactor::Reactor& r, Container& c) {
  if (c.spec.security.ipc.kind != Kind::kShareable) return;
  std::string id = c.id, dir = shm_dir_of(c);
  auto result = std::make_shared<Result<void>>(ok());
  auto done = [&e, id, result] {
    if (!*result) log::warn("engine", "id={}: {}", id, result->error().message());
    e.start_gate_done(id);
  };
  c.start_gates++;   // a start waits for it, as for the cgroup's removal
  if (!r.run_job([dir, result] { *result = runtime::remove_shm(dir); }, done)) {
    *result = Error(Code::kSystem, fmt::format("the job backlog is full: {} stays mounted until the next start", dir));
    done();
  }
}

}  // namespace berth::engine
