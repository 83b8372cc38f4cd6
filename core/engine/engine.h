// Engine: the owner of every container and the only code that changes or
// persists container state. Images live in fs::ImageStore, which the engine
// holds; ipc/server maps HTTP requests onto these calls.
//
// Thread: reactor thread only. Calls that finish later take a `done`
// callback, always invoked on the reactor thread, possibly before the call
// returns. Containers are referred to by pointer only within one call; async
// holders keep the id.
//
// Verbs follow one shape: refresh, check can_x(), act, set state, persist
// (one file per verb: container_<verb>.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/engine/container.h"
#include "core/engine/events.h"
#include "core/engine/exec.h"
#include "core/engine/netns_pool.h"
#include "core/engine/stats_hub.h"
#include "core/engine/stdin_writer.h"
#include "core/engine/volumes.h"
#include "core/engine/spawner.h"
#include "core/engine/warm.h"
#include "core/reactor/reactor.h"
#include "core/runtime/spec.h"
#include "fs/changes.h"
#include "fs/container_path.h"
#include "fs/image_store.h"

namespace berth::engine {

struct Options {
  std::string root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  size_t netns_pool = 4;   // network namespaces made ahead of time (0: none)
  size_t warm_inits = 2;   // container inits made ahead of time (warm.h; 0: none)
  // Parent of every container's cgroup: relative to berthd's own cgroup (per
  // hierarchy), or absolute from the hierarchy root.
  std::string cgroup_parent = "berth";
  bool cgroups = true;     // false: no cgroups at all (limits are refused)
  cgroups::DetectOptions cgroup_detect;
  LogConfig log_defaults;  // --log-opt: under each container's HostConfig.LogConfig
};

using Done = std::function<void(Result<void>)>;

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(reactor::Reactor& r, const Options& o);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Lookup by full id, name (with or without '/'), or unique id prefix.
  Result<Container*> find(std::string_view ref);
  const std::map<std::string, std::unique_ptr<Container>>& containers() const { return containers_; }
  fs::ImageStore& images() { return *images_; }
  const Options& options() const { return opts_; }
  // One read-only layer shared by every container, just above its image:
  // the empty /dev, /proc and /sys the runtime mounts on. With the mount
  // points there, an image without them needs no mkdir in the container's
  // upper dir, so they never show in diff or commit (Docker's init layer,
  // without a copy per container). Export includes it, as Docker's does.
  std::string init_layer() const { return opts_.root + "/init-layer"; }

  // Verbs. A verb's success is reported only once the state it produced is
  // on disk, so a daemon crash right after can never forget it.
  Result<Container*> create(CreateSpec spec);
  // Runs `fn` once the container's latest state is written (at once if no
  // write is in flight).
  void when_persisted(Container& c, std::function<void()> fn) { after_persist(c, std::move(fn)); }
  void start(Container& c, Done done);
  Result<void> kill(Container& c, int sig);
  void stop(Container& c, int timeout_s, int sig, Done done);
  // stop, then start once the exited process is gone; an AutoRemove
  // container is kept (as Docker's restart does).
  void restart(Container& c, int timeout_s, int sig, Done done);
  // remove_volumes (rm -v): also remove the container's anonymous volumes
  // that no other container uses (AutoRemove containers always do).
  void remove(Container& c, bool force, Done done, bool remove_volumes = false);
  // Registers a waiter; returns a token for cancel_wait. Fires at once for
  // kNotRunning when the container is not running.
  uint64_t wait(Container& c, WaitCondition cond, std::function<void(int, const std::string&)> fire);
  void cancel_wait(const std::string& id, uint64_t token);
  uint64_t attach(Container& c, Attacher a);
  void detach(const std::string& id, uint64_t token);
  // Log followers (container_logs.cc; see LogWatcher). Returns 0 and
  // registers nothing when the container is not running (its log is final).
  uint64_t watch_log(Container& c, std::function<void(bool ended)> fire);
  void unwatch_log(const std::string& id, uint64_t token);
  EventBus& events() { return events_; }
  // Publishes a container event with its name and image as attributes.
  void emit(const Container& c, std::string action, std::map<std::string, std::string> attrs = {});

  // stdin of a container created with OpenStdin (container_stdin.cc).
  // write_stdin queues a copy of `data`; `done` runs once it is written (or
  // dropped because the container's stdin is gone), so callers can apply
  // back-pressure. close_stdin ends the stream (EOF) after queued data.
  bool stdin_open(const Container& c) const;
  void write_stdin(Container& c, std::string_view data, std::function<void()> done);
  void close_stdin(Container& c);
  // Window size of a tty container's pty (SIGWINCH to its foreground
  // process group). kConflict when it is not running or has no tty.
  Result<void> resize(Container& c, unsigned short rows, unsigned short cols);

