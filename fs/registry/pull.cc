#include "fs/registry/pull.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "fs/digest.h"
#include "fs/registry/http.h"
#include "fs/registry/manifest.h"
#include "fs/registry/platform.h"
#include "fs/registry/session.h"

namespace berth::fs::registry {

namespace {

constexpr size_t kManifestBytesMax = 4 << 20;
constexpr size_t kConfigBytesMax = 32 << 20;

struct Layer {
  Descriptor desc;
  std::string diff_id, chain, short_id;
  bool fetch = false;   // download the blob
  bool unpack = false;  // unpack into its chain dir
};

// One blob being downloaded: its temp file (resumable) and retry count.
struct Download {
  size_t layer = 0;
  std::optional<BlobWriter> writer;
  int attempts = 0;
  int64_t reported = 0;
  bool restart_body = false;  // the answer is a 200 to a Range request
};

class Puller {
 public:
  Puller(ImageStore& store, BlobSources* sources, const PullOptions& opts, const ProgressFn& progress,
         const std::atomic<bool>* cancel)
      : store_(store), sources_(sources), opts_(opts), progress_(progress), cancel_(cancel) {}
  ~Puller() {
    stop_ = true;
    if (downloader_.joinable()) downloader_.join();
  }

  Result<PullResult> run();

 private:
  // Resolution: manifest, platform, config.
  Result<FetchedManifest> fetch_manifest(const std::string& ref, const std::string& want_digest, int64_t want_size);
  Result<FetchedManifest> fetch_top_manifest(const std::string& ref);
  Result<std::string> fetch_config(const Descriptor& d);
  Result<void> check_platform(const ImageConfigDoc& doc) const;
  Error manifest_error(const HttpResponse& r, const std::string& url) const;
  // Layers.
  void plan_layers(const Manifest& m, const ImageConfigDoc& doc, const ImageStore::Ingest& ingest);
  Result<PullResult> pull_layers(ImageStore::Ingest& ingest, const FetchedManifest& man, const std::string& config_json,
                                 const ImageConfigDoc& doc);
  void download_all();
  void start(TransferSet& set, Download& d);
  void finished(TransferSet& set, Download& d, Result<HttpResponse> r);
  void retry(TransferSet& set, Download& d, Error why);
  void fail(Error e);
  Result<void> unpack_all(ImageStore::Ingest& ingest);
  void unpack_worker(ImageStore::Ingest& ingest);
  Result<void> unpack_one(ImageStore::Ingest& ingest, const Layer& l);
  Result<PullResult> publish(ImageStore::Ingest& ingest, const std::string& manifest_json, const std::string& config_json);
  void emit(const std::string& id, const std::string& status, int64_t current = -1, int64_t total = 0);
  std::string blob_url(const std::string& digest) const {
    return session_->url("/v2/" + remote_.repository + "/blobs/" + digest);
  }
  bool cancelled() const { return stop_.load() || (cancel_ && cancel_->load()); }

  ImageStore& store_;
  BlobSources* sources_;
  const PullOptions& opts_;
  const ProgressFn& progress_;
  const std::atomic<bool>* cancel_;
  std::atomic<bool> stop_{false};
  std::mutex progress_mu_;

  Remote remote_;
  std::unique_ptr<Session> session_;
  std::vector<std::string> scopes_;
  std::optional<Platform> wanted_platform_;
  std::string resolved_digest_;
  std::vector<Layer> layers_;
  std::vector<Download> downloads_;
  std::thread downloader_;
  PullResult result_;

