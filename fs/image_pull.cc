// ImageStore: what pulls need (Ingest, add_pulled) and push reads
// (manifest_json_of, add_repo_digest). See fs/image_store.h.
#include <fcntl.h>

#include <algorithm>

#include "core/base/file.h"
#include "core/base/log.h"
#include "fs/digest.h"
#include "fs/image_store.h"
#include "fs/layer.h"
#include "fs/reference.h"
#include "fs/temp_tree.h"

namespace berth::fs {

namespace {

void add_sorted(std::vector<std::string>* v, const std::string& s) {
  if (s.empty() || std::find(v->begin(), v->end(), s) != v->end()) return;
  v->push_back(s);
  std::sort(v->begin(), v->end());
}

}  // namespace

ImageStore::Ingest::Ingest(ImageStore& store) : store_(store), gc_(store.gc_mu_) {}

ImageStore::Ingest::~Ingest() {
  gc_.unlock();
  if (published_) return;
  // Whatever this pull stored and no image references: blobs committed
  // before a later one failed, layers unpacked before the error.
  if (auto r = store_.collect_garbage(); !r)
    log::warn("fs", "clean up after a failed pull: {}", r.error().message());
}

bool ImageStore::Ingest::has_layer(const std::string& chain) const { return path_exists(store_.layer_dir(chain)); }

Result<void> ImageStore::Ingest::unpack_layer(const Descriptor& blob, const std::string& diff_id,
                                              const std::string& chain,
                                              std::function<Result<void>(std::string_view)> tee) {
  unique_fd fd = BERTH_TRY(open_fd(store_.blobs_.path(blob.digest), O_RDONLY));
  TempTree tmp = BERTH_TRY(store_.make_layer_temp());
  ApplyOptions opts;
  opts.preserve_owner = can_chown();
  opts.tee = std::move(tee);
  opts.tee_stream = TeeStream::kSource;
  // Every blob in the store was hashed as it was written (a pull verifies
  // each download before committing it): no second pass over it here.
  opts.hash_source = false;
  LayerStats stats = BERTH_TRY_CTX(apply_layer(fd.get(), tmp.path(), opts), "unpack layer {}", blob.digest);
  if (stats.diff_id != diff_id)
    return Error::make(Code::kCorrupt, "layer {} has diff ID {}, the image config says {}", blob.digest, stats.diff_id,
                       diff_id);
  std::lock_guard lock(mu_);
  unpacked_.emplace_back(std::move(tmp), chain);
  return ok();
}

Result<void> ImageStore::Ingest::install_layers() {
  std::lock_guard lock(mu_);
  if (unpacked_.empty()) return ok();
  unique_fd fd = BERTH_TRY(open_fd(unpacked_.front().first.path(), O_RDONLY | O_DIRECTORY));
  if (::syncfs(fd.get()) < 0) return Error::sys(errno, "sync layers {}", unpacked_.front().first.path());
  for (auto& [tmp, chain] : unpacked_) BERTH_TRY_VOID(store_.install_layer(tmp, chain, /*sync=*/false));
  unpacked_.clear();
  return ok();
}

Result<Image> ImageStore::add_pulled(Ingest& ingest, const PulledImage& p) {
  BERTH_TRY_VOID(ingest.install_layers());
  Manifest m = BERTH_TRY(parse_manifest(p.manifest_json));
  ImageConfigDoc doc = BERTH_TRY_CTX(parse_image_config(p.config_json), "image config {}", m.config.digest);
  if (doc.diff_ids.size() != m.layers.size())
    return Error::make(Code::kCorrupt, "image config {} has {} diff IDs for {} layers", m.config.digest,
                       doc.diff_ids.size(), m.layers.size());
  std::vector<std::string> chains = chain_ids(doc.diff_ids);
  std::vector<std::string> dirs;
  int64_t size = 0;
  for (size_t i = 0; i < chains.size(); i++) {
    if (!blobs_.contains(m.layers[i].digest)) return Error::not_found("layer blob {} is missing", m.layers[i].digest);
    dirs.push_back(layer_dir(chains[i]));
    if (!path_exists(dirs.back())) return Error::not_found("layer {} is not unpacked", chains[i]);
    size += tree_file_bytes(dirs.back());
  }
  std::string id = BERTH_TRY(blobs_.put(p.config_json));
  if (id != m.config.digest)
    return Error::make(Code::kCorrupt, "digest mismatch for config {}: its content hashes to {}", m.config.digest, id);
  std::string manifest_digest = BERTH_TRY(blobs_.put(p.manifest_json));
  Entry e;
  e.manifest_digest = manifest_digest;
  e.manifest_size = static_cast<int64_t>(p.manifest_json.size());
  e.image = std::make_shared<const Image>(make_image(id, manifest_digest, size, doc, p.config_json, std::move(dirs)));
  BERTH_TRY_VOID(commit([&](Index& ix) -> Result<void> {
    if (auto old = ix.images.find(id); old != ix.images.end()) e.repo_digests = old->second.repo_digests;
    add_sorted(&e.repo_digests, p.repo_digest);
    ix.images[id] = e;
    ix.unloaded.erase(id);
    if (!p.repo_tag.empty()) ix.set_tag(p.repo_tag, id);
    return ok();
  }));
  ingest.published_ = true;
  std::lock_guard lock(mu_);
  return materialize(index_, id);
}

Result<void> ImageStore::add_repo_digest(const std::string& id, const std::string& repo_digest) {
  return commit([&](Index& ix) -> Result<void> {
    auto it = ix.images.find(id);
    if (it == ix.images.end()) return Error::not_found("No such image: {}", id);
    add_sorted(&it->second.repo_digests, repo_digest);
    return ok();
  });
}

Result<std::string> ImageStore::manifest_json_of(const std::string& id) const {
  std::string digest;
  {
    std::lock_guard lock(mu_);
    auto it = index_.images.find(id);
    if (it == index_.images.end()) return Error::not_found("No such image: {}", id);
    digest = it->second.manifest_digest;
  }
  return blobs_.read(digest);
}

}  // namespace berth::fs
