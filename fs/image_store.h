// ImageStore: the images of one berth root. It owns the directory given to
// open() (layout in fs/store_layout.h): content-addressed blobs, one unpacked
// directory per layer chain ID shared by every image, and the tag index.
//
// Threads: any. An internal mutex guards the in-memory index, which open()
// loads; resolve() and list() only take it for a copy, so the reactor may
// call them. import_rootfs() and tag() block on disk (unpack, sha256, fsync)
// and belong on the job pool. Mutations are serialised by a second mutex and
// are persisted before they become visible: a mutation copies the index,
// changes the copy, writes it to disk, then swaps it in under the index mutex.
//
// commit_container() blocks like import_rootfs().
//
// Removal (image_gc.cc) persists the index first and deletes files after,
// so a crash leaves garbage, which open() collects, never an image whose
// files are gone. Deleting files holds gc_mu_ exclusively; every operation
// that writes blobs or layer dirs before publishing them (import, commit,
// load) holds it shared, so a sweep never takes what is about to be used.
//
// save/load (fs/image_archive.h) are blocking like import_rootfs().
//
// Pulls (fs/image_pull.cc, used by fs/registry) write blobs and unpack
// layers through an Ingest, which holds gc_mu_ shared for the pull's
// length (a sweep waits for it), and publish with add_pulled(); an Ingest
// dropped unpublished (error, cancel, disk full) collects the blobs and
// layers it left, so nothing half-made stays.
//
// Returned Images are copies owned by the caller. layer_dirs stay valid
// while the image is in the store; callers that keep using them (a
// container's overlay) keep the image from being removed. One ImageStore
// per directory per host: open() clears temp files it assumes are its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "fs/blob_store.h"
#include "fs/id_shift.h"
#include "fs/image_config.h"
#include "fs/temp_tree.h"

namespace berth::fs {

// What commit_container() needs: where the container's changes are, and
// what to say about them.
struct CommitSpec {
  std::string parent_id;   // the image the container was created from
  std::string upper_dir;   // the container's overlay upper dir
  IdShift shift;           // a remapped container's: its files' host ids (fs/id_shift.h)
  // The new image's config, author, comment, created_by and container;
  // diff_id and created_ns are filled in by commit_container().
  ChildImage child;
  std::string repo_tag;    // "" for an untagged image
};

struct Image {
  std::string id;                       // "sha256:<64hex>", the config digest
  std::vector<std::string> repo_tags;   // "busybox:latest", sorted
  std::vector<std::string> repo_digests;  // "busybox@sha256:…" (pulled or pushed), sorted
  std::string manifest_digest;          // "sha256:<64hex>"
  int64_t created_ns = 0;
  int64_t size_bytes = 0;               // sum of the unpacked layers' file sizes
  std::string architecture, os;         // "amd64", "linux"
  std::string comment, author;
  ImageConfig config;
  std::vector<std::string> diff_ids;    // "sha256:…", lowest first
  std::vector<std::string> layer_dirs;  // absolute unpacked dirs, lowest first
  std::string config_json;              // the raw config blob
  std::vector<std::string> history_created_by;
};

// What a removal freed.
struct GcReport {
  std::vector<std::string> deleted_layers;  // chain IDs whose directories went
  int64_t bytes = 0;                        // layer files and blobs freed
};

// An image loaded from an archive (fs/image_archive.cc).
struct LoadedImage {
  std::string id;
  std::vector<std::string> repo_tags;  // familiar, as given by the archive
};

// An image a pull fetched: its layer blobs are in the store and unpacked
// (through an ImageStore::Ingest) by the time it is added.
struct PulledImage {
  std::string config_json;    // verified against the manifest's config digest
  std::string manifest_json;  // the platform's manifest, bytes as served (OCI or Docker schema 2)
  std::string repo_tag;       // familiar "name:tag", or "" (pulled by digest)
  std::string repo_digest;    // familiar "name@sha256:…" (the digest the reference resolved to), or ""
};

// Bytes of the regular files under `dir` (not following symlinks, not
// crossing mounts); 0 if it cannot be read. Blocking.
int64_t tree_file_bytes(const std::string& dir);

class ImageStore {
 public:
  // Creates the layout under `dir` if needed (mode 0700: layers hold image
  // set-id binaries), removes temp files a crash left, loads the index. An
  // image whose blobs are missing or corrupt is skipped with a warning (its
  // record stays on disk, so repairing the blob brings it back); a
  // missing layer directory is unpacked again from its blob.
  static Result<std::unique_ptr<ImageStore>> open(const std::string& dir);

  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;
  ~ImageStore();

