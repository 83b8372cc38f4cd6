// ImageStore: untagging, removing images, and collecting the blobs and
// layer directories no image uses any more. See fs/image_store.h.
//
// Reference counting is a mark and sweep over the index rather than stored
// counters: the index is the only source of truth, so a count can never
// drift from it, and a crash between the index write and the deletes just
// leaves files the next sweep (at open) finds unreferenced.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "fs/digest.h"
#include "fs/image_store.h"
#include "fs/store_layout.h"

namespace berth::fs {

namespace {

int64_t dir_file_bytes(int dfd, dev_t dev) {
  DIR* d = ::fdopendir(dfd);
  if (!d) {
    ::close(dfd);
    return 0;
  }
  int64_t total = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (S_ISREG(st.st_mode)) {
      total += st.st_size;
    } else if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
      int sub = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) total += dir_file_bytes(sub, dev);
    }
  }
  ::closedir(d);
  return total;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

}  // namespace

int64_t tree_file_bytes(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (::fstat(fd, &st) < 0) {
    ::close(fd);
    return 0;
  }
  return dir_file_bytes(fd, st.st_dev);
}

Result<void> ImageStore::untag(const std::string& repo_tag) {
  return commit([&](Index& ix) -> Result<void> {
    if (!ix.tags.erase(repo_tag)) return Error::not_found("No such image: {}", repo_tag);
    return ok();
  });
}

Result<GcReport> ImageStore::remove_image(const std::string& id) {
  std::unique_lock gc(gc_mu_);
  BERTH_TRY_VOID(commit([&](Index& ix) -> Result<void> {
    if (!ix.images.erase(id)) return Error::not_found("No such image: {}", id);
    std::erase_if(ix.tags, [&](const auto& t) { return t.second == id; });
    return ok();
  }));
  Index snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = index_;
  }
  return sweep(snapshot);
}

Result<GcReport> ImageStore::collect_garbage() {
  std::unique_lock gc(gc_mu_);
  Index snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = index_;
  }
  return sweep(snapshot);
}

Result<Manifest> ImageStore::manifest_of(const std::string& id) const {
  std::string digest;
  {
    std::lock_guard lock(mu_);
    auto it = index_.images.find(id);
    if (it == index_.images.end()) return Error::not_found("No such image: {}", id);
    digest = it->second.manifest_digest;
  }
  return parse_manifest(BERTH_TRY(blobs_.read(digest)));
}

// Marks what `ix` references (records that could not be loaded included, as
// far as their blobs can still be read), then deletes the rest. The caller
// holds gc_mu_ exclusively. A file that cannot be deleted is left for the
// next sweep, with a warning: garbage is harmless.
GcReport ImageStore::sweep(const Index& ix) {
  std::set<std::string> blobs, chains;
  // False when the manifest or config cannot be read, so what it names is
  // unknown.
  auto mark_manifest = [&](const std::string& digest) {
    blobs.insert(digest);
    auto text = blobs_.read(digest);
    if (!text) return false;
    auto m = parse_manifest(*text);
    if (!m) return false;
    blobs.insert(m->config.digest);
    for (const Descriptor& l : m->layers) blobs.insert(l.digest);
    auto cfg = blobs_.read(m->config.digest);
    if (!cfg) return false;
    auto doc = parse_image_config(*cfg);
    if (!doc) return false;
    for (const std::string& c : chain_ids(doc->diff_ids)) chains.insert(c);
    return true;
  };
  GcReport report;
  for (const auto& [id, e] : ix.images) {
    blobs.insert(id);
    for (const std::string& c : chain_ids(e.image->diff_ids)) chains.insert(c);
    if (!mark_manifest(e.manifest_digest)) {
      log::warn("fs", "manifest of image {} is unreadable; not collecting garbage", id);
      return report;
    }
  }
  for (const auto& [id, u] : ix.unloaded) {
    blobs.insert(id);
    // An image skipped at open comes back once its blobs are repaired, so
    // while it is unreadable nothing is swept.
    if (!mark_manifest(u.manifest_digest)) {
      log::debug("fs", "image {} is unreadable; not collecting garbage", id);
      return report;
    }
  }

  std::string blob_dir = dir_ + "/blobs/sha256";
  for (const std::string& hex : list_dir(blob_dir)) {
    std::string digest = std::string(kSha256Prefix) + hex;
    if (blobs.count(digest)) continue;
    std::string path = blob_dir + "/" + hex;
    struct stat st;
    int64_t size = ::lstat(path.c_str(), &st) == 0 ? st.st_size : 0;
    if (::unlink(path.c_str()) < 0) {
      log::warn("fs", "remove unused blob {}: {}", path, ::strerror(errno));
      continue;
    }
    report.bytes += size;
  }
  std::string layers = dir_ + "/" + std::string(layout::kLayersDir);
  for (const std::string& name : list_dir(layers)) {
    if (starts_with(name, layout::kLayerTempPrefix)) continue;
    std::string chain = std::string(kSha256Prefix) + name;
    if (chains.count(chain)) continue;
    // Renamed to a temp name first: a half-deleted tree never sits under a
    // chain ID, where load_entry would take it for a complete layer.
    std::string path = layers + "/" + name;
    std::string trash = layers + "/" + std::string(layout::kLayerTempPrefix) + random_id().substr(0, 16);
    int64_t size = tree_file_bytes(path);
    if (::rename(path.c_str(), trash.c_str()) < 0) {
      log::warn("fs", "remove unused layer {}: {}", path, ::strerror(errno));
      continue;
    }
    if (auto r = remove_tree(trash); !r) log::warn("fs", "remove unused layer {}: {}", trash, r.error().message());
    report.deleted_layers.push_back(chain);
    report.bytes += size;
  }
  return report;
}

}  // namespace berth::fs
