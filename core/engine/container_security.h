// A container's confinement at create and start: what the engine adds to
// the runtime's Security (runtime/spec.h) beyond to_runtime_security()
// (security_options.h), each piece on the thread it needs:
//
//   create (reactor): container:X references must name a container;
//   create (job lane): each --device is resolved once, to fail early;
//   start (reactor): --pid/--ipc container:X take a duplicate of X's init
//     pidfd (X must be running; for IPC, X must be shareable or on the
//     host's IPC namespace) and X's /dev/shm;
//   start (job lane, the cold spawn's job): --device nodes resolved on
//     the host (stat), --ipc shareable's /dev/shm mounted in the
//     container's directory (<dir>/shm, a tmpfs of ShmSize), the devices
//     cgroup given the user's --device-cgroup-rule list;
//   exit (job lane): that /dev/shm unmounted; rm and daemon start unmount
//     it too (idempotent).
//
// A container whose confinement needs any of that never takes a warm init
// (warm_compatible()): a warm init's cgroup and namespaces are made with
// the defaults.
#pragma once

#include <string>
#include <vector>

#include "cgroups/devices.h"
#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/engine/container.h"
#include "core/reactor/reactor.h"
#include "core/runtime/security.h"
#include "core/runtime/spec.h"

namespace berth::engine {

class Engine;

// Docker's inspect lists: the paths `r` masks and makes read-only (none
// when privileged or with systempaths=unconfined).
std::vector<std::string> masked_paths(const SecurityRequest& r);
std::vector<std::string> readonly_paths(const SecurityRequest& r);

// --ulimit names ("nofile"), for views.
using runtime::rlimit_name;

// The shareable /dev/shm of a container: <dir>/shm.
std::string shm_dir_of(const Container& c);

// Whether a warm init (made with default confinement) can become `c`: no
// join of another container's namespaces, no shareable IPC, no devices
// cgroup rules of its own (the rest is judged by runtime::can_release_as).
bool warm_compatible(const SecurityRequest& r);

// Reactor: --pid/--ipc container:X name an existing container (400 "No
// such container: X" otherwise).
Result<void> check_security_references(Engine& e, const SecurityRequest& r);

// --userns-remap: what a remapped container cannot have (Docker's refusals,
// and berth's own for joining another container's pid or IPC namespace,
// which its user namespace does not own); UsernsMode "host" lifts them.
Result<void> check_userns(const Engine& e, const SecurityRequest& r, const std::string& network_mode);

// Job lane: each DeviceMapping as device nodes (runtime::resolve_devices).
Result<std::vector<runtime::Device>> resolve_device_mappings(const std::vector<DeviceMapping>& devices);

// What a cold start does on the host for the container's confinement.
// Made on the reactor (host_security()), used by the spawn's job.
struct HostSecurity {
  std::vector<DeviceMapping> devices;              // resolved into Security::devices
  std::vector<cgroups::DeviceRule> device_rules;   // the user's, after Docker's allowlist
  std::string make_shm_dir;                        // --ipc shareable: mount a tmpfs here
  int64_t shm_size = 0;
  unique_fd join_pid, join_ipc;                    // duplicates of X's init pidfd

  // Job lane: resolves the devices, mounts the shareable /dev/shm and lends
  // the pidfds to `s` (until spawned()).
  Result<void> prepare(runtime::Security& s);
  // Job lane, after the spawn request: the pidfds are closed and cleared
  // from `s` (the child has its own copies).
  void spawned(runtime::Security& s);
};

// Reactor, at start: the HostSecurity of `c`, and what it changes in the
// init spec's Security (--ipc container:X of a host-IPC X: the host's).
// Errors: X missing (400), not running (409), not shareable (400).
Result<HostSecurity> host_security(Engine& e, const Container& c, runtime::Security& s);

// After an exit or a failed start of a --ipc shareable container: its
// /dev/shm unmounted on the job lane. A start meanwhile waits for it (as
// for the cgroup removal: Container::start_gates).
void unmount_shm_later(Engine& e, reactor::Reactor& r, Container& c);

}  // namespace berth::engine