  // Imports a rootfs tarball (plain, gzip, zstd, xz or bzip2) as a one-layer
  // image, like `docker import`. `repo_tag` may be empty (untagged); the
  // config holds `changes` only, plus architecture, os, created, `comment`.
  Result<Image> import_rootfs(const std::string& tar_path, const std::string& repo_tag,
                              const ImageConfig& changes, const std::string& comment);

  // docker commit: a new image made of the parent's layers plus the upper
  // dir as one more (fs/rootfs_tar.h kLayer: OCI whiteouts in the blob),
  // unpacked into its own chain-ID directory. An upper dir with nothing in
  // it adds no layer, only a history entry marked empty_layer, as Docker
  // does. The parent must be in the store (kNotFound).
  Result<Image> commit_container(const CommitSpec& spec);

  // name[:tag], docker.io/library/ forms, name@digest (manifest digest),
  // "sha256:<hex or prefix>", a full hex ID, or a unique hex-ID prefix.
  // kNotFound "No such image: <ref>" (also for an ambiguous prefix, as
  // Docker); kInvalidArgument for a malformed reference.
  Result<Image> resolve(const std::string& ref) const;
  // Newest first.
  std::vector<Image> list() const;
  // Points `new_repo_tag` at the image `ref` resolves to; the tag leaves any
  // image that had it.
  Result<void> tag(const std::string& ref, const std::string& new_repo_tag);

  // image_gc.cc. untag: removes `repo_tag` (familiar "name:tag"); kNotFound
  // when no image has it. The image stays, even untagged.
  Result<void> untag(const std::string& repo_tag);
  // Removes image `id` (exact) and all its tags, then the blobs and layer
  // dirs no remaining image uses. kNotFound when absent.
  Result<GcReport> remove_image(const std::string& id);
  // Mark and sweep: deletes every blob and layer dir no image record
  // references. Run by open(); remove_image() runs it too.
  Result<GcReport> collect_garbage();

  // docker load (image_archive.cc): a docker-archive or OCI-layout tar,
  // plain or compressed. Every blob is checked against its digest and
  // every layer against its diff ID before an image is published; on any
  // error nothing new stays in the store.
  Result<std::vector<LoadedImage>> load_archive(const std::string& tar_path);
  // A pull's scratch and publication (image_pull.cc). See the header
  // comment; Ingest is defined below.
  class Ingest;
  // Publishes a pulled image: checks that every layer blob and layer
  // directory is there, stores the config and manifest blobs as given
  // (so the image's manifest digest is the registry's), tags it and
  // records its repo digest. Marks `ingest` published.
  Result<Image> add_pulled(Ingest& ingest, const PulledImage& p);
  // Records "name@sha256:…" on image `id` (after a push). kNotFound.
  Result<void> add_repo_digest(const std::string& id, const std::string& repo_digest);
  // The stored manifest bytes of image `id` (for push).
  Result<std::string> manifest_json_of(const std::string& id) const;

  // The manifest of image `id`, for save.
  Result<Manifest> manifest_of(const std::string& id) const;
  // Opaque; defined in image_archive.cc.
  struct ArchiveImage;
  class LoadScratch;

  const std::string& dir() const { return dir_; }
  const BlobStore& blobs() const { return blobs_; }

 private:
  struct Entry {
    std::string manifest_digest;
    int64_t manifest_size = 0;
    std::shared_ptr<const Image> image;  // repo_tags left empty
    std::vector<std::string> repo_digests;
  };
  struct Unloaded {
    std::string manifest_digest;
    int64_t size = 0;
    std::vector<std::string> repo_digests;
  };
  struct Index {
    std::map<std::string, Entry> images;      // by ID
    std::map<std::string, std::string> tags;  // familiar "name:tag" -> ID
    // Records open() could not load (blobs missing or corrupt): invisible,
    // but written back, so a later mutation does not erase them from disk.
    std::map<std::string, Unloaded> unloaded;
    std::map<std::string, std::string> unloaded_tags;
    void set_tag(const std::string& tag, const std::string& id) {
      tags[tag] = id;
      unloaded_tags.erase(tag);
    }
  };
  struct ImportedLayer {
    Descriptor blob;
    std::string diff_id;
    int64_t size_bytes = 0;
  };

