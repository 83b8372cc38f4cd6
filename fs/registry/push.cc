#include "fs/registry/push.h"

#include <fcntl.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "fs/digest.h"
#include "fs/registry/http.h"
#include "fs/registry/manifest.h"
#include "fs/registry/session.h"

namespace berth::fs::registry {

namespace {

std::string escape_digest(const std::string& d) {
  std::string out;
  for (char c : d) out += c == ':' ? std::string("%3A") : std::string(1, c);
  return out;
}

enum class BlobOutcome { kPushed, kExisted, kMounted };

class Pusher {
 public:
  Pusher(ImageStore& store, BlobSources* sources, const PushOptions& opts, const ProgressFn& progress,
         const std::atomic<bool>* cancel)
      : store_(store), sources_(sources), opts_(opts), progress_(progress), cancel_(cancel) {}

  Result<PushResult> run();

 private:
  Result<BlobOutcome> push_blob(const Descriptor& d, const std::string& id);
  Result<std::string> start_upload(const Descriptor& d, const std::string& id, bool* mounted);
  Result<void> upload(const Descriptor& d, const std::string& id, std::string location);
  Result<HttpResponse> send_piece(const std::string& method, const std::string& url, int fd, int64_t off, int64_t len,
                                  const std::string& id, int64_t base, int64_t total);
  Result<void> check_digest(const HttpResponse& r, const std::string& digest, const std::string& what) const;
  std::string absolute(const std::string& location) const {
    return starts_with(location, "/") ? session_->url(location) : location;
  }
  Error http_error(const std::string& method, const std::string& url, const HttpResponse& r) const {
    std::string text = registry_error_text(r);
    if (r.status == 401 || r.status == 403)
      return Error(Code::kInvalidArgument, fmt::format("{} \"{}\": {}", go_method(method), url, text), kUnauthorizedErrno);
    return Error::make(Code::kSystem, "{} \"{}\": {}", go_method(method), url, text);
  }
  void emit(const std::string& id, const std::string& status, int64_t current = -1, int64_t total = 0) {
    if (!progress_) return;
    ProgressEvent e;
    e.id = id;
    e.status = status;
    if (current >= 0) {
      e.has_detail = true;
      e.current = current;
      e.total = total;
    }
    progress_(e);
  }

