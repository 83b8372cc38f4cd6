// ImageService: the images of the engine's store (fs::ImageStore): import,
// rmi, tag, history, prune, save and load, docker system df, and the
// registry verbs pull, push and login (fs/registry). Which
// containers use which image is read on the reactor thread; the store work
// (unpacking, hashing, index writes, deleting files) runs on the bulk lane
// with that snapshot and a shared handle of the store, so a job can never
// outlive the store it works on.
//
// Files: image_import.cc, image_remove.cc (rmi, tag, history),
// image_prune.cc (prune, df), image_archive.cc (save, load),
// image_pull.cc, image_push.cc, image_auth.cc (the registry verbs).
//
// Registry verbs: the library blocks (network, unpacking), so one pull or
// push is one job on the bulk lane (the library runs its own download and
// unpack threads inside it). Its progress events come back to the reactor
// thread through a ProgressRelay (progress_relay.h) and reach `progress`
// in order, before `done`. The returned CancelFlag, set on the reactor
// thread (the client went away), stops the transfer within about 100 ms;
// the pull then leaves nothing in the store.
//
// Thread: reactor thread only (the store itself is thread-safe).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/engine/options.h"
#include "fs/image_store.h"
#include "fs/registry/auth_config.h"
#include "fs/registry/blob_sources.h"
#include "fs/registry/progress.h"
#include "fs/registry/pull.h"
#include "fs/registry/push.h"
#include "fs/registry/session.h"

namespace berth::engine {

class Engine;

// The registry vocabulary of the API layer (fs/registry's types, named
// here so that ipc/server depends on the engine alone).
using RegistryCredentials = fs::registry::Credentials;
using RegistryProgress = fs::registry::ProgressEvent;
using PullResult = fs::registry::PullResult;
using PushResult = fs::registry::PushResult;
using LoginResult = fs::registry::LoginResult;
using fs::registry::decode_registry_auth;
using fs::registry::is_unauthorized;
using fs::registry::parse_auth_config_json;
using CancelFlag = std::shared_ptr<std::atomic<bool>>;

class ImageService {
 public:
  // Opens the record of where blobs came from (<root>/registry/; a
  // missing or unreadable one starts empty).
  ImageService(Engine& e, std::shared_ptr<fs::ImageStore> store);
  ~ImageService();
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

  using ProgressSink = std::function<void(const RegistryProgress&)>;
  // docker pull (image_pull.cc). `reference` names one tag or digest
  // ("localhost:5000/busybox:latest", "busybox@sha256:..."); `platform`
  // "" for the host's or "os/arch[/variant]". Publishes an image "pull"
  // event on success.
  struct PullSpec {
    std::string reference, platform;
    RegistryCredentials credentials;
  };
  CancelFlag pull(PullSpec spec, ProgressSink progress, DoneWith<PullResult> done);
  // docker push (image_push.cc): `reference` is "name:tag", or a bare
  // "name" for every local tag of that repository (docker push -a), one
  // after the other. kNotFound before any progress (Docker's "An image
  // does not exist locally with the tag: ...") when there is nothing to
  // push. Publishes a "push" event per tag pushed.
  struct PushSpec {
    std::string reference;
    RegistryCredentials credentials;
  };
  CancelFlag push(PushSpec spec, ProgressSink progress, DoneWith<std::vector<PushResult>> done);
  // docker login (image_auth.cc): checks the credentials against the
  // registry of `creds.server_address` ("" is Docker Hub). A refusal is
  // is_unauthorized() with Docker's message.
  void login(RegistryCredentials creds, DoneWith<LoginResult> done);

 private:
  Engine& e_;
  std::shared_ptr<fs::ImageStore> store_;
  std::shared_ptr<fs::registry::BlobSources> sources_;  // may be null
};

}  // namespace berth::engine
