// docker save (SaveArchive) and docker load (ImageStore::load_archive).
// Formats: fs/image_archive.h.
#include "fs/image_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/json_depth.h"
#include "core/base/strings.h"
#include "fs/digest.h"
#include "fs/layer.h"
#include "fs/reference.h"
#include "fs/store_layout.h"
#include "fs/tar_stream.h"
#include "fs/utf8_locale.h"

namespace berth::fs {

using nlohmann::json;

namespace {

constexpr size_t kReadBytes = 256 << 10;
constexpr std::string_view kBlobPrefix = "blobs/sha256/";
constexpr std::string_view kMediaTypeOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kMediaTypeDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";

std::string blob_name(std::string_view digest) { return std::string(kBlobPrefix) + std::string(digest_hex(digest)); }

// The annotations Docker 25+ and containerd put on a tagged descriptor.
json tag_annotations(const std::string& familiar) {
  auto ref = parse_reference(familiar);
  if (!ref) return json::object();
  return json{{"io.containerd.image.name", ref->string()}, {"org.opencontainers.image.ref.name", ref->tag}};
}

}  // namespace

// ---------------------------------------------------------------- save

namespace {

struct SaveEntry {
  std::string name;
  bool dir = false;
  std::string data;         // inline content, or
  std::string blob_digest;  // a stored blob, streamed and verified
};

}  // namespace

struct SaveArchive::Plan {
  const ImageStore* store = nullptr;
  std::vector<SaveEntry> entries;
  size_t next = 0;
  std::string* slot = nullptr;  // where the tar sink appends, during produce()
  std::optional<TarStream> tar;
  unique_fd file;               // the blob being streamed
  int64_t left = 0;
  std::string digest;
  Sha256 hash;
  std::string buf;
};

SaveArchive::SaveArchive(std::unique_ptr<Plan> p) : p_(std::move(p)) {}
SaveArchive::~SaveArchive() = default;

Result<std::unique_ptr<SaveArchive>> SaveArchive::open(const ImageStore& store, std::vector<SaveItem> items) {
  auto p = std::make_unique<Plan>();
  p->store = &store;
  p->entries.push_back({"blobs/", true, {}, {}});
  p->entries.push_back({"blobs/sha256/", true, {}, {}});
  std::set<std::string> seen;
  auto add_blob = [&](const std::string& digest, std::string inline_data = {}) {
    if (!seen.insert(digest).second) return;
    SaveEntry e{blob_name(digest), false, std::move(inline_data), {}};
    if (e.data.empty()) e.blob_digest = digest;
    p->entries.push_back(std::move(e));
  };
  json manifests = json::array();
  json index_manifests = json::array();
  for (const SaveItem& item : items) {
    Image img = BERTH_TRY(store.resolve(item.id));
    std::string manifest_text = BERTH_TRY(store.blobs().read(img.manifest_digest));
    Manifest m = BERTH_TRY_CTX(parse_manifest(manifest_text), "image {}", item.id);
    json layers = json::array();
    for (const Descriptor& l : m.layers) {
      add_blob(l.digest);
      layers.push_back(blob_name(l.digest));
    }
    add_blob(m.config.digest, img.config_json);
    int64_t manifest_size = static_cast<int64_t>(manifest_text.size());
    add_blob(img.manifest_digest, std::move(manifest_text));
    manifests.push_back(json{{"Config", blob_name(m.config.digest)}, {"RepoTags", item.repo_tags},
                             {"Layers", std::move(layers)}});
    json desc{{"mediaType", kMediaTypeManifest}, {"digest", img.manifest_digest}, {"size", manifest_size}};
    if (item.repo_tags.empty()) index_manifests.push_back(desc);
    for (const std::string& tag : item.repo_tags) {
      desc["annotations"] = tag_annotations(tag);
      index_manifests.push_back(desc);
    }
  }
  json index{{"schemaVersion", 2}, {"mediaType", kMediaTypeOciIndex}, {"manifests", std::move(index_manifests)}};
  p->entries.push_back({"index.json", false, index.dump() + "\n", {}});
  p->entries.push_back({"manifest.json", false, manifests.dump() + "\n", {}});
  p->entries.push_back({std::string(layout::kOciLayoutFile), false, std::string(layout::kOciLayoutJson), {}});
  Plan* raw = p.get();
  // Outside produce() there is no slot: a save abandoned mid-stream (the
  // client left) destroys the open tar, which writes its trailer here, to
  // nowhere. (Appending to the null slot crashed berthd: `docker save |
  // head -c 1000`.)
  p->tar.emplace(BERTH_TRY(TarStream::open([raw](std::string_view d) -> Result<void> {
    if (raw->slot) raw->slot->append(d);
    return ok();
  })));
  return std::unique_ptr<SaveArchive>(new SaveArchive(std::move(p)));
}

Result<bool> SaveArchive::produce(std::string* out, size_t budget_bytes) {
  Plan& p = *p_;
  p.slot = out;
  while (out->size() < budget_bytes) {
    if (p.file) {
      p.buf.resize(static_cast<size_t>(std::min<int64_t>(p.left, kReadBytes)));
      ssize_t n = ::read(p.file.get(), p.buf.data(), p.buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::sys(errno, "read blob {}", p.digest);
      if (n == 0) return Error::make(Code::kCorrupt, "blob {} shrank while it was saved", p.digest);
      std::string_view piece(p.buf.data(), static_cast<size_t>(n));
      p.hash.update(piece);
      BERTH_TRY_VOID(p.tar->write_data(piece));
      p.left -= n;
      if (p.left > 0) continue;
      p.file.reset();
      if (std::string got = p.hash.digest(); got != p.digest)
        return Error::make(Code::kCorrupt, "blob {} is corrupt: its content hashes to {}", p.digest, got);
      continue;
    }
    if (p.next == p.entries.size()) {
      BERTH_TRY_VOID(p.tar->close());
      p.slot = nullptr;
      return true;
    }
    const SaveEntry& e = p.entries[p.next++];
    TarEntry te;
    te.path = e.name;
    te.mode = e.dir ? (S_IFDIR | 0755) : (S_IFREG | 0644);
    if (e.dir) {
      BERTH_TRY_VOID(p.tar->write_header(te));
    } else if (e.blob_digest.empty()) {
      BERTH_TRY_VOID(p.tar->write_header(te, static_cast<int64_t>(e.data.size())));
      BERTH_TRY_VOID(p.tar->write_data(e.data));
    } else {
      std::string path = p.store->blobs().path(e.blob_digest);
      p.file = BERTH_TRY(open_fd(path, O_RDONLY));
      struct stat st;
      if (::fstat(p.file.get(), &st) < 0) return Error::sys(errno, "stat {}", path);
      BERTH_TRY_VOID(p.tar->write_header(te, st.st_size));
      p.left = st.st_size;
      p.digest = e.blob_digest;
      if (p.left == 0) p.file.reset();
    }
  }
  p.slot = nullptr;
  return false;
}

// ---------------------------------------------------------------- load

namespace {

struct ScratchFile {
  std::string path;    // extracted copy
  std::string digest;  // sha256 of its content
  int64_t size = 0;
};

// "./a/../b//c" -> "b/c"; ".." never climbs above the archive root.
std::string clean_path(std::string_view p) {
  std::string out;
  for (const std::string& s : clean_path_parts(p)) out += (out.empty() ? "" : "/") + s;
  return out;
}

std::string dir_of(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? std::string() : p.substr(0, slash);
}

}  // namespace

// The archive extracted into a temp dir inside the store (same filesystem,
// so blobs are renamed into place), removed on destruction. Its name has
// the layer temp prefix, so open() removes it after a crash.
class ImageStore::LoadScratch {
 public:
  explicit LoadScratch(std::string dir) : dir_(std::move(dir)) {}
  ~LoadScratch() { (void)remove_tree(dir_); }
  LoadScratch(const LoadScratch&) = delete;
  LoadScratch& operator=(const LoadScratch&) = delete;

  Result<void> extract(const std::string& tar_path);
  const ScratchFile* find(const std::string& name) const {
    std::string n = clean_path(name);
    for (int hops = 0; hops < 16; hops++) {
      if (auto f = files_.find(n); f != files_.end()) return &f->second;
      auto l = links_.find(n);
      if (l == links_.end()) return nullptr;
      n = l->second;
    }
    return nullptr;
  }
  Result<const ScratchFile*> need(const std::string& name) const {
    const ScratchFile* f = find(name);
    if (!f) return Error::invalid("invalid archive: {} is missing", name);
    return f;
  }
  Result<std::string> read(const std::string& name) const {
    const ScratchFile* f = BERTH_TRY(need(name));
    return read_file(f->path, 32 << 20);
  }

 private:
  Result<void> extract_file(archive* a, const std::string& name);

  std::string dir_;
  std::map<std::string, ScratchFile> files_;
  std::map<std::string, std::string> links_;
  int next_ = 0;
};

Result<void> ImageStore::LoadScratch::extract_file(archive* a, const std::string& name) {
  ScratchFile f;
  f.path = dir_ + "/" + std::to_string(next_++);
  unique_fd fd = BERTH_TRY(open_fd(f.path, O_WRONLY | O_CREAT | O_EXCL, 0600));
  Sha256 hash;
  std::string buf(kReadBytes, '\0');
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n < 0) return Error::invalid("invalid archive: read {}: {}", name, archive_error_string(a));
    if (n == 0) break;
    std::string_view piece(buf.data(), static_cast<size_t>(n));
    hash.update(piece);
    BERTH_TRY_VOID(write_all(fd.get(), piece));
    f.size += n;
  }
  if (::fsync(fd.get()) < 0) return Error::sys(errno, "sync {}", f.path);
  f.digest = hash.digest();
  // A blob's name is its digest: check it now, before anything is stored.
  if (starts_with(name, kBlobPrefix)) {
    std::string named = std::string(kSha256Prefix) + name.substr(kBlobPrefix.size());
    if (is_sha256_digest(named) && named != f.digest)
      return Error::make(Code::kCorrupt, "invalid archive: blob {} is corrupt: its content hashes to {}", named,
                         f.digest);
  }
  files_[name] = std::move(f);
  return ok();
}

