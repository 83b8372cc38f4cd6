// VolumeStore: the local volumes of one berth root, one directory each:
//
//   <root>/volumes/<name>/volume.json   metadata (below), written atomically
//   <root>/volumes/<name>/_data/        the content containers see
//
// volume.json is {"version":1,"name","driver":"local","labels":{},
// "options":{},"created_ns"}. The directory is the journal: a volume
// directory whose volume.json is missing or unreadable (a crash between the
// mkdir and the write) is still a volume, with no labels and the directory's
// mtime as its creation time; a create whose volume.json cannot be written
// (a full disk) fails and removes the directory. Like the container state file, volume.json is
// not fsynced: a berthd crash loses nothing the page cache holds, and a
// power loss can at worst drop labels. Anonymous volumes are the ones with
// the label "com.docker.volume.anonymous" (as Docker 23+ marks them), which
// `volume prune` removes by default.
//
// The store also tracks which containers use each volume (rebuilt from the
// containers' specs at daemon start): a volume in use is not removed.
//
// VolumeStore's thread: any; an internal mutex guards the index, and every
// accessor returns copies. create() and take_out() touch the disk (a couple
// of mkdirs and a write; a rename) and belong on a job lane; deleting a
// volume's data is the caller's (on the job lane).
//
// VolumeService: the volume verbs of the API and the mounts of containers
// (image VOLUME entries, anonymous names, volume data dirs, bind sources).
// Reactor thread only, but for the static prepare_sources() (job lane).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/engine/container.h"
#include "core/engine/options.h"
#include "core/runtime/spec.h"

namespace berth::engine {

inline constexpr const char* kAnonymousVolumeLabel = "com.docker.volume.anonymous";

struct Volume {
  std::string name;
  std::string driver = "local";
  std::map<std::string, std::string> labels, options;
  int64_t created_ns = 0;
  std::string dir;   // <root>/volumes/<name>
  std::string data_dir() const { return dir + "/_data"; }
  bool anonymous() const { return labels.count(kAnonymousVolumeLabel) > 0; }
};

class VolumeStore {
 public:
  // Creates `dir` (0701, as Docker's: containers' users may traverse to a
  // bind of their volume, nobody may list it) and loads every volume in it.
  static Result<std::unique_ptr<VolumeStore>> open(const std::string& dir);
  // --userns-remap: new volumes' data directories belong to the remapped
  // root (as Docker's do), so that its containers can fill and write them.
  // Before any create.
  void set_data_owner(uid_t uid, gid_t gid) {
    owner_uid_ = uid;
    owner_gid_ = gid;
  }
  VolumeStore(const VolumeStore&) = delete;
  VolumeStore& operator=(const VolumeStore&) = delete;

  // Checks a create request without touching the disk: the name, the
  // driver ("local" only: kNotFound as Docker's plugin lookup) and options
  // (none supported by berth's local driver yet). kInvalidArgument.
  static Result<void> check(const std::string& name, const std::string& driver,
                            const std::map<std::string, std::string>& options);
  // Creates the volume, or returns the existing one of that name unchanged
  // (Docker's create is idempotent). Blocking. `created` tells which.
  Result<Volume> create(const std::string& name, const std::string& driver,
                        const std::map<std::string, std::string>& labels,
                        const std::map<std::string, std::string>& options, bool* created = nullptr);
  std::optional<Volume> find(const std::string& name) const;
  std::map<std::string, Volume> all() const;
  // Renames the volume's directory to `trash_path` (same filesystem) and
  // forgets it; the caller deletes `trash_path`. kConflict (with the users)
  // when a container uses it, checked under the same lock. Blocking.
  Result<void> take_out(const std::string& name, const std::string& trash_path);
  // <dir>/<name>/_data, whether or not the volume exists yet.
  std::string data_dir(const std::string& name) const { return dir_ + "/" + name + "/_data"; }

  // A container's use of a volume; a name may be used before its volume
  // exists (a create in flight), which keeps take_out away from it.
  void add_user(const std::string& name, const std::string& container_id);
  void drop_user(const std::string& name, const std::string& container_id);
  // Containers using the volume (sorted ids; empty when unused).
  std::vector<std::string> users(const std::string& name) const;
  bool in_use(const std::string& name) const;

  const std::string& dir() const { return dir_; }

 private:
  explicit VolumeStore(std::string dir) : dir_(std::move(dir)) {}
  Result<void> load();

  const std::string dir_;
  uid_t owner_uid_ = 0;
  gid_t owner_gid_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, Volume> volumes_;
  std::map<std::string, std::set<std::string>> users_;   // only volumes with users
};

class Engine;

class VolumeService {
 public:
  VolumeService(Engine& e, std::shared_ptr<VolumeStore> store) : e_(e), store_(std::move(store)) {}
  VolumeService(const VolumeService&) = delete;
  VolumeService& operator=(const VolumeService&) = delete;

  const VolumeStore& store() const { return *store_; }
  // docker volume create (a generated name for ""), on the job lane.
  void create(std::string name, std::string driver, std::map<std::string, std::string> labels,
              std::map<std::string, std::string> options, DoneWith<Volume> done);
  // docker volume rm: kNotFound ("get NAME: no such volume"; ok with
  // `force`), kConflict while in use. The data is deleted on the job lane.
  void remove(const std::string& name, bool force, Done done);
  // Removes those of `names` that exist and are unused; `done` gets them
  // with the bytes their data held, once deleted.
  struct PruneReport {
    std::vector<std::string> deleted;
    int64_t bytes = 0;
  };
  void prune(std::vector<std::string> names, std::function<void(PruneReport)> done);

  // For container create: image VOLUME entries join the mounts, anonymous
  // volumes get names, volumes their data dirs; the container's use of
  // each volume is recorded (add_user) before any disk work.
  void prepare(CreateSpec& spec, const std::vector<std::string>& image_volumes);
  void track(const Container& c);
  // Blocking (the create job): makes the volumes `mounts` name, checks
  // --mount bind sources exist; the names of those it made go to `made`.
  static Result<void> make_volumes(VolumeStore& store, const std::vector<MountSpec>& mounts,
                                   std::vector<std::string>* made);
  // Volume events, as Docker's: create (`made` ones), destroy, and a
  // container's mount and unmount of each of its volumes.
  void emit(const std::string& name, const char* action, std::map<std::string, std::string> attrs = {});
  void emit_mounts(const Container& c, const char* action);
  std::shared_ptr<VolumeStore> shared_store() const { return store_; }
  // For start: the container's mounts as the runtime takes them (volumes
  // become binds of their data dir). No disk access: prepare_sources()
  // does that part on the job lane.
  Result<void> resolve_mounts(const Container& c, runtime::Spec& spec) const;
  // Blocking: stats each bind source (file or directory), making missing
  // -v sources (Docker's -v creates them; --mount refuses).
  static Result<void> prepare_sources(std::vector<runtime::Mount>& mounts);
  // For rm: the container's uses go; with remove_anonymous (rm -v) its
  // anonymous volumes no one else uses are deleted too.
  void release(const Container& c, bool remove_anonymous);

 private:
  std::string trash_path(const std::string& name);
  Engine& e_;
  std::shared_ptr<VolumeStore> store_;
};

// Docker's local volume name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two or more
// characters).
bool valid_volume_name(std::string_view name);


}  // namespace berth::engine