  ImageStore(std::string dir, BlobStore blobs);

  // image_store.cc
  // The Image value for a config document (repo_tags left empty).
  static Image make_image(const std::string& id, const std::string& manifest_digest, int64_t size_bytes,
                          const ImageConfigDoc& doc, std::string config_json,
                          std::vector<std::string> layer_dirs);
  Result<void> load();
  Result<Entry> load_entry(const std::string& id, const std::string& manifest_digest, int64_t size);
  Result<std::string> find_id(const Index& ix, const std::string& ref) const;
  Image materialize(const Index& ix, const std::string& id) const;
  Result<void> commit(const std::function<Result<void>(Index&)>& mutate);
  // Adds (or replaces) image `id`, tagged `tag` if not empty, persists the
  // index and returns the new Image.
  Result<Image> publish(const std::string& id, Entry e, const std::string& tag);
  Result<void> persist(const Index& ix) const;

  // image_import.cc
  Result<ImportedLayer> import_layer(int src_fd);
  // image_commit.cc: the upper dir as a layer blob; `empty` when it has
  // no entries (then no blob is stored).
  Result<ImportedLayer> write_upper_layer(const std::string& upper_dir, IdShift shift, bool* empty);
  Result<void> unpack_layer_blob(const Descriptor& blob, const std::string& diff_id, const std::string& chain);
  Result<TempTree> make_layer_temp() const;
  Result<void> install_layer(TempTree& tmp, const std::string& chain, bool sync = true) const;
  std::string layer_dir(const std::string& chain) const;
  Result<void> clean_layer_temps() const;
  // image_gc.cc
  GcReport sweep(const Index& ix);
  // image_archive.cc: publishes one image from an extracted archive.
  Result<LoadedImage> load_one(const ArchiveImage& ai, LoadScratch& scratch);

  friend class Ingest;

  const std::string dir_;
  const BlobStore blobs_;
  std::shared_mutex gc_mu_; // exclusive: deleting files; shared: adding them; before write_mu_
  std::mutex write_mu_;     // serialises mutations; taken before mu_
  mutable std::mutex mu_;   // guards index_
  Index index_;
};

// A pull in progress. Holds the store's garbage collection off (gc_mu_
// shared) while it lives; destroyed unpublished, it lets go and then
// collects every blob and layer no image references (its own downloads).
// Blocking; one thread at a time; must not outlive the store.
class ImageStore::Ingest {
 public:
  explicit Ingest(ImageStore& store);
  ~Ingest();
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  const BlobStore& blobs() const { return store_.blobs_; }
  bool has_layer(const std::string& chain) const;
  // Unpacks a blob already in the store for layer `chain` into a temp
  // directory, checking the diff ID (the blob was verified when it was
  // stored, so it is not hashed again); may run on several threads at once
  // for different chains. `tee` sees the blob's bytes as they are read
  // (progress; an error from it, e.g. cancelled, aborts). The layers are
  // installed by add_pulled(): one syncfs for all of them, then each
  // renamed to its chain ID, so a chain directory appears complete or not
  // at all (one sync instead of one per layer: each syncfs writes out
  // everything dirty on the filesystem, other layers' files included).
  Result<void> unpack_layer(const Descriptor& blob, const std::string& diff_id, const std::string& chain,
                            std::function<Result<void>(std::string_view)> tee);

 private:
  friend class ImageStore;
  // Syncs the filesystem once and renames every unpacked layer into place.
  Result<void> install_layers();

  ImageStore& store_;
  std::shared_lock<std::shared_mutex> gc_;
  bool published_ = false;
  std::mutex mu_;  // guards unpacked_
  std::vector<std::pair<TempTree, std::string>> unpacked_;  // temp dir, chain
};

}  // namespace berth::fs