Result<void> ImageStore::LoadScratch::extract(const std::string& tar_path) {
  BERTH_TRY_VOID(make_dirs(dir_, 0700));
  ScopedUtf8Ctype utf8;
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), tar_path.c_str(), 1 << 16) != ARCHIVE_OK)
    return Error::invalid("invalid archive: {}", archive_error_string(a.get()));
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return Error::invalid("invalid archive: {}", archive_error_string(a.get()));
    const char* raw = archive_entry_pathname(e);
    if (!raw) continue;
    std::string name = clean_path(raw);
    if (const char* hard = archive_entry_hardlink(e)) {
      links_[name] = clean_path(hard);
    } else if (archive_entry_filetype(e) == AE_IFLNK) {
      links_[name] = clean_path(dir_of(name) + "/" + archive_entry_symlink(e));
    } else if (archive_entry_filetype(e) == AE_IFREG) {
      BERTH_TRY_VOID(extract_file(a.get(), name));
    }
  }
  return ok();
}

struct ImageStore::ArchiveImage {
  std::string config_json, config_digest;
  std::vector<const ScratchFile*> layers;
  std::vector<std::string> repo_tags;  // familiar
};

namespace {

using ArchiveImage = ImageStore::ArchiveImage;

std::vector<std::string> string_list(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const json& s : j)
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

std::string str_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Familiar tag for an OCI descriptor, "" if it has none.
std::string descriptor_tag(const json& desc) {
  auto ann = desc.find("annotations");
  if (ann == desc.end() || !ann->is_object()) return {};
  std::string name = str_at(*ann, "io.containerd.image.name");
  if (name.empty()) {
    // skopeo's oci:dir:name:tag puts the whole reference here; a bare
    // "latest" names no repository.
    std::string ref = str_at(*ann, "org.opencontainers.image.ref.name");
    if (ref.find_first_of(":/") != std::string::npos) name = ref;
  }
  if (name.empty()) return {};
  auto parsed = parse_tag_reference(name);
  return parsed ? parsed->familiar_string() : std::string();
}

}  // namespace

