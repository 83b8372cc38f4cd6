// Process: the runtime half of a running container (not persisted): the
// pidfd and its exit watch, the exec error pipe, the output pump and the stop
// timer. Owned by its Container; engine-internal.
//
// Thread: reactor thread only. It is destroyed only when none of its
// completions is in flight and its pump is idle (Engine::drop_process_if_idle).
#pragma once

#include <sys/types.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/engine/engine.h"
#include "core/engine/io.h"
#include "core/engine/resources.h"
#include "core/engine/log_pump.h"
#include "core/engine/stdin_writer.h"
#include "core/reactor/reactor.h"
#include "core/runtime/spawn.h"

namespace berth::engine {

struct NetworkStart;

// Sets "K=V" in `env`, replacing an earlier K (later entries win, like
// Docker); a bare "K" is dropped. Used for the init's env and exec's.
void put_env(std::vector<std::string>& env, const std::string& kv);

// What a start's spawn produced (container_spawn.cc), handed from the job
// lane (cold start, or a warm init's release with limits to apply) or the
// reactor (a warm release) to Engine::spawned. `created` false: no child
// exists. Otherwise `released` says whether the child was let go; one that
// was not is killed and reaped like any other.
struct SpawnResult {
  Result<void> created = ok();
  Result<void> released = ok();
  runtime::Spec spec;                       // as spawned (its fds no longer valid)
  runtime::Process child;                   // pid, pidfd, error pipe, sync socket (tty)
  std::shared_ptr<cgroups::Cgroup> cgroup;  // made or taken over; null without cgroups
  unique_fd mntns;                          // the init's mount namespace (Process::mntns)
  unique_fd log_fd;
  uint64_t log_size = 0;
  Result<std::pair<unique_fd, uint64_t>> log_index = Error(Code::kNotFound, "no log index");  // IndexWriter::open_file
  unique_fd out_r, err_r, in_w;             // berthd's ends of the stdio pipes
  unique_fd oom_fd;                         // memory limit: the cgroup's OOM notifier
  std::shared_ptr<NetworkStart> net;        // what the job made of the network (networks.h)
  bool warm = false;
  uint64_t keeper_gen = 0;                  // the keeper that spawned it (keeper_link.h); 0: berthd did
  int64_t since_ns = 0;                     // CLOCK_REALTIME before the clone (KeeperLink::watch)
  uint64_t start_ticks = 0;                 // runtime::identity, read off the loop (0: unknown)
};

// The pidfd: a child of the keeper (nearly all) has none once its exit
// watch is set (Engine::watch_exit): the keeper pushes its exit, and an
// idle container costs berthd no descriptor for it. Signals and joins open
// one when needed (Engine::pidfd_of), checked against the process's start
// time. A child of berthd's own (no keeper ran) keeps its pidfd, polled.
struct Process {
  pid_t pid = -1;
  unique_fd pidfd;
  uint64_t start_ticks = 0;      // /proc/<pid>/stat start time (runtime::identity)
  bool gone = false;             // identity() found it exited: no pidfd can name it
  unique_fd error_fd;
  // The init's mount namespace, held so that its teardown does not run in
  // the init's exit (Engine::tear_down_later, Container::held_mntns): in
  // the vault (mntns_key) while it runs, so an idle container still costs
  // no descriptor; as a descriptor when the vault cannot hold it.
  unique_fd mntns;
  uint32_t mntns_key = UINT32_MAX;
  runtime::Spec spec;            // as spawned, for describe_child_error
  runtime::ChildError child_error{};
  bool start_failed = false;

  bool exited = false;
  int exit_code = 0;
  // The keeper (runtime/keeper.h) is the parent: the status comes from it
  // (KeeperLink::on_exit), for the keeper of this generation.
  uint64_t keeper_gen = 0;
  int64_t since_ns = 0;
  bool awaiting_keeper = false;  // KeeperLink::watch registered, its answer not yet in
  // A clean exit with --live-restore: berthd lets go of a running process,
  // which its keeper keeps for the next berthd; the state stays running.
  bool detached = false;
  reactor::Completion exit_c;    // POLLIN on the pidfd (berthd's own children only)
  reactor::Completion error_c;   // read of the exec error pipe

  std::unique_ptr<OutputPump> pump;

  // The container's stdin (OpenStdin): a pipe's write end, or a copy of the
  // pty master; fed by attached clients (io.h).
  std::unique_ptr<StdinWriter> stdin;

  // Tty: the sync socket the pty master arrives on (until exec success), then
  // a copy of the master for window changes; the pump reads another copy.
  runtime::Process pty_handoff;
  unique_fd pty;
  unsigned short pending_rows = 0, pending_cols = 0;   // a resize before the master came

  // Memory-limit notifications (only for containers with a memory limit).
  unique_fd oom_fd;              // made by the spawn job (Resources::oom_fd_for)
  reactor::Completion oom_c;     // POLLIN on oom_fd
  uint64_t oom_seen = 0;         // OOM kills already reported
  bool oom_reading = false;      // a read of the OOM counter is on the job lane
  bool oom_final = false;        // the counter was read after the exit

  reactor::Completion stop_timer_c;
  __kernel_timespec stop_ts{};
  std::vector<Done> on_exit;     // stop/remove(force) callers waiting for the exit

  bool idle() const {
    return !awaiting_keeper && !exit_c.in_flight() && !error_c.in_flight() && !stop_timer_c.in_flight() && !oom_c.in_flight() &&
           !oom_reading &&
           (!stdin || !stdin->busy()) &&
           (!pump || !pump->busy());
  }
};

// A pidfd for `p`'s process, while it runs: a duplicate of the one it
// keeps, or a new one checked against its start time (runtime::open_pidfd).
// ESRCH once it has exited.
Result<unique_fd> pidfd_of(const Process& p);
// pidfd_send_signal through pidfd_of; ESRCH once it has exited.
Result<void> signal_process(const Process& p, int sig);

}  // namespace berth::engine
