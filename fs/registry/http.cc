#include "fs/registry/http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cctype>
#include <mutex>
#include <optional>

#include "core/base/strings.h"

namespace berth::fs::registry {

namespace {

constexpr const char* kSystemCaPath = "/etc/ssl/certs";

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int errno_for(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT: return ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT: return ETIMEDOUT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return ECONNRESET;
    case CURLE_SSL_CONNECT_ERROR: return EPROTO;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: return EKEYREJECTED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return EHOSTUNREACH;
    case CURLE_ABORTED_BY_CALLBACK: return ECANCELED;
    default: return EIO;
  }
}

}  // namespace

// One request in flight: owns its copy of the request, the response being
// built and curl's header list. Lives at a stable address (unique_ptr)
// because curl holds pointers to it.
struct TransferSet::Call {
  HttpRequest req;
  Done done;
  const HttpOptions* opts = nullptr;
  HttpResponse resp;
  std::optional<Error> sink_error;
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_slist* headers = nullptr;
  size_t body_sent = 0;
  CURL* easy = nullptr;
  bool owns_easy = false;
  bool body_started = false;

  ~Call() {
    curl_slist_free_all(headers);
    if (owns_easy && easy) curl_easy_cleanup(easy);
  }
};

using Call = TransferSet::Call;

namespace {

size_t on_header(char* buf, size_t size, size_t n, void* ud) {
  auto* c = static_cast<Call*>(ud);
  std::string_view line = trim(std::string_view(buf, size * n));
  if (starts_with(line, "HTTP/")) {  // a new response (redirect, 100 Continue): start over
    c->resp.headers.clear();
    std::vector<std::string> parts = split(line, ' ');
    c->resp.status = parts.size() > 1 ? parse_int(parts[1]).value_or(0) : 0;
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    c->resp.headers.emplace_back(ascii_lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  return size * n;
}

size_t on_write(char* buf, size_t size, size_t n, void* ud) {
  auto* c = static_cast<Call*>(ud);
  size_t len = size * n;
  if (c->req.sink && c->resp.status >= 200 && c->resp.status < 300) {
    if (!c->body_started && c->req.on_body_start) {
      if (auto r = c->req.on_body_start(c->resp.status); !r) {
        c->sink_error = std::move(r.error());
        return 0;
      }
    }
    c->body_started = true;
    if (auto r = c->req.sink(std::string_view(buf, len)); !r) {
      c->sink_error = std::move(r.error());
      return 0;  // CURLE_WRITE_ERROR
    }
    return len;
  }
  size_t room = c->req.max_body_bytes > c->resp.body.size() ? c->req.max_body_bytes - c->resp.body.size() : 0;
  c->resp.body.append(buf, std::min(room, len));
  return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* ud) {
  auto* c = static_cast<Call*>(ud);
  size_t want = size * n;
  if (c->req.upload_fd < 0) {
    size_t k = std::min(want, c->req.body.size() - c->body_sent);
    std::copy_n(c->req.body.data() + c->body_sent, k, buf);
    c->body_sent += k;
    return k;
  }
  int64_t left = c->req.upload_length - static_cast<int64_t>(c->body_sent);
  if (left <= 0) return 0;
  ssize_t got;
  do got = ::pread(c->req.upload_fd, buf, std::min<int64_t>(static_cast<int64_t>(want), left),
                   c->req.upload_offset + static_cast<int64_t>(c->body_sent));
  while (got < 0 && errno == EINTR);
  if (got <= 0) {
    c->sink_error = got < 0 ? Error::sys(errno, "read upload") : Error::make(Code::kCorrupt, "upload source shrank");
    return CURL_READFUNC_ABORT;
  }
  c->body_sent += static_cast<size_t>(got);
  return static_cast<size_t>(got);
}

int on_progress(void* ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  auto* c = static_cast<Call*>(ud);
  if (c->opts->cancelled()) return 1;
  if (c->req.progress) c->req.progress(dlnow, dltotal, ulnow, ultotal);
  return 0;
}

void set_tls(CURL* e, const TlsConfig& tls) {
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
  if (!tls.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    curl_easy_setopt(e, CURLOPT_CAPATH, kSystemCaPath);  // the system's CAs as well
  }
  if (!tls.client_cert_path.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, tls.client_cert_path.c_str());
    curl_easy_setopt(e, CURLOPT_SSLKEY, tls.client_key_path.c_str());
  }
}

void set_method(CURL* e, Call& c) {
  const HttpRequest& r = c.req;
  int64_t length = r.upload_fd >= 0 ? r.upload_length : static_cast<int64_t>(r.body.size());
  if (r.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (r.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(length));
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &c);
  } else if (r.method == "PUT" || r.method == "PATCH") {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(length));
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &c);
    if (r.method == "PATCH") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PATCH");
  } else if (r.method != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
}

