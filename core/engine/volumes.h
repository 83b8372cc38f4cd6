// VolumeStore: the local volumes of one berth root, one directory each:
//
//   <root>/volumes/<name>/volume.json   metadata (below), written atomically
//   <root>/volumes/<name>/_data/        the content containers see
//
// volume.json is {"version":1,"name","driver":"local","labels":{},
// "options":{},"created_ns"}. The directory is the journal: a volume
// directory whose volume.json is missing or unreadable (a crash between the
// mkdir and the write) is still a volume, with no labels and the directory's
// mtime as its creation time. Like the container state file, volume.json is
// not fsynced: a berthd crash loses nothing the page cache holds, and a
// power loss can at worst drop labels. Anonymous volumes are the ones with
// the label "com.docker.volume.anonymous" (as Docker 23+ marks them), which
// `volume prune` removes by default.
//
// The store also tracks which containers use each volume (rebuilt from the
// containers' specs at daemon start): a volume in use is not removed.
//
// Thread: reactor thread only (owned by the Engine). create() does a couple
// of mkdirs and one small write, like container create; deleting a volume's
// data is the caller's (the engine queues it on the job pool).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/base/result.h"

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
  VolumeStore(const VolumeStore&) = delete;
  VolumeStore& operator=(const VolumeStore&) = delete;

  // Creates the volume, or returns the existing one of that name unchanged
  // (Docker's create is idempotent). kInvalidArgument for a bad name, a
  // driver other than "local" (kNotFound, as Docker's plugin lookup) or
  // driver options (not supported by berth's local driver yet).
  Result<const Volume*> create(const std::string& name, const std::string& driver,
                               const std::map<std::string, std::string>& labels,
                               const std::map<std::string, std::string>& options);
  const Volume* find(const std::string& name) const;
  const std::map<std::string, Volume>& all() const { return volumes_; }
  // Renames the volume's directory to `trash_path` (same filesystem) and
  // forgets it; the caller deletes `trash_path`. Does not check users.
  Result<void> take_out(const std::string& name, const std::string& trash_path);

  void add_user(const std::string& name, const std::string& container_id);
  void drop_user(const std::string& name, const std::string& container_id);
  // Containers using the volume (sorted ids; empty when unused).
  std::vector<std::string> users(const std::string& name) const;
  bool in_use(const std::string& name) const { return users_.count(name) > 0; }

  const std::string& dir() const { return dir_; }

 private:
  explicit VolumeStore(std::string dir) : dir_(std::move(dir)) {}
  Result<void> load();

  std::string dir_;
  std::map<std::string, Volume> volumes_;
  std::map<std::string, std::set<std::string>> users_;   // only volumes with users
};

// Docker's local volume name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two or more
// characters).
bool valid_volume_name(std::string_view name);


}  // namespace berth::engine
