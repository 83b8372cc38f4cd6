#include "fs/image_store.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "fs/digest.h"
#include "fs/reference.h"
#include "fs/store_layout.h"

namespace berth::fs {

namespace {

using nlohmann::json;

std::string join_path(const std::string& dir, std::string_view name) { return dir + "/" + std::string(name); }

Error no_such_image(const std::string& ref) { return Error::not_found("No such image: {}", ref); }

// The parsed repositories.json: image ID -> (manifest digest, size); tags.
struct RepositoriesDoc {
  struct Item {
    std::string id, manifest;
    int64_t size = 0;
    std::vector<std::string> digests;
  };
  std::vector<Item> images;
  std::map<std::string, std::string> tags;
};

Result<RepositoriesDoc> parse_repositories(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::make(Code::kCorrupt, "not a JSON object");
  try {
    if (j.value("version", 0) != layout::kRepositoriesVersion)
      return Error::make(Code::kNotSupported, "unsupported version {}", j.value("version", 0));
    RepositoriesDoc doc;
    for (auto& [id, v] : j.at("images").items()) {
      RepositoriesDoc::Item item{id, v.at("manifest").get<std::string>(), v.value("size", int64_t{0}), {}};
      if (auto d = v.find("digests"); d != v.end()) item.digests = d->get<std::vector<std::string>>();
      doc.images.push_back(std::move(item));
    }
    doc.tags = j.at("tags").get<std::map<std::string, std::string>>();
    return doc;
  } catch (const json::exception& e) {
    return Error::make(Code::kCorrupt, "{}", e.what());
  }
}

// The familiar tag "busybox:latest" as an OCI index descriptor's annotations.
json tag_annotations(const std::string& tag) {
  auto ref = parse_reference(tag);
  if (!ref) return json::object();
  return json{{"io.containerd.image.name", ref->string()}, {"org.opencontainers.image.ref.name", ref->tag}};
}

}  // namespace

ImageStore::ImageStore(std::string dir, BlobStore blobs) : dir_(std::move(dir)), blobs_(std::move(blobs)) {}

ImageStore::~ImageStore() = default;

Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& dir) {
  BERTH_TRY_VOID(make_dirs(dir, 0700));
  char real[PATH_MAX];
  if (!::realpath(dir.c_str(), real)) return Error::sys(errno, "resolve {}", dir);
  std::string root = real;
  std::string oci_layout = join_path(root, layout::kOciLayoutFile);
  if (!path_exists(oci_layout)) BERTH_TRY_VOID(write_file_atomic(oci_layout, layout::kOciLayoutJson));
  BlobStore blobs = BERTH_TRY(BlobStore::open(root));
  BERTH_TRY_VOID(make_dirs(join_path(root, layout::kLayersDir), 0700));
  std::unique_ptr<ImageStore> store(new ImageStore(root, std::move(blobs)));
  BERTH_TRY_VOID(store->clean_layer_temps());
  BERTH_TRY_VOID(store->load());
  // Files a removal interrupted by a crash left behind (image_gc.cc).
  GcReport gc = BERTH_TRY(store->collect_garbage());
  if (gc.bytes > 0) log::info("fs", "removed {} unused bytes from the image store", gc.bytes);
  return store;
}

Image ImageStore::make_image(const std::string& id, const std::string& manifest_digest, int64_t size_bytes,
                             const ImageConfigDoc& doc, std::string config_json,
                             std::vector<std::string> layer_dirs) {
  Image img;
  img.id = id;
  img.manifest_digest = manifest_digest;
  img.created_ns = doc.created_ns;
  img.size_bytes = size_bytes;
  img.architecture = doc.architecture;
  img.os = doc.os;
  img.comment = doc.comment;
  img.author = doc.author;
  img.config = doc.config;
  img.diff_ids = doc.diff_ids;
  img.layer_dirs = std::move(layer_dirs);
  img.config_json = std::move(config_json);
  img.history_created_by = doc.history_created_by;
  return img;
}