  ImageStore& store_;
  BlobSources* sources_;
  const PushOptions& opts_;
  const ProgressFn& progress_;
  const std::atomic<bool>* cancel_;
  Remote remote_;
  std::unique_ptr<Session> session_;
  std::vector<std::string> scopes_;
  std::string mounted_from_;
};

Result<void> Pusher::check_digest(const HttpResponse& r, const std::string& digest, const std::string& what) const {
  std::string got = r.header("docker-content-digest");
  if (!got.empty() && got != digest)
    return Error::make(Code::kCorrupt, "push {}: the registry stored digest {}, berth sent {}", what, got, digest);
  return ok();
}

Result<HttpResponse> Pusher::send_piece(const std::string& method, const std::string& url, int fd, int64_t off,
                                        int64_t len, const std::string& id, int64_t base, int64_t total) {
  HttpRequest req;
  req.method = method;
  req.url = url;
  req.upload_fd = fd;
  req.upload_offset = off;
  req.upload_length = len;
  req.headers.push_back("Content-Type: application/octet-stream");
  if (method == "PATCH" && len > 0)
    req.headers.push_back(fmt::format("Content-Range: {}-{}", off, off + len - 1));
  int64_t reported = 0;
  if (!id.empty())
    req.progress = [&, base, total](int64_t, int64_t, int64_t up, int64_t) {
      if (up - reported >= kProgressStepBytes || (up == len && up != reported)) {
        reported = up;
        emit(id, "Pushing", base + up, total);
      }
    };
  return session_->send(req, scopes_);
}

Result<std::string> Pusher::start_upload(const Descriptor& d, const std::string& id, bool* mounted) {
  std::string base = session_->url("/v2/" + remote_.repository + "/blobs/uploads/");
  if (sources_) {
    for (const std::string& from : sources_->repositories(d.digest, remote_.registry)) {
      if (from == remote_.repository) continue;
      HttpRequest req;
      req.method = "POST";
      req.url = base + "?mount=" + escape_digest(d.digest) + "&from=" + from;
      std::vector<std::string> scopes = scopes_;
      scopes.push_back("repository:" + from + ":pull");
      HttpResponse r = BERTH_TRY(session_->send(req, scopes));
      if (r.status == 201) {
        BERTH_TRY_VOID(check_digest(r, d.digest, d.digest));
        *mounted = true;
        mounted_from_ = from;
        return std::string();
      }
      if (r.status == 202 && !r.header("location").empty()) return absolute(r.header("location"));
    }
  }
  (void)id;
  HttpRequest req;
  req.method = "POST";
  req.url = base;
  HttpResponse r = BERTH_TRY(session_->send(req, scopes_));
  if (r.status != 202 || r.header("location").empty()) return http_error("POST", req.url, r);
  return absolute(r.header("location"));
}

Result<void> Pusher::upload(const Descriptor& d, const std::string& id, std::string location) {
  unique_fd fd = BERTH_TRY(open_fd(store_.blobs().path(d.digest), O_RDONLY));
  auto with_digest = [&](const std::string& loc) {
    return loc + (loc.find('?') == std::string::npos ? "?" : "&") + "digest=" + escape_digest(d.digest);
  };
  HttpResponse r;
  if (d.size <= opts_.chunk_bytes) {
    r = BERTH_TRY(send_piece("PUT", with_digest(location), fd.get(), 0, d.size, id, 0, d.size));
  } else {
    for (int64_t off = 0; off < d.size;) {
      int64_t len = std::min(opts_.chunk_bytes, d.size - off);
      HttpResponse p = BERTH_TRY(send_piece("PATCH", location, fd.get(), off, len, id, off, d.size));
      if (p.status != 202) return http_error("PATCH", location, p);
      if (!p.header("location").empty()) location = absolute(p.header("location"));
      off += len;
    }
    r = BERTH_TRY(send_piece("PUT", with_digest(location), fd.get(), 0, 0, "", 0, 0));
  }
  if (r.status != 201) return http_error("PUT", location, r);
  return check_digest(r, d.digest, d.digest);
}

Result<BlobOutcome> Pusher::push_blob(const Descriptor& d, const std::string& id) {
  HttpRequest head;
  head.method = "HEAD";
  head.url = session_->url("/v2/" + remote_.repository + "/blobs/" + d.digest);
  head.follow_redirects = true;
  HttpResponse h = BERTH_TRY(session_->send(head, scopes_));
  if (h.status == 200) return BlobOutcome::kExisted;
  if (h.status != 404) return http_error("HEAD", head.url, h);
  bool mounted = false;
  std::string location = BERTH_TRY(start_upload(d, id, &mounted));
  if (mounted) return BlobOutcome::kMounted;
  BERTH_TRY_VOID(upload(d, id, std::move(location)));
  return BlobOutcome::kPushed;
}

Result<PushResult> Pusher::run() {
  Reference ref = BERTH_TRY(parse_reference(opts_.reference));
  if (!ref.digest.empty()) return Error::invalid("cannot push a digest reference");
  std::string familiar = ref.familiar_string();
  auto img = store_.resolve(familiar);
  if (!img) return Error::not_found("An image does not exist locally with the tag: {}", ref.familiar_name());
  remote_ = BERTH_TRY(resolve_remote(ref, opts_.registry));
  std::string manifest_json = BERTH_TRY(store_.manifest_json_of(img->id));
  Manifest m = BERTH_TRY(parse_manifest(manifest_json));
  scopes_ = {"repository:" + remote_.repository + ":pull,push"};
  session_ = std::make_unique<Session>(remote_.endpoints, opts_.credentials, opts_.registry, cancel_);
  emit("", "The push refers to repository [" + ref.name() + "]");
  BERTH_TRY_VOID(session_->connect());

  PushResult out;
  out.tag = ref.tag;
  for (const Descriptor& l : m.layers) emit(short_id(l.digest), "Preparing");
  for (size_t i = 1; i < m.layers.size(); i++) emit(short_id(m.layers[i].digest), "Waiting");
  for (const Descriptor& l : m.layers) {
    std::string id = short_id(l.digest);
    BlobOutcome o = BERTH_TRY_CTX(push_blob(l, id), "push layer {}", l.digest);
    if (o == BlobOutcome::kExisted) {
      out.layers_existing++;
      emit(id, "Layer already exists");
    } else if (o == BlobOutcome::kMounted) {
      out.layers_mounted++;
      emit(id, "Mounted from " + mounted_from_);
    } else {
      out.layers_pushed++;
      emit(id, "Pushed");
    }
  }
  BERTH_TRY_CTX(push_blob(m.config, ""), "push config {}", m.config.digest);

  HttpRequest put;
  put.method = "PUT";
  put.url = session_->url("/v2/" + remote_.repository + "/manifests/" + ref.tag);
  put.body = manifest_json;
  put.headers.push_back("Content-Type: " + manifest_media_type(manifest_json));
  HttpResponse r = BERTH_TRY(session_->send(put, scopes_));
  if (r.status != 201) return http_error("PUT", put.url, r);
  out.digest = sha256_digest(manifest_json);
  out.size = static_cast<int64_t>(manifest_json.size());
  BERTH_TRY_VOID(check_digest(r, out.digest, "manifest"));

  BERTH_TRY_VOID(store_.add_repo_digest(img->id, ref.familiar_name() + "@" + out.digest));
  if (sources_) {
    std::vector<std::string> digests;
    for (const Descriptor& l : m.layers) digests.push_back(l.digest);
    if (auto s = sources_->add(digests, remote_.registry, remote_.repository); !s)
      log::warn("registry", "record blob sources: {}", s.error().message());
  }
  ProgressEvent done;
  done.status = fmt::format("{}: digest: {} size: {}", ref.tag, out.digest, out.size);
  done.aux_tag = ref.tag;
  done.aux_digest = out.digest;
  done.aux_size = out.size;
  if (progress_) progress_(done);
  return out;
}

}  // namespace

Result<PushResult> push(ImageStore& store, BlobSources* sources, const PushOptions& opts, const ProgressFn& progress,
                        const std::atomic<bool>* cancel) {
  if (opts.chunk_bytes <= 0) return Error::invalid("push: chunk_bytes must be positive");
  Pusher p(store, sources, opts, progress, cancel);
  return p.run();
}

}  // namespace berth::fs::registry
