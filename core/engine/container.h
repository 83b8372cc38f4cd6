// Container: one container's configuration and state, owned by the Engine.
//
// Thread: reactor thread only. The Engine owns every Container (by id) and
// is the only code that changes or persists its state; ipc reads it to build
// API responses. Pointers to a Container stay valid until the Engine removes
// it; holders that outlive a request use the id, not the pointer.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "cgroups/cgroups.h"
#include "core/base/unique_fd.h"
#include "core/engine/log_files.h"
#include "core/engine/health.h"
#include "core/engine/network_spec.h"
#include "core/engine/restart_policy.h"
#include "core/engine/security_request.h"
#include "core/engine/status.h"
#include "core/runtime/spec.h"

namespace berth::engine {

// One mount of a container (HostConfig.Binds, Mounts, Tmpfs, or a
// Config.Volumes/image VOLUME entry), validated by ipc (mount_request.h).
// The engine fills `source` of anonymous volumes (a generated name) and
// `host_path` of volumes at create, so it is persisted with the container.
struct MountSpec {
  enum class Type { kBind, kVolume, kTmpfs };
  enum class Origin { kBinds, kMounts, kTmpfs, kVolumes };  // where the client put it
  Type type = Type::kVolume;
  Origin origin = Origin::kBinds;
  std::string source;        // bind: absolute host path; volume: name ("" until named); tmpfs: ""
  std::string target;        // absolute, clean
  bool readonly = false;
  std::string mode;          // Binds: the options as given ("ro", "ro,z"), for MountPoint.Mode
  std::string propagation;   // bind: "rprivate" unless given
  bool nonrecursive = false; // bind: a plain bind, not an rbind
  bool nocopy = false;       // volume: no copy-up of the container's content
  bool anonymous = false;    // volume: named by the engine, removed by rm -v
  std::map<std::string, std::string> volume_labels;   // volume created on first use: its labels
  std::string host_path;     // volume: its data directory, set at create
  // tmpfs: MOUNT_ATTR_* flags and fsconfig key/values (size, mode, uid...).
  uint64_t tmpfs_attrs = 0;
  std::vector<std::pair<std::string, std::string>> tmpfs_options;
};

// What a client asked for at create time, resolved and validated by ipc.
// Raw JSON of Config and HostConfig is kept opaque for inspect fidelity.
struct CreateSpec {
  std::string name;                    // without leading '/'; empty = generate
  std::string image;                   // as typed by the user
  std::vector<std::string> cmd, entrypoint, env;
  bool cmd_set = false, entrypoint_set = false;
  std::string working_dir, user, hostname;
  bool tty = false, open_stdin = false, stdin_once = false;
  unsigned short console_rows = 0, console_cols = 0;   // HostConfig.ConsoleSize: the pty's first size
  bool attach_stdin = false, attach_stdout = true, attach_stderr = true;
  std::map<std::string, std::string> labels;
  bool auto_remove = false;
  RestartPolicy restart;               // HostConfig.RestartPolicy (restart_policy.h); changed by update
  // Config.StopSignal as given (or the image's STOPSIGNAL, filled at
  // create); "" = SIGTERM. Config.StopTimeout; unset = 10 s.
  std::string stop_signal;
  std::optional<int> stop_timeout_s;
  // HostConfig.NetworkMode: bridge (the default network), none, host,
  // container:<id>, or a network's name ("default" until create resolves
  // it: networks.h); the rest in `net`.
  std::string network_mode = "default";
  NetworkSpec net;                     // networks, published ports, names (network_spec.h)
  cgroups::Resources resources;        // HostConfig limits, validated; changed by update
  std::string cgroup_parent;           // HostConfig.CgroupParent; empty = the daemon's default
  LogConfig log;                       // HostConfig.LogConfig (log_files.h); unset = the daemon's defaults
  std::vector<MountSpec> mounts;       // binds, volumes, tmpfs (container_mounts.cc)
  bool readonly_rootfs = false;        // HostConfig.ReadonlyRootfs
  bool init = false;                   // HostConfig.Init: berth-init is PID 1 (container_start.cc)
  HealthConfig health;                 // Config.Healthcheck (health.h); disabled unless set
  bool cgroupns_host = false;          // HostConfig.CgroupnsMode "host" (default: private)
  // Its user namespace's mapping, fixed at create (berthd --userns-remap
  // then, unless UsernsMode host): its upper dir's files are owned so, so
  // it keeps the mapping whatever a later berthd is started with.
  runtime::IdMap userns;
  // HostConfig.Links (legacy links): {container name, alias}; create checks
  // each names a container and keeps its name (without '/').
  std::vector<std::pair<std::string, std::string>> links;
  SecurityRequest security;            // confinement: HostConfig.Privileged, CapAdd, SecurityOpt, Devices...
  std::string config_json = "{}";      // Config as received (normalised by ipc)
  std::string host_config_json = "{}"; // HostConfig as received
};

struct State {
  Status status = Status::kCreated;
  pid_t pid = 0;
  // The process's start time (runtime::identity; 0: unknown): a re-adoption
  // takes it from here instead of reading /proc again.
  uint64_t start_ticks = 0;
  // Its cgroup's Cgroup::counter_base (a memory cgroup from the pool), so
  // that a re-adoption's new Cgroup reports the same stats.
  cgroups::Cgroup::CounterBase cgroup_base{};
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;
  int64_t started_ns = 0, finished_ns = 0;
};

enum class WaitCondition { kNotRunning, kNextExit, kRemoved };

// A client waiting for the container (POST /wait). Fired once.
struct Waiter {
  uint64_t token;
  WaitCondition condition;
  std::function<void(int exit_code, const std::string& error)> fire;
};

// A client attached to the container's output (POST /attach).
struct Attacher {
  uint64_t token;
  bool want_stdout, want_stderr;
  std::function<void(uint8_t stream, std::string_view data)> output;
  std::function<void()> closed;   // the container's output ended
};

// A follower of the container's log (GET /logs?follow=1): `fire(false)` after
// new bytes are committed or the log rotates, `fire(true)` once when the
// container's output has ended (every byte is committed by then).
struct LogWatcher {
  uint64_t token;
  std::function<void(bool ended)> fire;
};

struct Process;  // runtime state of a running container, see engine.cc
struct WarmInit;  // a pre-started init, see warm.h

struct Container {
  Container();
  ~Container();   // out of line: Process is complete only in engine.cc
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  std::string id;
  std::string name;                 // without leading '/'
  int64_t created_ns = 0;
  std::string image_id;             // "sha256:..."
  std::string image_ref;            // as typed
  CreateSpec spec;
  std::vector<std::string> path_args;  // resolved entrypoint + cmd: [0] = Path
  State state;
  int restart_count = 0;            // restarts by the policy since the last manual start
  // Stopped by the user (stop, or kill with SIGKILL or its stop signal):
  // the policy does not restart it; unless-stopped not even at daemon start.
  // Persisted; cleared by a manual start.
  bool manually_stopped = false;
  std::string dir;                  // <root>/containers/<id>