namespace {

Result<void> add_oci_descriptor(const ImageStore::LoadScratch& s, const json& desc, const std::string& tag,
                                int depth, std::vector<ArchiveImage>* out) {
  if (depth > 4) return Error::invalid("invalid archive: indexes nested too deeply");
  std::string digest = str_at(desc, "digest");
  if (!is_sha256_digest(digest)) return Error::invalid("invalid archive: descriptor digest '{}'", digest);
  const ScratchFile* blob = BERTH_TRY(s.need(blob_name(digest)));
  if (desc.contains("size") && desc["size"].is_number_integer() && desc["size"].get<int64_t>() != blob->size)
    return Error::make(Code::kCorrupt, "invalid archive: blob {} has {} bytes, its descriptor says {}", digest,
                       blob->size, desc["size"].get<int64_t>());
  std::string text = BERTH_TRY(read_file(blob->path, 32 << 20));
  std::string media = str_at(desc, "mediaType");
  if (media == kMediaTypeOciIndex || media == kMediaTypeDockerList) {
    if (!json_depth_ok(text)) return Error::invalid("invalid archive: index {} is nested too deeply", digest);
    json idx = json::parse(text, nullptr, false);
    if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array())
      return Error::invalid("invalid archive: index {} has no manifests", digest);
    for (const json& m : idx["manifests"]) {
      auto plat = m.find("platform");
      if (plat != m.end() && plat->is_object() &&
          (str_at(*plat, "os") != "linux" || str_at(*plat, "architecture") != host_architecture()))
        continue;
      return add_oci_descriptor(s, m, tag, depth + 1, out);
    }
    return Error::not_found("invalid archive: index {} has no manifest for linux/{}", digest, host_architecture());
  }
  Manifest m = BERTH_TRY_CTX(parse_manifest(text), "invalid archive: manifest {}", digest);
  ArchiveImage ai;
  const ScratchFile* cfg = BERTH_TRY(s.need(blob_name(m.config.digest)));
  ai.config_json = BERTH_TRY(read_file(cfg->path, 32 << 20));
  ai.config_digest = cfg->digest;
  for (const Descriptor& l : m.layers) {
    const ScratchFile* f = BERTH_TRY(s.need(blob_name(l.digest)));
    if (f->size != l.size)
      return Error::make(Code::kCorrupt, "invalid archive: layer {} has {} bytes, the manifest says {}", l.digest,
                         f->size, l.size);
    ai.layers.push_back(f);
  }
  if (!tag.empty()) ai.repo_tags.push_back(tag);
  out->push_back(std::move(ai));
  return ok();
}

