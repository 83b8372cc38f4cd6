// ImageService: the images of the engine's store (fs::ImageStore): import,
// rmi, tag, history, prune, save and load, and docker system df. Which
// containers use which image is read on the reactor thread; the store work
// (unpacking, hashing, index writes, deleting files) runs on the bulk lane
// with that snapshot and a shared handle of the store, so a job can never
// outlive the store it works on.
//
// Files: image_import.cc, image_remove.cc (rmi, tag, history),
// image_prune.cc (prune, df), image_archive.cc (save, load).
//
// Thread: reactor thread only (the store itself is thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/engine/options.h"
#include "fs/image_store.h"

namespace berth::engine {

class Engine;

class ImageService {
 public:
  ImageService(Engine& e, std::shared_ptr<fs::ImageStore> store) : e_(e), store_(std::move(store)) {}
  ImageService(const ImageService&) = delete;
  ImageService& operator=(const ImageService&) = delete;

  const fs::ImageStore& store() const { return *store_; }
  std::shared_ptr<fs::ImageStore> shared_store() const { return store_; }

  // docker import of the rootfs tar at `tar_path` (deleted when done).
  void import(std::string tar_path, std::string repo_tag, fs::ImageConfig changes, std::string comment,
              DoneWith<fs::Image> done);
  // docker rmi: untags `ref` if it is a tag and the image has others;
  // otherwise deletes the image and the layers no other image uses.
  // kConflict (Docker's messages) while a container uses it; `force`
  // overrides a stopped container's use and extra tags, never a running
  // container's. An image a stopped container still uses is only untagged
  // even when forced (its layers are that container's root).
  void remove(std::string ref, bool force, DoneWith<std::vector<ImageDeleteItem>> done);
  // docker tag: `new_tag` (familiar, validated) now names the image `ref`
  // resolves to (kNotFound).
  void tag(std::string ref, std::string new_tag, Done done);
  struct HistoryItem {
    std::string id;  // the image ID for the newest entry, "<missing>" below
    int64_t created_s = 0;
    std::string created_by, comment;
    std::vector<std::string> tags;
    int64_t size_bytes = 0;
  };
  void history(std::string ref, DoneWith<std::vector<HistoryItem>> done);
  // Images no container uses (untagged only, unless !dangling_only).
  void prune(PruneFilters f, DoneWith<PruneReport> done);
  // GET /system/df.
  struct DiskUsage {
    int64_t layers_bytes = 0;
    std::vector<fs::Image> images;
    std::map<std::string, int64_t> image_containers;   // image ID -> containers using it
    std::map<std::string, int64_t> container_rw_bytes; // container ID -> upper dir file bytes
    std::map<std::string, int64_t> volume_bytes;       // volume name -> data bytes
    std::map<std::string, int64_t> volume_refs;        // volume name -> containers using it
  };
  void disk_usage(DoneWith<DiskUsage> done);
  // docker save: the archive of `names` (fs/image_archive.h), a piece at a
  // time. kNotFound before the first piece for an unknown name.
  void save(const std::vector<std::string>& names, ExportPiece piece);
  // docker load of the tar at `tar_path`, deleted when done.
  void load(std::string tar_path, DoneWith<std::vector<fs::LoadedImage>> done);

 private:
  Engine& e_;
  std::shared_ptr<fs::ImageStore> store_;
};

}  // namespace berth::engine
