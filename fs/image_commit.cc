// ImageStore: committing a container's upper dir as a new image on top of
// its parent. See fs/image_store.h.
#include "core/base/file.h"
#include "core/base/strings.h"
#include "fs/digest.h"
#include "fs/image_store.h"
#include "fs/reference.h"
#include "fs/rootfs_tar.h"

namespace berth::fs {

namespace {

constexpr const char* kMediaTypeLayerTar = "application/vnd.oci.image.layer.v1.tar";
constexpr size_t kPieceBytes = 1 << 20;

}  // namespace

// Streams the tar into the blob store in 1 MiB pieces: the layer is never
// in memory whole. Stored uncompressed, as Docker keeps local layers, so the
// blob digest is the diff ID.
Result<ImageStore::ImportedLayer> ImageStore::write_upper_layer(const std::string& upper_dir, IdShift shift,
                                                                bool* empty) {
  std::unique_ptr<RootfsTar> tar = BERTH_TRY(RootfsTar::open({upper_dir}, TarMode::kLayer, shift));
  BlobWriter blob = BERTH_TRY(blobs_.begin_write());
  std::string piece;
  for (bool done = false; !done;) {
    piece.clear();
    done = BERTH_TRY_CTX(tar->produce(&piece, kPieceBytes), "write layer of {}", upper_dir);
    BERTH_TRY_VOID(blob.write(piece));
  }
  *empty = tar->entries() == 0;
  ImportedLayer layer;
  layer.size_bytes = tar->file_bytes();
  if (*empty) return layer;  // ~BlobWriter drops the temp file
  layer.blob.media_type = kMediaTypeLayerTar;
  layer.blob.size = blob.size_bytes();
  layer.blob.digest = BERTH_TRY(blob.commit());
  layer.diff_id = layer.blob.digest;
  return layer;
}

Result<Image> ImageStore::commit_container(const CommitSpec& spec) {
  std::string tag;
  if (!spec.repo_tag.empty()) tag = BERTH_TRY(parse_tag_reference(spec.repo_tag)).familiar_string();
  std::shared_lock gc(gc_mu_);  // no sweep while our blobs are unpublished
  Entry parent;
  {
    std::lock_guard lock(mu_);
    auto it = index_.images.find(spec.parent_id);
    if (it == index_.images.end()) return Error::not_found("No such image: {}", spec.parent_id);
    parent = it->second;
  }
  const Image& pimg = *parent.image;
  Manifest manifest = BERTH_TRY(parse_manifest(BERTH_TRY(blobs_.read(parent.manifest_digest))));

  bool empty = false;
  ImportedLayer layer = BERTH_TRY(write_upper_layer(spec.upper_dir, spec.shift, &empty));
  ChildImage child = spec.child;
  child.created_ns = now_ns();
  std::vector<std::string> dirs = pimg.layer_dirs;
  if (!empty) {
    child.diff_id = layer.diff_id;
    std::vector<std::string> diff_ids = pimg.diff_ids;
    diff_ids.push_back(layer.diff_id);
    std::string chain = chain_id(diff_ids);
    // Unpacked from the stored blob, which checks both digests on the way;
    // an identical commit made before already left this chain.
    if (!path_exists(layer_dir(chain))) BERTH_TRY_VOID(unpack_layer_blob(layer.blob, layer.diff_id, chain));
    dirs.push_back(layer_dir(chain));
    manifest.layers.push_back(layer.blob);
  }

  std::string config_json = BERTH_TRY(make_child_config(pimg.config_json, child));
  std::string id = BERTH_TRY(blobs_.put(config_json));
  manifest.config = {std::string(kMediaTypeConfig), id, static_cast<int64_t>(config_json.size())};
  std::string manifest_json = make_manifest(manifest);
  std::string manifest_digest = BERTH_TRY(blobs_.put(manifest_json));
  ImageConfigDoc stored = BERTH_TRY(parse_image_config(config_json));

  Entry e;
  e.manifest_digest = manifest_digest;
  e.manifest_size = static_cast<int64_t>(manifest_json.size());
  e.image = std::make_shared<const Image>(make_image(id, manifest_digest, pimg.size_bytes + layer.size_bytes, stored,
                                                     std::move(config_json), std::move(dirs)));
  return publish(id, std::move(e), tag);
}

}  // namespace berth::fs