  // Runtime (not persisted).
  std::unique_ptr<Process> proc;
  // Created from a warm init (warm.h), not yet started: its id and dir are
  // this container's; start() hands the init over.
  std::unique_ptr<WarmInit> warm;
  // The container's cgroup while it runs (shared with stats and freeze jobs
  // on the job pool, which may outlive a stop by one read).
  std::shared_ptr<cgroups::Cgroup> cgroup;
  // AutoRemove: the exited init's mount namespace, kept so that its
  // teardown (unmounting the overlay and a dozen other mounts) runs in the
  // removal job instead of in the init's exit, which is on the path of
  // every `run --rm` (see Engine::hold_mount_namespace).
  unique_fd held_mntns;
  // Run (deferred) once the exited process is dropped: a removal waiting for
  // the process's last operations to end.
  std::vector<std::function<void()>> after_drop;
  // What still runs on the job lane after its exit and must end before it
  // starts again (its last cgroup's removal, its mount namespace's
  // teardown, its /dev/shm's unmount), and the starts waiting for them
  // (Engine::start, Engine::start_gate_done).
  int start_gates = 0;
  std::vector<std::function<void()>> after_start_gates;
  // The policy's last delay before a restart (restart_policy.h), not persisted.
  int64_t restart_delay_ms = 0;
  uint64_t restart_timer = 0;       // its armed timer's token (Engine::timers_), 0: none
  // Health checks (container_health.cc), while it runs: the state (kept
  // after the exit for inspect; saved at each status change, so that a
  // re-adopted container goes on from it), the next probe's timer,
  // the probe under way (its exec id) and its timeout.
  HealthState health;
  // Its networks while it runs (NetworkService::runtime_state, taken at
  // each persist): what a restarted berthd re-adopts it with.
  // Host veth names made for it so far, over all its starts (their
  // netns::veth_name index is this modulo 256, keeping 9 characters of the
  // id): a restart's veth never takes the name of the last run's, which
  // the tidy lane may not have deleted yet.
  unsigned veth_links = 0;
  std::string net_state;
  bool health_active = false;       // the container has run with a health check since the daemon started
  uint64_t health_timer = 0, health_timeout_timer = 0;
  std::string health_probe;
  HealthResult health_pending;
  // A restart's stop is under way: its exit must not remove an AutoRemove
  // container (Docker's restart keeps it too).
  bool restarting = false;
  // A start's spawn is under way (container_spawn.cc): a second start is
  // refused, and a removal waits in after_start until it has ended.
  bool starting = false;
  std::vector<std::function<void()>> after_start;
  // cp on the stopped container in progress (container_archive.cc): each
  // holds a detached overlay on its upper dir, so start waits for them.
  std::shared_ptr<std::atomic<int>> overlay_copies;
  std::vector<std::string> exec_ids;   // its exec instances (inspect's ExecIDs)
  std::vector<std::string> create_warnings;   // create's answer (Docker's Warnings)
  // stdin sent by a client attached before start (docker run -i attaches
  // first): handed to the process at start. One chunk per client at most,
  // since each client waits for its chunk's `done`.
  struct PendingStdin {
    std::string data;
    std::function<void()> done;
  };
  std::vector<PendingStdin> stdin_pending;
  bool stdin_close_pending = false;
  std::vector<Waiter> waiters;
  std::vector<Attacher> attachers;
  bool persist_in_flight = false, persist_dirty = false;
  std::vector<std::function<void()>> after_persist;   // run when no persist is in flight
  std::string log_path() const { return dir + "/container.log"; }
  uint64_t log_committed = 0;        // bytes of complete records in the log file
  // Logs (container_logs.cc): rotations of the log since the daemon started,
  // and the followers woken when the log grows or the output ends.
  uint64_t log_generation = 0;
  // mode=non-blocking: output dropped because the log buffer was full (since
  // the daemon started; inspect's LogDropped).
  uint64_t log_dropped_bytes = 0, log_dropped_records = 0;
  std::vector<LogWatcher> log_watchers;
};

}  // namespace berth::engine
