// Engine: the front of berthd's container engine. It owns the container
// table (by id and by name), the event stream and the parts below, and it
// carries the lifecycle verbs, one file each. ipc/server talks to this
// header and the parts' headers only.
//
// Parts (each header says what it owns):
//   images()    ImageService   images.h     import, rmi, tag, history, prune, save, load
//   volumes()   VolumeService  volumes.h    volume verbs; mounts of containers
//   execs()     ExecService    exec.h       docker exec
//   io()        ContainerIo    io.h         attach, stdin, resize, log followers
//   files()     ContainerFiles files.h      diff, export, commit, cp
//   resources() Resources      resources.h  cgroups: limits, OOM, stats, top
//   networks()  NetworkService networks.h   networks, endpoints, published ports, DNS
//   the warm pool (warm.h) is internal: create() adopts from it.
// The state machine is status.h: every verb asks can() first.
//
// Thread: reactor thread only. Calls that finish later take a `done`
// callback, always invoked on the reactor thread, possibly before the call
// returns. Containers are referred to by pointer only within one call;
// async holders keep the id. Work that may block (files, cgroups, clone3)
// runs on the reactor's job lanes with values and owned handles, never
// with pointers into the engine.
//
// A verb reports success only once the state it produced is on disk, so a
// daemon crash right after can never forget it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/histogram.h"
#include "core/base/unique_fd.h"
#include "core/engine/container.h"
#include "core/engine/events.h"
#include "core/engine/fd_budget.h"
#include "core/engine/options.h"
#include "core/engine/status.h"
#include "core/reactor/reactor.h"
#include "core/runtime/spawner.h"
#include "core/runtime/spec.h"

namespace berth::netns {
class NetnsPool;
}

namespace berth::engine {

class ImageService;
class VolumeService;
class ExecService;
class ContainerIo;
class ContainerFiles;
class Resources;
class WarmPool;
class NetworkService;
class KeeperLink;
class PumpParking;
struct Process;
struct SpawnResult;

// Counts for GET /metrics, kept on the reactor.
struct EngineCounters {
  uint64_t starts = 0, start_failures = 0;    // starts that got past validation
  Histogram start_latency = Histogram::latency();   // of those that succeeded
  uint64_t log_bytes = 0;                     // committed to log files
  uint64_t log_dropped_bytes = 0, log_dropped_records = 0;   // mode=non-blocking
};

class Engine {
 public:
  using ContainerMap = std::map<std::string, std::unique_ptr<Container>>;

  // engine.cc: opens the stores, reloads containers (container_load.cc),
  // starts the pools.
  static Result<std::unique_ptr<Engine>> open(reactor::Reactor& r, const Options& o);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // engine.cc. Lookup by full id, name (with or without '/'), or unique id prefix.
  Result<Container*> find(std::string_view ref);
  const ContainerMap& containers() const { return containers_; }
  int count(Status s) const;
  const Options& options() const { return opts_; }
  const EngineCounters& counters() const { return counters_; }
  const FdBudget& fd_budget() const { return fd_budget_; }
  size_t warm_ready() const;   // warm inits ready for adoption
  EventBus& events() { return events_; }
  // Publishes a container event with its name and image as attributes.
  void emit(const Container& c, std::string action, std::map<std::string, std::string> attrs = {});

  ImageService& images() { return *images_; }
  VolumeService& volumes() { return *volumes_; }
  ExecService& execs() { return *execs_; }
  ContainerIo& io() { return *io_; }
  ContainerFiles& files() { return *files_; }
  Resources& resources() { return *resources_; }
  NetworkService& networks() { return *networks_; }

