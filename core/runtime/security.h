// Helpers that turn a container's security options into Spec::Security
// (spec.h) and check them: ulimit names, sysctl names, device nodes,
// /dev/shm for a shareable IPC namespace. (The devices cgroup rules that go
// with a Security are the engine's: core/engine/devices.h.)
//
// validate_security() is what prepare() runs on every spawn; the others
// are for the caller (core/engine) building the Spec. Any thread; only
// resolve_devices() and make_shm()/remove_shm() touch the host.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/runtime/spec.h"

namespace berth::runtime {

// "nofile" -> RLIMIT_NOFILE ... (Docker's --ulimit names: core, cpu, data,
// fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio,
// rttime, sigpending, stack); nullopt when unknown.
std::optional<int> rlimit_resource(std::string_view name);
// RLIMIT_NOFILE -> "nofile".
std::string_view rlimit_name(int resource);

// Docker's namespaced sysctls: net.*, fs.mqueue.*, kernel.shm*, kernel.msg*,
// kernel.sem. The name may use '.' or '/' between components. Refused
// ("sysctl 'kernel.panic' is not whitelisted", Docker's words) otherwise,
// and net.* with the host's network, the IPC ones with the host's IPC
// namespace (they would change the host).
Result<void> validate_sysctl(std::string_view name, std::string_view value, bool host_network, bool host_ipc);

// "net.ipv4.ip_forward" -> "net/ipv4/ip_forward" (relative to /proc/sys).
std::string sysctl_proc_path(std::string_view name);

// A remapped container's net.* sysctls in a pre-made netns (owned by the
// host's user namespace, so its root may not write them): the parent
// writes them around clone3 (spawn.cc), the child skips them.
bool parent_writes_sysctl(const Spec& spec, std::string_view name);

// Every check prepare() makes of a Security: capability bits known, rlimits
// soft <= hard, sysctls (above), devices under /dev with a c/b type,
// namespaces consistent (a pidfd to join and "host" are exclusive), no
// NUL bytes, an shm size >= 0.
Result<void> validate_security(const Security& s, bool new_netns);

// --device HOST[:CONTAINER][:PERMS], parsed by the caller: the node(s) at
// `host_path` (symlinks followed); a directory gives every device below it,
// each at the same relative path under `container_path` (Docker's
// behaviour for "--device /dev/snd"). kInvalidArgument when it is not a
// device node or holds none; kNotFound when it does not exist.
Result<std::vector<Device>> resolve_devices(const std::string& host_path, const std::string& container_path,
                                            const std::string& permissions);

// Whether an init made (deferred, a warm init) with `warm` security can be
// released with `final`'s: what is set up before the release (namespaces,
// mounts, sysctls, devices) must be the defaults in both; capabilities,
// seccomp and no_new_privs travel with the release (late.h).
bool can_release_security(const Security& warm, const Security& final);

// A host-side /dev/shm for an "--ipc shareable" container (Docker keeps it
// in the container's directory): a tmpfs of `size_bytes` (0: 64 MiB)
// mounted on the existing empty directory `dir`, nosuid,nodev,noexec, mode
// 1777; bound by the container and by each one that joins its IPC
// namespace (Security::shm_dir). remove_shm() detaches it (a no-op when
// nothing is mounted there).
Result<void> make_shm(const std::string& dir, int64_t size_bytes);
Result<void> remove_shm(const std::string& dir);

}  // namespace berth::runtime