void setup(CURL* e, Call& c, const HttpOptions& o) {
  c.opts = &o;
  c.easy = e;
  curl_easy_setopt(e, CURLOPT_URL, c.req.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c.errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &c);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &c);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &c);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &c);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, o.low_speed_bytes);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, o.low_speed_time_s);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, c.req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "berth/0.1");
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L << 10);
  set_tls(e, c.req.tls);
  set_method(e, c);
  for (const std::string& h : c.req.headers) c.headers = curl_slist_append(c.headers, h.c_str());
  c.headers = curl_slist_append(c.headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c.headers);
}

Result<HttpResponse> finish(Call& c, CURLcode rc) {
  if (rc == CURLE_OK) {
    char* url = nullptr;
    curl_easy_getinfo(c.easy, CURLINFO_EFFECTIVE_URL, &url);
    c.resp.url = url ? url : c.req.url;
    return std::move(c.resp);
  }
  if (c.sink_error) return std::move(*c.sink_error);
  std::string what = c.errbuf[0] ? std::string(c.errbuf) : std::string(curl_easy_strerror(rc));
  int err = errno_for(rc);
  if (err == ECANCELED) return Error(Code::kCancelled, fmt::format("{} \"{}\": cancelled", go_method(c.req.method), c.req.url), err);
  return Error(Code::kSystem, fmt::format("{} \"{}\": {}", go_method(c.req.method), c.req.url, what), err);
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

std::vector<std::string> HttpResponse::header_values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers)
    if (k == name) out.push_back(v);
  return out;
}

std::string go_method(std::string_view m) {
  std::string out = ascii_lower(m);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

bool is_transient_transport(const Error& e) {
  int err = e.sys_errno();
  return e.code() == Code::kSystem && (err == ECONNRESET || err == ETIMEDOUT || err == ECONNREFUSED);
}

HttpClient::HttpClient(HttpOptions opts) : opts_(opts) {
  global_init();
  easy_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (easy_) curl_easy_cleanup(static_cast<CURL*>(easy_));
}

Result<HttpResponse> HttpClient::perform(const HttpRequest& req) {
  if (!easy_) return Error::make(Code::kSystem, "curl_easy_init failed");
  if (opts_.cancelled()) return Error(Code::kCancelled, "cancelled", ECANCELED);
  CURL* e = static_cast<CURL*>(easy_);
  curl_easy_reset(e);  // options go, the connection cache stays
  Call c;
  c.req = req;
  setup(e, c, opts_);
  return finish(c, curl_easy_perform(e));
}

TransferSet::TransferSet(HttpOptions opts) : opts_(opts) {
  global_init();
  multi_ = curl_multi_init();
}

TransferSet::~TransferSet() {
  CURLM* m = static_cast<CURLM*>(multi_);
  for (auto& c : active_) curl_multi_remove_handle(m, c->easy);
  active_.clear();
  if (m) curl_multi_cleanup(m);
}

void TransferSet::add(HttpRequest req, Done done) {
  auto c = std::make_unique<Call>();
  c->req = std::move(req);
  c->done = std::move(done);
  queued_.push_back(std::move(c));
}

Result<void> TransferSet::run(size_t parallel) {
  CURLM* m = static_cast<CURLM*>(multi_);
  if (!m) return Error::make(Code::kSystem, "curl_multi_init failed");
  while (!queued_.empty() || !active_.empty()) {
    if (opts_.cancelled()) {
      std::vector<std::unique_ptr<Call>> all = std::move(active_);
      active_.clear();
      for (auto& c : all) curl_multi_remove_handle(m, c->easy);
      for (auto& c : queued_) all.push_back(std::move(c));
      queued_.clear();
      for (auto& c : all) c->done(Error(Code::kCancelled, "cancelled", ECANCELED));
      return Error(Code::kCancelled, "cancelled", ECANCELED);
    }
    while (active_.size() < parallel && !queued_.empty()) {
      std::unique_ptr<Call> c = std::move(queued_.front());
      queued_.erase(queued_.begin());
      c->easy = curl_easy_init();
      c->owns_easy = true;
      setup(c->easy, *c, opts_);
      curl_multi_add_handle(m, c->easy);
      active_.push_back(std::move(c));
    }
    int running = 0;
    curl_multi_perform(m, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* e = msg->easy_handle;
      CURLcode rc = msg->data.result;
      curl_multi_remove_handle(m, e);
      auto it = std::find_if(active_.begin(), active_.end(), [&](auto& c) { return c->easy == e; });
      if (it == active_.end()) continue;
      std::unique_ptr<Call> c = std::move(*it);
      active_.erase(it);
      Result<HttpResponse> r = finish(*c, rc);
      c->done(std::move(r));  // may add() more
    }
    if (!active_.empty()) curl_multi_poll(m, nullptr, 0, 100, nullptr);
  }
  return ok();
}

}  // namespace berth::fs::registry