Result<void> ImageStore::load() {
  std::string path = join_path(dir_, layout::kRepositoriesFile);
  if (!path_exists(path)) return ok();
  std::string text = BERTH_TRY(read_file(path));
  auto doc = parse_repositories(text);
  if (!doc) return std::move(doc.error()).context("load {}", path);
  for (auto& [id, manifest, size, digests] : doc->images) {
    auto entry = load_entry(id, manifest, size);
    if (!entry) {  // one bad image must not keep the daemon from starting
      log::warn("fs", "skipping image {}: {}", id, entry.error().message());
      index_.unloaded[id] = {manifest, size, digests};
      continue;
    }
    entry->repo_digests = digests;
    index_.images.emplace(id, std::move(*entry));
  }
  for (auto& [tag, id] : doc->tags) {
    if (index_.images.count(id))
      index_.tags.emplace(tag, id);
    else
      index_.unloaded_tags.emplace(tag, id);
  }
  return ok();
}

Result<ImageStore::Entry> ImageStore::load_entry(const std::string& id, const std::string& manifest_digest,
                                                 int64_t size) {
  if (!is_sha256_digest(id)) return Error::make(Code::kCorrupt, "invalid image ID");
  std::string manifest_json = BERTH_TRY(blobs_.read(manifest_digest));
  Manifest m = BERTH_TRY(parse_manifest(manifest_json));
  if (m.config.digest != id)
    return Error::make(Code::kCorrupt, "manifest {} names config {}", manifest_digest, m.config.digest);
  std::string config_json = BERTH_TRY(blobs_.read(id));
  ImageConfigDoc doc = BERTH_TRY(parse_image_config(config_json));
  if (doc.diff_ids.size() != m.layers.size())
    return Error::make(Code::kCorrupt, "config has {} diff IDs for {} layers", doc.diff_ids.size(), m.layers.size());
  std::vector<std::string> chains = chain_ids(doc.diff_ids);
  std::vector<std::string> dirs;
  for (size_t i = 0; i < chains.size(); i++) {
    dirs.push_back(layer_dir(chains[i]));
    if (!path_exists(dirs.back())) {
      log::warn("fs", "layer {} of image {} is missing; unpacking it again", chains[i], id);
      BERTH_TRY_VOID(unpack_layer_blob(m.layers[i], doc.diff_ids[i], chains[i]));
    }
  }
  Entry e;
  e.manifest_digest = manifest_digest;
  e.manifest_size = static_cast<int64_t>(manifest_json.size());
  e.image = std::make_shared<const Image>(make_image(id, manifest_digest, size, doc, std::move(config_json),
                                                     std::move(dirs)));
  return e;
}

// The one image whose ID starts with "sha256:<hex>". Docker answers an
// ambiguous prefix with "No such image" too.
static Result<std::string> find_by_prefix(const auto& images, std::string_view hex, const std::string& ref) {
  std::string key = std::string(kSha256Prefix) + std::string(hex);
  auto it = images.lower_bound(key);
  if (it == images.end() || !starts_with(it->first, key)) return no_such_image(ref);
  if (auto next = std::next(it); next != images.end() && starts_with(next->first, key)) return no_such_image(ref);
  return it->first;
}

// Docker's order (daemon/images GetImage): an ID, then a name, then a short
// ID prefix.
Result<std::string> ImageStore::find_id(const Index& ix, const std::string& ref) const {
  if (starts_with(ref, kSha256Prefix)) {
    std::string_view hex = std::string_view(ref).substr(kSha256Prefix.size());
    if (hex.size() > 64 || !is_hex(hex)) return no_such_image(ref);
    return find_by_prefix(ix.images, hex, ref);
  }
  if (ref.size() == 64 && is_hex(ref)) return find_by_prefix(ix.images, ref, ref);
  auto parsed = parse_reference(ref);
  if (parsed && parsed->digest.empty()) {
    if (auto it = ix.tags.find(parsed->familiar_string()); it != ix.tags.end()) return it->second;
  } else if (parsed) {  // name@digest: a recorded repo digest, or that manifest and a tag of that name
    std::string wanted = parsed->familiar_name() + "@" + parsed->digest;
    for (const auto& [id, e] : ix.images)
      if (std::find(e.repo_digests.begin(), e.repo_digests.end(), wanted) != e.repo_digests.end()) return id;
    for (const auto& [tag, id] : ix.tags) {
      auto t = parse_reference(tag);
      if (t && t->familiar_name() == parsed->familiar_name() && ix.images.at(id).manifest_digest == parsed->digest)
        return id;
    }
  }
  if (is_hex(ref)) return find_by_prefix(ix.images, ref, ref);
  if (!parsed) return std::move(parsed.error());
  return no_such_image(ref);
}