  // exec (container_exec.cc). exec_create fails with kConflict unless the
  // container runs. exec_start answers `started` once execve succeeded (or
  // failed); an attached sink then gets the output and `ended`.
  Result<ExecInstance*> exec_create(Container& c, ExecConfig cfg);
  Result<ExecInstance*> find_exec(const std::string& id);
  void exec_start(ExecInstance& e, bool detach, ExecSink sink, Done started);
  // stdin of an exec started attached with AttachStdin (as for containers).
  void write_exec_stdin(ExecInstance& e, std::string_view data, std::function<void()> done);
  void close_exec_stdin(ExecInstance& e);
  Result<void> resize_exec(ExecInstance& e, unsigned short rows, unsigned short cols);

  // Resource control (container_cgroup.cc).
  const cgroups::Driver* cgroup_driver() const { return cgroups_.get(); }
  int online_cpus() const { return online_cpus_; }
  void pause(Container& c, Done done);
  void unpause(Container& c, Done done);
  // Validates and applies new limits (to the running cgroup too) and persists
  // them; answers with Docker's warnings.
  void update(Container& c, const cgroups::Resources& r,
              std::function<void(Result<std::vector<std::string>>)> done);
  // Samples for `stats`; see StatsHub. A container that is not running gets
  // nullptr at once.
  uint64_t watch_stats(Container& c, StatsHub::Sink sink);
  void unwatch_stats(uint64_t token) { stats_.unsubscribe(token); }
  // PIDs (host view) of every process of a running container.
  Result<std::vector<pid_t>> container_pids(Container& c);

  // Volumes (container_mounts.cc). create() also creates named volumes on
  // first use. A volume used by any container, running or not, stays.
  const VolumeStore& volumes() const { return *volumes_; }
  Result<const Volume*> create_volume(const std::string& name, const std::string& driver,
                                      const std::map<std::string, std::string>& labels,
                                      const std::map<std::string, std::string>& options);
  // kNotFound ("get NAME: no such volume"; ok with `force`), kConflict while
  // in use. The data is deleted on the job pool afterwards.
  Result<void> remove_volume(const std::string& name, bool force);
  // Removes those of `names` that exist and are unused; `done` gets them
  // with the bytes their data held, once deleted.
  struct VolumePruneReport {
    std::vector<std::string> deleted;
    int64_t bytes = 0;
  };
  void prune_volumes(const std::vector<std::string>& names, std::function<void(VolumePruneReport)> done);

  void import_image(std::string tar_path, std::string repo_tag, fs::ImageConfig changes,
                    std::string comment, std::function<void(Result<fs::Image>)> done);

  // Image management (image_remove.cc, image_prune.cc, image_archive.cc),
  // on the job pool. One record of Docker's DELETE /images answer: either
  // field set.
  struct ImageDeleteItem {
    std::string untagged, deleted;
  };
  using ImageDeleteDone = std::function<void(Result<std::vector<ImageDeleteItem>>)>;
  // docker rmi: untags `ref` if it is a tag and the image has others;
  // otherwise deletes the image and the layers no other image uses.
  // kConflict (Docker's messages) while a container uses it; `force`
  // overrides a stopped container's use and extra tags, never a running
  // container's. An image a stopped container still uses is only untagged
  // even when forced (its layers are that container's root).
  void remove_image(std::string ref, bool force, ImageDeleteDone done);
  // docker tag: `new_tag` (familiar, validated) now names the image `ref`
  // resolves to (kNotFound).
  void tag_image(std::string ref, std::string new_tag, Done done);
  struct HistoryItem {
    std::string id;  // the image ID for the newest entry, "<missing>" below
    int64_t created_s = 0;
    std::string created_by, comment;
    std::vector<std::string> tags;
    int64_t size_bytes = 0;
  };
  void image_history(std::string ref, std::function<void(Result<std::vector<HistoryItem>>)> done);
  struct PruneFilters {
    bool dangling_only = true;            // images: only untagged ones
    int64_t until_ns = 0;                 // 0: any age; else only older ones
    std::map<std::string, std::string> labels;      // label=k or k=v: must match
    std::map<std::string, std::string> not_labels;  // label!=k or k=v: must not
  };
  struct PruneReport {
    std::vector<ImageDeleteItem> images;
    std::vector<std::string> containers;
    int64_t bytes = 0;
  };
  // Images no container uses (untagged only, unless !dangling_only).
  void prune_images(PruneFilters f, std::function<void(Result<PruneReport>)> done);
  // Containers that are not running (nor paused, restarting or removing).
  void prune_containers(PruneFilters f, std::function<void(Result<PruneReport>)> done);
  // GET /system/df.
  struct DiskUsage {
    int64_t layers_bytes = 0;
    std::vector<fs::Image> images;
    std::map<std::string, int64_t> image_containers;   // image ID -> containers using it
    std::map<std::string, int64_t> container_rw_bytes; // container ID -> upper dir file bytes
    std::map<std::string, int64_t> volume_bytes;       // volume name -> data bytes
    std::map<std::string, int64_t> volume_refs;        // volume name -> containers using it
  };
  void disk_usage(std::function<void(Result<DiskUsage>)> done);
  // docker save: the archive of `names` (fs/image_archive.h), a piece at a
  // time like export_rootfs. kNotFound before the first piece for an
  // unknown name.
  void save_images(const std::vector<std::string>& names,
                   std::function<void(Result<std::string> data, bool last, std::function<void()> more)> piece);
  // docker load of the tar at `tar_path`, deleted when done.
  void load_images(std::string tar_path, std::function<void(Result<std::vector<fs::LoadedImage>>)> done);