  std::mutex mu_;  // guards the rest, shared by both threads
  std::condition_variable cv_;
  std::map<std::string, bool> blob_ready_;  // digest -> committed
  std::vector<size_t> pending_;             // layers not yet taken by an unpacker
  std::optional<Error> error_;
};

void Puller::emit(const std::string& id, const std::string& status, int64_t current, int64_t total) {
  if (!progress_) return;
  ProgressEvent e;
  e.id = id;
  e.status = status;
  if (current >= 0) {
    e.has_detail = true;
    e.current = current;
    e.total = total;
  }
  std::lock_guard lock(progress_mu_);
  progress_(e);
}

Error Puller::manifest_error(const HttpResponse& r, const std::string& url) const {
  std::string text = registry_error_text(r);
  if (r.status == 401 || r.status == 403) {
    return Error(Code::kInvalidArgument, fmt::format("Get \"{}\": {}", url, text), kUnauthorizedErrno);
  }
  std::string ref = remote_.ref.familiar_name() + (remote_.digest.empty() ? ":" + remote_.tag : "@" + remote_.digest);
  if (r.status == 404) return Error::not_found("manifest for {} not found: {}", ref, text);
  return Error::make(Code::kSystem, "Get \"{}\": {}", url, text);
}

Result<FetchedManifest> Puller::fetch_manifest(const std::string& ref, const std::string& want_digest,
                                               int64_t want_size) {
  HttpRequest req;
  req.url = session_->url("/v2/" + remote_.repository + "/manifests/" + ref);
  req.headers.push_back(manifest_accept_header());
  req.max_body_bytes = kManifestBytesMax;
  HttpResponse r = BERTH_TRY(session_->send(req, scopes_));
  if (r.status != 200) return manifest_error(r, req.url);
  std::string served = r.header("docker-content-digest");
  FetchedManifest f = BERTH_TRY_CTX(parse_fetched_manifest(std::move(r.body), r.header("content-type")),
                                    "manifest {}", ref);
  if (!want_digest.empty() && f.digest != want_digest)
    return Error::make(Code::kCorrupt, "digest mismatch for manifest {}: its content hashes to {}", want_digest,
                       f.digest);
  if (want_size > 0 && static_cast<int64_t>(f.body.size()) != want_size)
    return Error::make(Code::kCorrupt, "manifest {} has {} bytes, its descriptor says {}", want_digest, f.body.size(),
                       want_size);
  if (want_digest.empty() && is_sha256_digest(served) && served != f.digest)
    return Error::make(Code::kCorrupt, "digest mismatch for manifest {}: its content hashes to {}", served, f.digest);
  return f;
}

// The manifest the reference names; a mirror that cannot give it hands
// over to the next endpoint (the next mirror, then Docker Hub itself).
Result<FetchedManifest> Puller::fetch_top_manifest(const std::string& ref) {
  for (;;) {
    auto top = fetch_manifest(ref, remote_.digest, 0);
    if (top || top.error().code() == Code::kCancelled || !session_->endpoint().mirror ||
        !session_->has_next_endpoint())
      return top;
    log::debug("registry", "mirror {}: {}; trying the next endpoint", session_->endpoint().url, top.error().message());
    BERTH_TRY_VOID(session_->connect(session_->next_endpoint()));
  }
}

Result<std::string> Puller::fetch_config(const Descriptor& d) {
  if (store_.blobs().contains(d.digest)) {
    if (auto cached = store_.blobs().read(d.digest, kConfigBytesMax)) return std::move(*cached);
  }
  HttpRequest req;
  req.url = blob_url(d.digest);
  req.follow_redirects = true;
  req.max_body_bytes = kConfigBytesMax;
  HttpResponse r = BERTH_TRY(session_->send(req, scopes_));
  if (r.status != 200) return Error::make(Code::kSystem, "Get \"{}\": {}", req.url, registry_error_text(r));
  if (std::string got = sha256_digest(r.body); got != d.digest)
    return Error::make(Code::kCorrupt, "digest mismatch for config {}: its content hashes to {}", d.digest, got);
  return std::move(r.body);
}

Result<void> Puller::check_platform(const ImageConfigDoc& doc) const {
  if (!wanted_platform_) return ok();
  Platform have = normalize_platform(Platform{doc.os, doc.architecture, ""});
  if (have.os != wanted_platform_->os || have.architecture != wanted_platform_->architecture)
    return Error::not_found("image with reference {} was found but does not match the specified platform: wanted {}, "
                            "actual: {}", remote_.ref.familiar_string(), wanted_platform_->string(), have.string());
  return ok();
}

void Puller::plan_layers(const Manifest& m, const ImageConfigDoc& doc, const ImageStore::Ingest& ingest) {
  std::vector<std::string> chains = chain_ids(doc.diff_ids);
  std::map<std::string, bool> queued;
  for (size_t i = 0; i < m.layers.size(); i++) {
    Layer l{m.layers[i], doc.diff_ids[i], chains[i], short_id(m.layers[i].digest)};
    bool have_blob = store_.blobs().contains(l.desc.digest);
    bool have_dir = ingest.has_layer(l.chain);
    l.unpack = !have_dir;
    l.fetch = !have_blob && !queued[l.desc.digest];
    queued[l.desc.digest] = true;
    if (have_blob) blob_ready_[l.desc.digest] = true;
    layers_.push_back(l);
    if (have_blob && have_dir) emit(l.short_id, "Already exists");
    else emit(l.short_id, "Pulling fs layer");
  }
  for (size_t i = 0; i < layers_.size(); i++)
    if (layers_[i].fetch) downloads_.push_back(Download{i, std::nullopt, 0, 0, false});
  for (size_t k = opts_.parallel_downloads; k < downloads_.size(); k++) emit(layers_[downloads_[k].layer].short_id, "Waiting");
}

// ---------------------------------------------------------------- downloads (the download thread)

void Puller::fail(Error e) {
  std::lock_guard lock(mu_);
  if (!error_) error_ = std::move(e);
  stop_ = true;
  cv_.notify_all();
}

void Puller::download_all() {
  TransferSet set(session_->http_options());
  for (Download& d : downloads_) start(set, d);
  if (auto r = set.run(opts_.parallel_downloads); !r) fail(std::move(r.error()));
}

void Puller::start(TransferSet& set, Download& d) {
  Layer& l = layers_[d.layer];
  if (!d.writer) {
    auto w = store_.blobs().begin_write();
    if (!w) return fail(std::move(w.error()).context("download layer {}", l.desc.digest));
    d.writer.emplace(std::move(*w));
  }
  auto auth = session_->authorization(scopes_);
  if (!auth) return fail(std::move(auth.error()));
  HttpRequest req;
  req.url = blob_url(l.desc.digest);
  req.follow_redirects = true;
  req.tls = session_->tls();
  if (!auth->empty()) req.headers.push_back(*auth);
  int64_t have = d.writer->size_bytes();
  if (have > 0) req.headers.push_back(fmt::format("Range: bytes={}-", have));
  req.on_body_start = [this, &d, have](long status) -> Result<void> {
    if (have == 0) return ok();
    if (status == 200) return d.writer->restart();  // the server ignored Range: start over
    std::lock_guard lock(mu_);
    result_.resumed_bytes += have;
    return ok();
  };
  req.sink = [this, &d, &l](std::string_view data) -> Result<void> {
    BERTH_TRY_VOID(d.writer->write(data));
    int64_t n = d.writer->size_bytes();
    if (n > l.desc.size)
      return Error::make(Code::kCorrupt, "digest mismatch for layer {}: more than the {} bytes the manifest gives",
                         l.desc.digest, l.desc.size);
    if (n - d.reported >= kProgressStepBytes || n == l.desc.size) {
      d.reported = n;
      emit(l.short_id, "Downloading", n, l.desc.size);
    }
    return ok();
  };
  set.add(std::move(req), [this, &set, &d](Result<HttpResponse> r) { finished(set, d, std::move(r)); });
}

void Puller::retry(TransferSet& set, Download& d, Error why) {
  d.attempts++;
  {
    std::lock_guard lock(mu_);
    result_.retries++;
  }
  if (d.attempts > session_->retries())
    return fail(std::move(why).context("download layer {} ({} attempts)", layers_[d.layer].desc.digest, d.attempts));
  if (!session_->backoff(d.attempts - 1)) return fail(Error(Code::kCancelled, "pull cancelled", ECANCELED));
  start(set, d);
}

void Puller::finished(TransferSet& set, Download& d, Result<HttpResponse> r) {
  const Layer& l = layers_[d.layer];
  if (!r) {
    if (is_transient_transport(r.error())) return retry(set, d, std::move(r.error()));
    if (r.error().code() == Code::kSystem && r.error().sys_errno() == ENOSPC) d.writer.reset();
    return fail(std::move(r.error()));
  }
  std::string url = blob_url(l.desc.digest);
  if (r->status == 401) {
    session_->note_unauthorized(*r);
    return retry(set, d, Error(Code::kInvalidArgument, fmt::format("Get \"{}\": {}", url, registry_error_text(*r)),
                               kUnauthorizedErrno));
  }
  if (r->status == 416) {  // our partial file is not a prefix the server agrees with
    if (auto t = d.writer->restart(); !t) return fail(std::move(t.error()));
    return retry(set, d, Error::make(Code::kSystem, "Get \"{}\": range not satisfiable", url));
  }
  if (r->status >= 500 || r->status == 429)
    return retry(set, d, Error::make(Code::kSystem, "Get \"{}\": {}", url, registry_error_text(*r)));
  if (r->status != 200 && r->status != 206)
    return fail(Error::make(r->status == 404 ? Code::kNotFound : Code::kSystem, "Get \"{}\": {}", url,
                            registry_error_text(*r)));
  if (d.writer->size_bytes() < l.desc.size)
    return retry(set, d, Error(Code::kSystem, fmt::format("Get \"{}\": unexpected EOF", url), ECONNRESET));
  emit(l.short_id, "Verifying Checksum");
  auto committed = d.writer->commit(l.desc.digest);
  d.writer.reset();  // a failed commit's temp file goes with it
  if (!committed) {
    if (committed.error().code() == Code::kCorrupt)
      return fail(Error::make(Code::kCorrupt, "digest mismatch for layer {}: {}", l.desc.digest,
                              committed.error().message()));
    return fail(std::move(committed.error()));
  }
  emit(l.short_id, "Download complete");
  log::debug("registry", "downloaded layer {} ({} bytes)", l.desc.digest, l.desc.size);
  std::lock_guard lock(mu_);
  blob_ready_[l.desc.digest] = true;
  result_.downloaded_bytes += l.desc.size;
  cv_.notify_all();
}

// ---------------------------------------------------------------- unpacking (the calling thread)

Result<void> Puller::unpack_one(ImageStore::Ingest& ingest, const Layer& l) {
  if (l.unpack) {
    int64_t done = 0, reported = 0;
    auto tee = [&](std::string_view data) -> Result<void> {
      if (cancelled()) return Error(Code::kCancelled, "pull cancelled", ECANCELED);
      done += static_cast<int64_t>(data.size());
      if (done - reported >= kProgressStepBytes || done == l.desc.size) {
        reported = done;
        emit(l.short_id, "Extracting", done, l.desc.size);
      }
      return ok();
    };
    log::debug("registry", "unpacking layer {}", l.desc.digest);
    BERTH_TRY_VOID(ingest.unpack_layer(l.desc, l.diff_id, l.chain, tee));
    log::debug("registry", "unpacked layer {}", l.desc.digest);
  }
  emit(l.short_id, "Pull complete");
  return ok();
}

// Takes the lowest pending layer whose blob is in, until none is left or
// the pull failed.
void Puller::unpack_worker(ImageStore::Ingest& ingest) {
  for (;;) {
    size_t i = 0;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (error_ || pending_.empty()) return;
        auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](size_t k) { return blob_ready_[layers_[k].desc.digest]; });
        if (it != pending_.end()) {
          i = *it;
          pending_.erase(it);
          break;
        }
        if (cancel_ && cancel_->load()) {
          error_ = Error(Code::kCancelled, "pull cancelled", ECANCELED);
          stop_ = true;
          cv_.notify_all();
          return;
        }
        cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
    }
    if (auto r = unpack_one(ingest, layers_[i]); !r) return fail(std::move(r.error()));  // the first cause wins
  }
}