  // container_create.cc: validates, reserves the name, makes the directory
  // and volumes and writes the state on the job lane.
  void create(CreateSpec spec, DoneWith<Container*> done);
  // container_start.cc: spawns the init (warm, or cold on the job lane).
  // A start by the user: it clears the restart count and the manual stop;
  // a container waiting for its policy's restart answers 304.
  void start(Container& c, Done done);
  // container_stop.cc: signals; stop waits for the exit (SIGKILL after
  // timeout_s); restart stops, then starts once the process is gone (an
  // AutoRemove container is kept, as Docker's restart does).
  // A stop, or a kill with SIGKILL or the container's stop signal, is the
  // user's: the restart policy leaves the container stopped (a container
  // waiting for its policy's restart just stays stopped).
  Result<void> kill(Container& c, int sig);
  void stop(Container& c, int timeout_s, int sig, Done done);
  void restart(Container& c, int timeout_s, int sig, Done done);
  // The container's stop signal (Config.StopSignal, else the image's
  // STOPSIGNAL, else SIGTERM) and stop timeout (Config.StopTimeout, else 10 s).
  int stop_signal(const Container& c) const;
  int stop_timeout_s(const Container& c) const;
  // container_pause.cc: the freezer.
  void pause(Container& c, Done done);
  void unpause(Container& c, Done done);
  // container_update.cc: new limits, applied live; answers Docker's warnings.
  // `restart`: a new restart policy, when set (refused for AutoRemove).
  void update(Container& c, const cgroups::Resources& r, std::optional<RestartPolicy> restart,
              DoneWith<std::vector<std::string>> done);
  // container_rename.cc: a new name (Docker's rules and messages); links
  // that name the container follow it.
  void rename(Container& c, std::string name, Done done);
  // container_remove.cc: rm (force: kill first; remove_volumes: rm -v).
  void remove(Container& c, bool force, Done done, bool remove_volumes = false);
  // container_prune.cc: the containers that are not running (nor paused,
  // restarting or being removed) and match the filters.
  void prune(PruneFilters f, DoneWith<PruneReport> done);
  // container_wait.cc: a waiter fires once; at once for kNotRunning when
  // the container is not running. Returns a token for cancel_wait.
  uint64_t wait(Container& c, WaitCondition cond, std::function<void(int, const std::string&)> fire);
  void cancel_wait(const std::string& id, uint64_t token);
  // engine.cc: runs `fn` once the container's latest state is written (or
  // its write failed: then unsaved() says why).
  void when_persisted(Container& c, std::function<void()> fn);
  // ok() when the container's latest state is on disk; else the write's
  // error (a full disk: 507), saying that `change` is made and will be
  // saved by the retry.
  Result<void> unsaved(const std::string& id, std::string_view change) const;
  // engine.cc: lets every container go (live restore: left to the keeper;
  // else killed), drops the warm pool, and calls done once every exit is
  // recorded and every part is idle. `upgrade`: a live upgrade, which
  // leaves containers running whatever --live-restore says (the next
  // berthd is about to take them back).
  void shutdown(std::function<void()> done, bool upgrade = false);

  // The keeper (runtime/keeper.h): its pid (0: none), whether it answers,
  // and how many times one died under this berthd (GET /info).
  pid_t keeper_pid() const;
  bool keeper_connected() const;
  uint64_t keeper_losses() const;

  // What a start of the container waits for after its exit (its cgroup's
  // removal, its mount namespace's teardown, its /dev/shm's unmount;
  // Container::start_gates): one of them is done, and once none is left,
  // the waiting starts go on.
  void start_gate_done(const std::string& id);

 private:
  friend class ImageService;
  friend class VolumeService;
  friend class ExecService;
  friend class ContainerIo;
  friend class ContainerFiles;
  friend class Resources;
  friend class WarmPool;
  friend class NetworkService;

  explicit Engine(reactor::Reactor& r);
  Container* by_id(const std::string& id);
  uint64_t token() { return next_token_++; }
  void persist(Container& c);
  void persisted(const std::string& id, const Result<void>& r);
  void retry_unsaved();
  void check_shutdown();
  Result<void> load_containers();                                   // container_load.cc
  Result<runtime::Spec> init_spec(Container& c);                    // container_start.cc
  void spawn(Container& c, Done done);                              // container_spawn.cc
  void spawned(Container& c, SpawnResult r, Done done);      // container_spawn.cc
  void watch_exit(Container& c);                                    // container_exit.cc
  void exit_ready(Container& c, int32_t res);
  void exec_result(Container& c, int32_t res, Done done);           // container_start.cc
  void start_container(Container& c, bool manual, Done done);
  // container_restart.cc: the restart policy at an exit, its timers, and
  // the starts at daemon start.
  bool plan_restart(Container& c, int exit_code);
  void arm_restart(Container& c);
  // A timeout on the ring for container `c` (restart policies, health
  // checks): `fire` runs with the container and the token unless the
  // timer is cancelled or the container is gone first.
  uint64_t arm_timer(Container& c, int64_t delay_ms, std::function<void(Container&, uint64_t)> fire);
  void cancel_timer(uint64_t& token);
  void timer_done(uint64_t token, int32_t res);
  void restart_by_policy(Container& c);
  void cancel_restart(Container& c);
  void start_restartable();
  // container_health.cc: health checks while a container runs.
  void health_started(Container& c, bool resumed = false);
  void health_stopped(Container& c);
  void schedule_probe(Container& c);
  void run_probe(Container& c);
  void probe_done(Container& c);
  void maybe_finish_exit(Container& c);                             // container_exit.cc
  void finish_exit(Container& c);
  void tear_down_later(Container& c, unique_fd mntns);
  void drop_process_if_idle(Container& c);
  void stop_timer_fired(Container& c, int32_t res);                 // container_stop.cc
  void kill_everything(Container& c);
  void stop_restarting(Container& c, Done done);
  void remove_now(Container& c, Done done, bool remove_volumes);    // container_remove.cc
  void fire_waiters(Container& c, bool removed);                    // container_wait.cc
  void exited(Container& c, int exit_code);                         // container_exit.cc
  void keeper_lost();                                               // container_keeper.cc
  void detach(Container& c);
  void let_go(Container& c);   // shutdown: detach (live restore) or kill
  void drop_unclaimed();       // open: kept inits no container took back
  Result<void> open_keeper();
  bool readopt(Container& c, runtime::KeptProcess& kept);
  void readopted(Container& c, runtime::KeptProcess kept);