Image ImageStore::materialize(const Index& ix, const std::string& id) const {
  const Entry& e = ix.images.at(id);
  Image img = *e.image;
  img.repo_digests = e.repo_digests;
  for (const auto& [tag, tid] : ix.tags)
    if (tid == id) img.repo_tags.push_back(tag);
  return img;
}

Result<Image> ImageStore::resolve(const std::string& ref) const {
  std::lock_guard lock(mu_);
  std::string id = BERTH_TRY(find_id(index_, ref));
  return materialize(index_, id);
}

std::vector<Image> ImageStore::list() const {
  std::vector<Image> out;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, std::vector<std::string>> tags_by_id;
    for (const auto& [tag, id] : index_.tags) tags_by_id[id].push_back(tag);
    for (const auto& [id, e] : index_.images) {
      out.push_back(*e.image);
      out.back().repo_tags = std::move(tags_by_id[id]);
      out.back().repo_digests = e.repo_digests;
    }
  }
  std::sort(out.begin(), out.end(), [](const Image& a, const Image& b) {
    return a.created_ns != b.created_ns ? a.created_ns > b.created_ns : a.id < b.id;
  });
  return out;
}

Result<void> ImageStore::tag(const std::string& ref, const std::string& new_repo_tag) {
  Reference target = BERTH_TRY(parse_tag_reference(new_repo_tag));
  return commit([&](Index& ix) -> Result<void> {
    std::string id = BERTH_TRY(find_id(ix, ref));
    ix.set_tag(target.familiar_string(), id);
    return ok();
  });
}

// Mutations copy the index (cheap: images are shared_ptrs), change and
// persist the copy, and only then publish it, so readers never see state
// that is not on disk, and a failed write changes nothing.
Result<Image> ImageStore::publish(const std::string& id, Entry e, const std::string& tag) {
  BERTH_TRY_VOID(commit([&](Index& ix) -> Result<void> {
    ix.images[id] = e;
    ix.unloaded.erase(id);
    if (!tag.empty()) ix.set_tag(tag, id);
    return ok();
  }));
  std::lock_guard lock(mu_);
  return materialize(index_, id);
}

Result<void> ImageStore::commit(const std::function<Result<void>(Index&)>& mutate) {
  std::lock_guard writer(write_mu_);
  Index next;
  {
    std::lock_guard lock(mu_);
    next = index_;
  }
  BERTH_TRY_VOID(mutate(next));
  BERTH_TRY_VOID(persist(next));
  std::lock_guard lock(mu_);
  index_ = std::move(next);
  return ok();
}

Result<void> ImageStore::persist(const Index& ix) const {
  json images = json::object();
  json manifests = json::array();
  std::map<std::string, bool> tagged;
  for (const auto& [tag, id] : ix.tags) tagged[id] = true;
  for (const auto& [id, e] : ix.images) {
    images[id] = json{{"manifest", e.manifest_digest}, {"size", e.image->size_bytes}};
    if (!e.repo_digests.empty()) images[id]["digests"] = e.repo_digests;
    json desc{{"mediaType", kMediaTypeManifest}, {"digest", e.manifest_digest}, {"size", e.manifest_size}};
    if (!tagged[id]) manifests.push_back(desc);
    for (const auto& [tag, tid] : ix.tags) {
      if (tid != id) continue;
      desc["annotations"] = tag_annotations(tag);
      manifests.push_back(desc);
    }
  }
  for (const auto& [id, u] : ix.unloaded) {
    images[id] = json{{"manifest", u.manifest_digest}, {"size", u.size}};
    if (!u.repo_digests.empty()) images[id]["digests"] = u.repo_digests;
  }
  json tags(ix.unloaded_tags);
  for (const auto& [tag, id] : ix.tags) tags[tag] = id;
  json index{{"schemaVersion", 2}, {"mediaType", layout::kMediaTypeIndex}, {"manifests", std::move(manifests)}};
  json repos{{"version", layout::kRepositoriesVersion}, {"images", std::move(images)}, {"tags", std::move(tags)}};
  BERTH_TRY_VOID(write_file_atomic(join_path(dir_, layout::kOciIndexFile), index.dump()));
  return write_file_atomic(join_path(dir_, layout::kRepositoriesFile), repos.dump(2) + "\n");
}

}  // namespace berth::fs