Result<void> Puller::unpack_all(ImageStore::Ingest& ingest) {
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < layers_.size(); i++)
      if (layers_[i].fetch || layers_[i].unpack) pending_.push_back(i);
  }
  std::vector<std::thread> extra;
  for (size_t k = 1; k < opts_.parallel_unpacks && k < pending_.size(); k++)
    extra.emplace_back([this, &ingest] { unpack_worker(ingest); });
  unpack_worker(ingest);
  for (std::thread& t : extra) t.join();
  std::lock_guard lock(mu_);
  if (error_) return *error_;
  return ok();
}

// ---------------------------------------------------------------- the whole pull

Result<PullResult> Puller::pull_layers(ImageStore::Ingest& ingest, const FetchedManifest& man,
                                       const std::string& config_json, const ImageConfigDoc& doc) {
  plan_layers(man.manifest, doc, ingest);
  if (!downloads_.empty()) downloader_ = std::thread([this] { download_all(); });
  Result<void> unpacked = unpack_all(ingest);
  if (!unpacked) fail(unpacked.error());
  if (downloader_.joinable()) downloader_.join();
  downloads_.clear();  // temp files of unfinished downloads go now
  if (error_) return *error_;
  return publish(ingest, man.body, config_json);
}

Result<PullResult> Puller::publish(ImageStore::Ingest& ingest, const std::string& manifest_json,
                                   const std::string& config_json) {
  PulledImage p;
  p.config_json = config_json;
  p.manifest_json = manifest_json;
  p.repo_tag = result_.repo_tag;
  p.repo_digest = remote_.ref.familiar_name() + "@" + resolved_digest_;
  log::debug("registry", "pull {}: layers in, publishing", opts_.reference);
  Image img = BERTH_TRY(store_.add_pulled(ingest, p));
  log::debug("registry", "pull {}: published {}", opts_.reference, img.id);
  if (sources_) {
    std::vector<std::string> digests;
    for (const Layer& l : layers_) digests.push_back(l.desc.digest);
    if (auto r = sources_->add(digests, remote_.registry, remote_.repository); !r)
      log::warn("registry", "record blob sources: {}", r.error().message());
  }
  result_.image_id = img.id;
  emit("", "Digest: " + resolved_digest_);
  emit("", "Status: Downloaded newer image for " + remote_.ref.familiar_string());
  return result_;
}