Result<std::vector<ArchiveImage>> plan_docker_archive(const ImageStore::LoadScratch& s, const std::string& text) {
  if (!json_depth_ok(text)) return Error::invalid("invalid archive: manifest.json is nested too deeply");
  json j = json::parse(text, nullptr, false);
  if (!j.is_array()) return Error::invalid("invalid archive: manifest.json is not a JSON array");
  std::vector<ArchiveImage> out;
  for (const json& item : j) {
    if (!item.is_object()) return Error::invalid("invalid archive: a manifest.json entry is not an object");
    ArchiveImage ai;
    std::string config = str_at(item, "Config");
    const ScratchFile* cfg = BERTH_TRY(s.need(config));
    ai.config_json = BERTH_TRY(read_file(cfg->path, 32 << 20));
    ai.config_digest = cfg->digest;
    // Legacy archives name the config "<id>.json": the ID is its digest.
    std::string base = config.substr(config.rfind('/') + 1);
    if (base.size() == 69 && base.substr(64) == ".json") {
      std::string named = std::string(kSha256Prefix) + base.substr(0, 64);
      if (is_sha256_digest(named) && named != cfg->digest)
        return Error::make(Code::kCorrupt, "invalid archive: config {} is corrupt: its content hashes to {}",
                           config, cfg->digest);
    }
    auto layers = item.find("Layers");
    for (const std::string& l : string_list(layers != item.end() ? *layers : json())) ai.layers.push_back(BERTH_TRY(s.need(l)));
    auto tags = item.find("RepoTags");
    for (const std::string& t : string_list(tags != item.end() ? *tags : json()))
      ai.repo_tags.push_back(BERTH_TRY_CTX(parse_tag_reference(t), "invalid archive: tag '{}'", t).familiar_string());
    out.push_back(std::move(ai));
  }
  return out;
}

}  // namespace

// Reads manifest.json (docker-archive) or index.json (OCI layout) into the
// images to load, checking everything that can be checked before anything
// is stored: config digests, blob sizes, diff IDs of uncompressed layers.
static Result<std::vector<ArchiveImage>> plan_load(const ImageStore::LoadScratch& s) {
  std::vector<ArchiveImage> images;
  if (s.find("manifest.json")) {
    images = BERTH_TRY(plan_docker_archive(s, BERTH_TRY(s.read("manifest.json"))));
  } else if (s.find("index.json")) {
    std::string index_text = BERTH_TRY(s.read("index.json"));
    if (!json_depth_ok(index_text)) return Error::invalid("invalid archive: index.json is nested too deeply");
    json idx = json::parse(index_text, nullptr, false);
    if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array())
      return Error::invalid("invalid archive: index.json has no manifests");
    for (const json& desc : idx["manifests"])
      BERTH_TRY_VOID(add_oci_descriptor(s, desc, descriptor_tag(desc), 0, &images));
  } else {
    return Error::invalid("invalid archive: neither manifest.json nor index.json found (not a docker-archive or "
                          "OCI layout tar)");
  }
  for (const ArchiveImage& ai : images) {
    ImageConfigDoc doc = BERTH_TRY_CTX(parse_image_config(ai.config_json), "invalid archive: config {}",
                                       ai.config_digest);
    if (doc.diff_ids.size() != ai.layers.size())
      return Error::invalid("invalid archive: config {} has {} diff IDs for {} layers", ai.config_digest,
                            doc.diff_ids.size(), ai.layers.size());
    for (size_t i = 0; i < ai.layers.size(); i++) {
      unique_fd fd = BERTH_TRY(open_fd(ai.layers[i]->path, O_RDONLY));
      Compression c = sniff_compression(fd.get());
      if (!layer_media_type(c))
        return Error::make(Code::kNotSupported, "layer {} of image {}: only plain, gzip and zstd tar layers are "
                           "supported", ai.layers[i]->digest, ai.config_digest);
      if (c == Compression::kNone && ai.layers[i]->digest != doc.diff_ids[i])
        return Error::make(Code::kCorrupt, "invalid archive: layer {} of image {} is corrupt: its content hashes "
                           "to {}", doc.diff_ids[i], ai.config_digest, ai.layers[i]->digest);
    }
  }
  return images;
}