  // The container's filesystem against its image (container_changes.cc),
  // read from its upper dir and the image's layer dirs on the job pool, so
  // running and stopped containers alike. changes: docker diff.
  void changes(Container& c, std::function<void(Result<std::vector<fs::Change>>)> done);
  // export: the merged root filesystem as a tar, made on the job pool a
  // piece (about 1 MiB) at a time. `piece` runs on the reactor thread with
  // each piece, `last` set on the final one; the next piece is made once
  // `more` is called (back-pressure); dropping `more` abandons the export.
  // An error ends it (before the first piece: nothing was sent yet).
  using ExportPiece = std::function<void(Result<std::string> data, bool last, std::function<void()> more)>;
  void export_rootfs(Container& c, ExportPiece piece);
  // commit (container_commit.cc): the container's config as Docker's
  // commit starts from (the image's defaults under the container's own
  // settings), for the caller to apply a request's Config and changes to.
  Result<fs::ImageConfig> commit_config(const Container& c);
  struct CommitOptions {
    fs::ImageConfig config;     // merged over commit_config() (Docker's merge)
    std::string repo_tag;       // "" for an untagged image
    std::string comment, author;
    bool pause = true;          // freeze a running container during the snapshot
  };
  void commit(Container& c, CommitOptions o, std::function<void(Result<fs::Image>)> done);

  // docker cp (container_archive.cc): a path inside the container's root,
  // resolved there with openat2(RESOLVE_IN_ROOT) on the job pool: a
  // running container's root through /proc/<pid>/root (its volumes and
  // mounts included), a stopped one's through a detached overlay mount of
  // its layers (no volumes). kNotFound when the path does not exist.
  // archive_stat: HEAD (lstat, symlink target resolved in the root).
  // archive_get: a tar of the path, streamed like export_rootfs.
  // archive_put: extracts the tar in the file `tar_path` into the existing
  // directory `path` (the caller removes the file afterwards).
  void archive_stat(Container& c, std::string path, std::function<void(Result<fs::PathInfo>)> done);
  void archive_get(Container& c, std::string path, ExportPiece piece);
  struct ArchivePutOptions {
    bool no_overwrite_dir_non_dir = false;
    bool copy_uid_gid = false;  // keep the archive's owners (else 0:0, the container's root)
  };
  void archive_put(Container& c, std::string path, std::string tar_path, ArchivePutOptions o, Done done);

  // Stops every running container (SIGKILL) and calls done when all exited
  // and their state is persisted.
  void shutdown(std::function<void()> done);

  int count(Status s) const;

 private:
  explicit Engine(reactor::Reactor& r) : r_(r), stats_(r) {}