  reactor::Reactor& r_;
  Options opts_;
  // Idle output pumps' descriptors (log_pump.h); declared before the
  // containers, so that it outlives their pumps.
  std::unique_ptr<PumpParking> parking_;
  ContainerMap containers_;                    // by id
  std::map<std::string, std::string> names_;   // name -> id (reserved at create)
  uint64_t next_token_ = 1;
  EventBus events_;
  EngineCounters counters_;
  FdBudget fd_budget_;
  std::unique_ptr<ImageService> images_;
  std::unique_ptr<VolumeService> volumes_;
  std::unique_ptr<Resources> resources_;
  std::unique_ptr<ExecService> execs_;
  std::unique_ptr<ContainerIo> io_;
  std::unique_ptr<ContainerFiles> files_;
  std::unique_ptr<netns::NetnsPool> netns_pool_;
  // A network namespace with only lo, whose one sysfs every --network none
  // container shares (runtime::Spec::sysfs_netns_fd); none if it could
  // not be made (they get their own).
  unique_fd sysfs_netns_;
  std::unique_ptr<WarmPool> warm_;
  std::unique_ptr<NetworkService> networks_;
  // Container timers (restart policies, health checks), by token; one
  // freed when its completion (fired or cancelled) has come back.
  struct ContainerTimer {
    std::string id;
    reactor::Completion c;
    __kernel_timespec ts{};
    std::function<void(Container&, uint64_t)> fire;
  };
  std::map<uint64_t, std::unique_ptr<ContainerTimer>> timers_;
  std::shared_ptr<runtime::Spawner> spawner_;  // every clone3 (runtime/spawner.h); null if it could not start
  std::unique_ptr<KeeperLink> keeper_;          // the keeper's exit reports (keeper_link.h)
  std::map<std::string, runtime::KeptProcess> kept_;   // hello's answer by container id, until load_containers
  bool starting_keeper_ = false;
  bool keeper_closed_ = false;   // shutdown: its link is closed
  // Containers whose latest state could not be written (a full disk): the
  // write is retried once a second until it succeeds or they are removed.
  std::map<std::string, Error> unsaved_;   // id -> why the last write failed
  reactor::Completion unsaved_c_;
  __kernel_timespec unsaved_ts_{1, 0};
  std::function<void()> shutdown_done_;
  bool shutting_down_ = false;   // start() refuses: nothing new may outlive the shutdown
  std::shared_ptr<int> life_ = std::make_shared<int>(0);   // expires with the engine
};

// berthd --keeper <exec-root>: the keeper process (runtime/keeper.h), for
// berthd's main, which may not reach core/runtime itself.
[[noreturn]] void keeper_main(int listen_fd, const char* exec_root);

// Docker's name rule, [a-zA-Z0-9][a-zA-Z0-9_.-]*, 1 to 253 characters.
bool valid_name(std::string_view name);
std::string generate_name(uint64_t seed);

// berthd --userns-remap VALUE into o.userns_remap and o.userns_remap_name
// (runtime/userns.h: default, USER[:GROUP] or UID:GID:SIZE). Blocking (may
// add the user berthremap).
Result<void> set_userns_remap(Options& o, std::string_view value);

}  // namespace berth::engine