Result<LoadedImage> ImageStore::load_one(const ArchiveImage& ai, LoadScratch&) {
  ImageConfigDoc doc = BERTH_TRY(parse_image_config(ai.config_json));
  std::vector<std::string> chains = chain_ids(doc.diff_ids);
  Manifest m;
  std::vector<std::string> dirs;
  int64_t size = 0;
  for (size_t i = 0; i < ai.layers.size(); i++) {
    const ScratchFile& f = *ai.layers[i];
    unique_fd fd = BERTH_TRY(open_fd(f.path, O_RDONLY));
    Descriptor d{layer_media_type(sniff_compression(fd.get())), f.digest, f.size};
    if (!blobs_.contains(d.digest)) {
      // Verified (hashed) while extracted, synced, on the same filesystem.
      if (::link(f.path.c_str(), blobs_.path(d.digest).c_str()) < 0 && errno != EEXIST)
        return Error::sys(errno, "store blob {}", d.digest);
    }
    // Unpacking checks the blob digest and the diff ID again.
    if (!path_exists(layer_dir(chains[i]))) BERTH_TRY_VOID(unpack_layer_blob(d, doc.diff_ids[i], chains[i]));
    dirs.push_back(layer_dir(chains[i]));
    size += tree_file_bytes(dirs.back());
    m.layers.push_back(d);
  }
  std::string id = BERTH_TRY(blobs_.put(ai.config_json));
  m.config = {std::string(kMediaTypeConfig), id, static_cast<int64_t>(ai.config_json.size())};
  std::string manifest_json = make_manifest(m);
  std::string manifest_digest = BERTH_TRY(blobs_.put(manifest_json));
  Entry e;
  e.manifest_digest = manifest_digest;
  e.manifest_size = static_cast<int64_t>(manifest_json.size());
  e.image = std::make_shared<const Image>(make_image(id, manifest_digest, size, doc, ai.config_json, std::move(dirs)));
  BERTH_TRY_VOID(commit([&](Index& ix) -> Result<void> {
    ix.images[id] = e;
    ix.unloaded.erase(id);
    for (const std::string& t : ai.repo_tags) ix.set_tag(t, id);
    return ok();
  }));
  return LoadedImage{id, ai.repo_tags};
}

Result<std::vector<LoadedImage>> ImageStore::load_archive(const std::string& tar_path) {
  Result<std::vector<LoadedImage>> result = std::vector<LoadedImage>();
  {
    std::shared_lock gc(gc_mu_);  // no sweep while our blobs are unpublished
    LoadScratch scratch(dir_ + "/" + std::string(layout::kLayersDir) + "/" + std::string(layout::kLayerTempPrefix) +
                        "load-" + random_id().substr(0, 16));
    auto run = [&]() -> Result<std::vector<LoadedImage>> {
      BERTH_TRY_VOID(scratch.extract(tar_path));
      std::vector<ArchiveImage> images = BERTH_TRY(plan_load(scratch));
      std::vector<LoadedImage> loaded;
      for (const ArchiveImage& ai : images) loaded.push_back(BERTH_TRY(load_one(ai, scratch)));
      return loaded;
    };
    result = run();
  }
  // A layer that failed its diff ID check after earlier ones were stored:
  // take back whatever no image references.
  if (!result) (void)collect_garbage();
  return result;
}

}  // namespace berth::fs