Result<PullResult> Puller::run() {
  log::debug("registry", "pull {}", opts_.reference);
  remote_ = BERTH_TRY(resolve_remote(opts_.reference, opts_.registry));
  if (!opts_.platform.empty()) wanted_platform_ = BERTH_TRY(parse_platform(opts_.platform));
  scopes_ = {"repository:" + remote_.repository + ":pull"};
  session_ = std::make_unique<Session>(remote_.endpoints, opts_.credentials, opts_.registry, cancel_, &stop_);
  BERTH_TRY_VOID(session_->connect());
  std::string ref = remote_.digest.empty() ? remote_.tag : remote_.digest;
  emit(ref, "Pulling from " + remote_.repository);
  FetchedManifest top = BERTH_TRY(fetch_top_manifest(ref));
  resolved_digest_ = top.digest;
  FetchedManifest man = top;
  if (top.is_index) {
    Platform want = wanted_platform_ ? *wanted_platform_ : host_platform();
    size_t i = BERTH_TRY(select_manifest(top.entries, want));
    man = BERTH_TRY(fetch_manifest(top.entries[i].digest, top.entries[i].digest, top.entries[i].size));
    if (man.is_index) return Error::make(Code::kNotSupported, "manifest {} is an index inside an index", man.digest);
  }
  for (const Descriptor& l : man.manifest.layers)
    if (!is_supported_layer(l.media_type))
      return Error::make(Code::kNotSupported, "layer {} has media type {}, which berth cannot unpack", l.digest,
                         l.media_type);
  std::string config_json = BERTH_TRY(fetch_config(man.manifest.config));
  ImageConfigDoc doc = BERTH_TRY_CTX(parse_image_config(config_json), "image config {}", man.manifest.config.digest);
  if (doc.diff_ids.size() != man.manifest.layers.size())
    return Error::make(Code::kCorrupt, "image config {} has {} diff IDs for {} layers", man.manifest.config.digest,
                       doc.diff_ids.size(), man.manifest.layers.size());
  if (!top.is_index) BERTH_TRY_VOID(check_platform(doc));
  result_.digest = resolved_digest_;
  if (remote_.digest.empty()) result_.repo_tag = remote_.ref.familiar_name() + ":" + remote_.tag;

  std::string key = !result_.repo_tag.empty() ? result_.repo_tag : remote_.ref.familiar_name() + "@" + resolved_digest_;
  if (auto existing = store_.resolve(key); existing && existing->id == man.manifest.config.digest) {
    BERTH_TRY_VOID(store_.add_repo_digest(existing->id, remote_.ref.familiar_name() + "@" + resolved_digest_));
    result_.image_id = existing->id;
    result_.up_to_date = true;
    emit("", "Digest: " + resolved_digest_);
    emit("", "Status: Image is up to date for " + remote_.ref.familiar_string());
    return result_;
  }
  log::debug("registry", "pull {}: manifest {} and config read", opts_.reference, man.digest);
  ImageStore::Ingest ingest(store_);  // from here on, a failure takes back what this pull stored
  return pull_layers(ingest, man, config_json, doc);
}

}  // namespace

Result<PullResult> pull(ImageStore& store, BlobSources* sources, const PullOptions& opts, const ProgressFn& progress,
                        const std::atomic<bool>* cancel) {
  if (opts.parallel_downloads == 0 || opts.parallel_unpacks == 0)
    return Error::invalid("pull: parallel_downloads and parallel_unpacks must be at least 1");
  Puller p(store, sources, opts, progress, cancel);
  return p.run();
}

}  // namespace berth::fs::registry