  Result<void> load_containers();
  void remove_stale_cgroup(const Container& c);
  void persist(Container& c);
  void after_persist(Container& c, std::function<void()> fn);
  void process_exited(Container& c, int exit_code);
  void maybe_finish_exit(Container& c);
  void finish_exit(Container& c);
  void remove_now(Container& c, Done done, bool remove_volumes = false);
  // container_mounts.cc
  Result<void> prepare_mounts(CreateSpec& spec, const fs::Image& img);
  Result<void> resolve_mounts(const Container& c, runtime::Spec& spec);
  void track_volumes(const Container& c);
  void release_volumes(const Container& c, bool remove_anonymous);
  std::string volume_trash_path(const std::string& name);
  void fire_waiters(Container& c, bool removed);
  void check_shutdown();
  Result<void> spawn(Container& c);
  Result<void> spawn_init(Container& c, runtime::Spec& spec, Process& proc, Result<void>* released);
  void watch_exit(Container& c);
  void exit_ready(Container& c, int32_t res);
  void exec_result(Container& c, int32_t res, Done done);
  void stop_timer_fired(Container& c, int32_t res);
  void kill_everything(Container& c);
  void drop_process_if_idle(Container& c);
  // container_cgroup.cc
  Result<void> setup_cgroup(Container& c, runtime::Spec& spec);
  Result<void> place_in_cgroup(Container& c, pid_t pid);
  void watch_oom(Container& c);
  void oom_ready(Container& c, int32_t res);
  void release_cgroup(Container& c, bool removal_follows = false);
  void cgroup_removed(const std::string& id);
  // container_logs.cc
  void notify_log(Container& c, bool ended);
  // container_stdin.cc
  void stdin_started(Container& c);
  std::unique_ptr<StdinWriter> make_stdin_writer(Container& c);
  void pty_arrived(Container& c);
  void hold_mount_namespace(const Container& c, Process& p);
  OutputPump::Callbacks pump_callbacks(Container& c);
  Result<runtime::Spec> init_spec(Container& c);
  Result<void> apply_resources(Container& c);
  // container_warm.cc (warm.h)
  Result<runtime::Spec> warm_spec(const std::string& image_id, const std::string& id, const std::string& dir);
  bool warm_id_taken(const std::string& id) const;
  bool warm_parent_ok(const Container& c) const;
  void warm_after_start(const Container& c, const runtime::Spec& final);
  void warm_schedule();
  void warm_judge_candidates();
  void warm_top_up();
  void warm_fill(const std::string& image_id, uint64_t used);
  void warm_built(std::unique_ptr<WarmInit> w, Result<void> result);
  void warm_exit_seen(WarmInit* wp, int32_t res);
  bool warm_adopt(Container& c);
  bool warm_take(Container& c, const runtime::Spec& spec, Process& proc, Result<void>* released);
  void warm_retire(Container& c);
  void warm_drop(std::unique_ptr<WarmInit> w, std::function<void()> then);
  void warm_dropped(WarmInit* w);
  void warm_drop_image(const std::string& image_id);
  void warm_drop_all();
  bool warm_busy() const;
  // container_exec.cc
  void exec_read(ExecInstance& e, ExecInstance::Pipe& p);
  void exec_pty_arrived(ExecInstance& e);
  void exec_exit_ready(ExecInstance& e, int32_t res);
  void exec_error_read(ExecInstance& e, int32_t res);
  void exec_maybe_finish(ExecInstance& e);
  void drop_exec_if_idle(const std::string& id);
  void forget_execs(const Container& c);
  Result<std::vector<std::string>> check_resources(const cgroups::Resources& r) const;

  reactor::Reactor& r_;
  Options opts_;
  std::vector<std::string> stale_auto_remove_;   // found by load_containers()
  std::unique_ptr<fs::ImageStore> images_;
  std::unique_ptr<VolumeStore> volumes_;
  std::unique_ptr<NetnsPool> netns_pool_;
  std::unique_ptr<cgroups::Driver> cgroups_;
  int online_cpus_ = 1;
  StatsHub stats_;
  std::map<std::string, std::unique_ptr<ExecInstance>> execs_;   // by exec id
  EventBus events_;
  std::map<std::string, std::unique_ptr<Container>> containers_;   // by id
  std::map<std::string, std::string> names_;                       // name -> id
  uint64_t next_token_ = 1;
  std::function<void()> shutdown_done_;
  bool shutting_down_ = false;   // start() refuses: nothing new may outlive the shutdown
  std::vector<std::unique_ptr<WarmInit>> warm_;        // ready for adoption
  std::vector<std::unique_ptr<WarmInit>> warm_dying_;  // killed, exit not yet seen
  std::vector<std::unique_ptr<WarmInit>> warm_retired_;  // handed over, pidfd poll ending
  std::map<std::string, uint64_t> warm_generation_;    // image id -> bumped when its inits are dropped
  struct WarmCandidate {                                // a start that may want warm inits
    uint64_t used = 0;
    std::string id, dir;
    runtime::Spec final;
  };
  std::map<std::string, WarmCandidate> warm_candidates_;  // image id -> its latest start
  std::map<std::string, size_t> warm_building_;        // image id -> builds on the background lane
  size_t warm_cleaning_ = 0;                           // cgroup/dir removals on the job pool
  uint64_t warm_clock_ = 0;                            // orders images by last start
  std::map<std::string, uint64_t> warm_wanted_;        // image id -> its last start that could use one
  bool warm_top_up_queued_ = false;
  std::unique_ptr<Spawner> spawner_;                   // forks warm inits (spawner.h)
  std::shared_ptr<int> life_ = std::make_shared<int>(0);   // expires with the engine (when_idle tasks)
};

// Docker's name rule, [a-zA-Z0-9][a-zA-Z0-9_.-]*, 1 to 253 characters.
bool valid_name(std::string_view name);
std::string generate_name(uint64_t seed);

}  // namespace berth::engine
