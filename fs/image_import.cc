// ImageStore: importing a rootfs tarball, and unpacking layers into their
// chain-ID directories. See fs/image_store.h.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "fs/digest.h"
#include "fs/image_store.h"
#include "fs/layer.h"
#include "fs/reference.h"
#include "fs/store_layout.h"
#include "fs/temp_tree.h"

namespace berth::fs {

namespace {

const char* const kMediaTypeLayerTar = "application/vnd.oci.image.layer.v1.tar";

}  // namespace

std::string ImageStore::layer_dir(const std::string& chain) const {
  return dir_ + "/" + std::string(layout::kLayersDir) + "/" + std::string(digest_hex(chain));
}

Result<TempTree> ImageStore::make_layer_temp() const {
  std::string path = dir_ + "/" + std::string(layout::kLayersDir) + "/" + std::string(layout::kLayerTempPrefix) +
                     random_id().substr(0, 16);
  if (::mkdir(path.c_str(), 0755) < 0) return Error::sys(errno, "create layer directory {}", path);
  return TempTree(std::move(path));
}

// Syncs the unpacked tree (unless the caller synced it: `sync` false), then
// renames it to its chain ID. If another
// import installed the same chain first, its copy is kept and ours dropped.
Result<void> ImageStore::install_layer(TempTree& tmp, const std::string& chain, bool sync) const {
  if (sync) {
    unique_fd fd = BERTH_TRY(open_fd(tmp.path(), O_RDONLY | O_DIRECTORY));
    if (::syncfs(fd.get()) < 0) return Error::sys(errno, "sync layer {}", tmp.path());
  }
  std::string dir = layer_dir(chain);
  if (::rename(tmp.path().c_str(), dir.c_str()) == 0) {
    tmp.release();
    return ok();
  }
  if (errno == ENOTEMPTY || errno == EEXIST) return ok();  // ~TempTree removes ours
  return Error::sys(errno, "rename {} to {}", tmp.path(), dir);
}

Result<void> ImageStore::clean_layer_temps() const {
  std::string layers = dir_ + "/" + std::string(layout::kLayersDir);
  DIR* d = ::opendir(layers.c_str());
  if (!d) return Error::sys(errno, "open {}", layers);
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d))
    if (starts_with(e->d_name, layout::kLayerTempPrefix)) stale.push_back(layers + "/" + e->d_name);
  ::closedir(d);
  for (const std::string& p : stale) BERTH_TRY_VOID(remove_tree(p));
  return ok();
}

// One pass over the source: unpack, hash both streams, and store the blob.
// gzip and zstd sources are kept as they are; anything else (plain tar
// included) is stored as the uncompressed tar, so every blob has an OCI
// media type.
Result<ImageStore::ImportedLayer> ImageStore::import_layer(int src_fd) {
  const char* media_type = layer_media_type(sniff_compression(src_fd));
  bool keep_source = media_type != nullptr;
  BlobWriter blob = BERTH_TRY(blobs_.begin_write());
  TempTree tmp = BERTH_TRY(make_layer_temp());
  ApplyOptions opts;
  opts.preserve_owner = can_chown();
  opts.tee = [&blob](std::string_view data) { return blob.write(data); };
  opts.tee_stream = keep_source ? TeeStream::kSource : TeeStream::kUncompressed;
  LayerStats stats = BERTH_TRY(apply_layer(src_fd, tmp.path(), opts));

  ImportedLayer layer;
  layer.diff_id = stats.diff_id;
  layer.size_bytes = stats.size_bytes;
  layer.blob.media_type = keep_source ? media_type : kMediaTypeLayerTar;
  layer.blob.size = blob.size_bytes();
  layer.blob.digest = BERTH_TRY(blob.commit(keep_source ? stats.blob_digest : stats.diff_id));
  BERTH_TRY_VOID(install_layer(tmp, chain_id({stats.diff_id})));
  return layer;
}

// Re-creates a layer directory from its stored blob, checking both digests.
Result<void> ImageStore::unpack_layer_blob(const Descriptor& blob, const std::string& diff_id,
                                           const std::string& chain) {
  unique_fd fd = BERTH_TRY(open_fd(blobs_.path(blob.digest), O_RDONLY));
  TempTree tmp = BERTH_TRY(make_layer_temp());
  ApplyOptions opts;
  opts.preserve_owner = can_chown();
  LayerStats stats = BERTH_TRY_CTX(apply_layer(fd.get(), tmp.path(), opts), "unpack layer {}", blob.digest);
  if (stats.blob_digest != blob.digest)
    return Error::make(Code::kCorrupt, "blob {} is corrupt: its content hashes to {}", blob.digest, stats.blob_digest);
  if (stats.diff_id != diff_id)
    return Error::make(Code::kCorrupt, "layer {} has diff ID {}, the config says {}", blob.digest, stats.diff_id,
                       diff_id);
  return install_layer(tmp, chain);
}

Result<Image> ImageStore::import_rootfs(const std::string& tar_path, const std::string& repo_tag,
                                        const ImageConfig& changes, const std::string& comment) {
  std::string tag;
  if (!repo_tag.empty()) tag = BERTH_TRY(parse_tag_reference(repo_tag)).familiar_string();
  std::shared_lock gc(gc_mu_);  // no sweep while our blobs are unpublished
  unique_fd src = BERTH_TRY(open_fd(tar_path, O_RDONLY));
  ImportedLayer layer = BERTH_TRY_CTX(import_layer(src.get()), "import {}", tar_path);

  ImageConfigDoc doc;
  doc.config = changes;
  std::sort(doc.config.exposed_ports.begin(), doc.config.exposed_ports.end());
  doc.architecture = host_architecture();
  doc.os = "linux";
  doc.comment = comment;
  doc.created_ns = now_ns();
  doc.diff_ids = {layer.diff_id};
  std::string config_json = make_image_config(doc);
  std::string id = BERTH_TRY(blobs_.put(config_json));
  Manifest m{{std::string(kMediaTypeConfig), id, static_cast<int64_t>(config_json.size())}, {layer.blob}};
  std::string manifest_json = make_manifest(m);
  std::string manifest_digest = BERTH_TRY(blobs_.put(manifest_json));

  Entry e;
  e.manifest_digest = manifest_digest;
  e.manifest_size = static_cast<int64_t>(manifest_json.size());
  // Round-trip through the parser so an imported image and a reloaded one
  // are the same value (e.g. created_ns at the precision that is stored).
  ImageConfigDoc stored = BERTH_TRY(parse_image_config(config_json));
  e.image = std::make_shared<const Image>(make_image(id, manifest_digest, layer.size_bytes, stored,
                                                     std::move(config_json), {layer_dir(chain_id(doc.diff_ids))}));
  return publish(id, std::move(e), tag);
}

}  // namespace berth::fs
