// ContainerFiles: a container's filesystem as the API reads and writes it:
// diff and export (container_changes.cc: the upper dir and the image's
// layer dirs merged in user space on the job lane), commit
// (container_commit.cc: a new image from the upper dir), and docker cp
// (container_archive.cc: paths resolved inside the container's root with
// openat2(RESOLVE_IN_ROOT)).
//
// Thread: reactor thread only; the work runs on the bulk lane with values
// (paths, an image store handle), never with pointers into the engine.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/engine/container.h"
#include "core/engine/options.h"
#include "fs/changes.h"
#include "fs/container_path.h"
#include "fs/image_store.h"

namespace berth::engine {

class Engine;

// A remapped container's files are owned on the host by its mapped ids;
// its tars carry its own (fs/id_shift.h).
inline fs::IdShift id_shift_of(const Container& c) {
  return {c.spec.userns.uid, c.spec.userns.gid, c.spec.userns.size};
}

class ContainerFiles {
 public:
  explicit ContainerFiles(Engine& e) : e_(e) {}
  ContainerFiles(const ContainerFiles&) = delete;
  ContainerFiles& operator=(const ContainerFiles&) = delete;

  // docker diff.
  void changes(Container& c, DoneWith<std::vector<fs::Change>> done);
  // docker export: the merged root filesystem as a tar, a piece at a time.
  void export_rootfs(Container& c, ExportPiece piece);

  // docker commit: the container's config as Docker's commit starts from
  // (the image's defaults under the container's own settings), for the
  // caller to apply a request's Config and changes to.
  Result<fs::ImageConfig> commit_config(const Container& c);
  struct CommitOptions {
    fs::ImageConfig config;     // merged over commit_config() (Docker's merge)
    std::string repo_tag;       // "" for an untagged image
    std::string comment, author;
    bool pause = true;          // freeze a running container during the snapshot
  };
  void commit(Container& c, CommitOptions o, DoneWith<fs::Image> done);

  // docker cp: a path inside the container's root: a running container's
  // through /proc/<pid>/root (its volumes and mounts included), a stopped
  // one's through a detached overlay mount of its layers (no volumes).
  // kNotFound when the path does not exist. archive_stat: HEAD (lstat,
  // symlink target resolved in the root). archive_get: a tar of the path,
  // streamed. archive_put: extracts the tar in the file `tar_path` into the
  // existing directory `path` (the caller removes the file afterwards).
  void archive_stat(Container& c, std::string path, DoneWith<fs::PathInfo> done);
  void archive_get(Container& c, std::string path, ExportPiece piece);
  struct ArchivePutOptions {
    bool no_overwrite_dir_non_dir = false;
    bool copy_uid_gid = false;  // keep the archive's owners (else 0:0, the container's root)
  };
  void archive_put(Container& c, std::string path, std::string tar_path, ArchivePutOptions o, Done done);

 private:
  Engine& e_;
};

}  // namespace berth::engine
