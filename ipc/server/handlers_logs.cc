// GET /containers/{id}/logs: streams a container's log (every rotated file,
// oldest first, then the current one) as Docker multiplexed frames, or raw
// bytes for a tty container. Reads go through the reactor in 256 KiB pieces
// and pause while the client is behind; finding where --tail/--since start
// runs on the job pool. With follow=1 the stream then waits for the
// engine's log notifications (no timers), moves on to the next file after a
// rotation, and ends once the container's output has ended and is all sent.
#include <fcntl.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/log_files.h"
#include "core/engine/log_reader.h"
#include "ipc/proto/frames.h"
#include "ipc/server/connection.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

namespace berth::ipc {

namespace {

constexpr uint64_t kToEof = ~uint64_t(0);   // a finished file: read until EOF

struct LogsRequest {
  engine::LogOptions opts;
  bool follow = false;
  bool tty = false;
  bool hijacked = false;   // attach?logs=1: raw bytes on a hijacked connection, not a chunked body
};

// Owned by the connection. Reads file after file from `start`; in follow
// mode the last file is the container's current one while its generation
// matches (then its end is the container's committed size).
class LogsStream : public Connection::Extension {
 public:
  static constexpr size_t kReadBytes = 256 * 1024;
  static constexpr size_t kHighWater = 1 << 20;

  LogsStream(Server& s, Connection& c, std::string id, const LogsRequest& rq,
             std::vector<engine::OpenLogFile> files, uint64_t generation, engine::LogPosition start)
      : s_(s), c_(c), id_(std::move(id)), rq_(rq), files_(std::move(files)), gen_(generation), dec_(rq.opts),
        file_(start.file), off_(start.offset), buf_(new char[kReadBytes]) {
    dec_.skip_first(start.skip);
    read_c_.set_callback([this](int32_t res, uint32_t) { read_done(res); });
  }
  ~LogsStream() override {
    waker_->stream = nullptr;
    if (token_) s_.engine().io().unwatch_log(id_, token_);
  }

  // Registers for the container's log notifications (follow mode).
  void follow(engine::Container* ct) {
    if (ct) token_ = s_.engine().io().watch_log(*ct, [w = waker_](bool ended) {
      if (w->stream) w->stream->wake(ended);
    });
    if (!token_) ended_ = true;
  }

  void next() {
    if (cancelled_ || done_) return;
    if (dec_.past_until()) return finish();
    if (c_.queued_bytes() > kHighWater) return c_.when_drained([this] { next(); });
    for (;;) {
      uint64_t end = end_of_current();
      if (off_ < end) {
        size_t n = size_t(std::min<uint64_t>(kReadBytes, end - off_));
        return s_.reactor().read(files_[file_].log.get(), buf_.get(), unsigned(n), off_, read_c_);
      }
      if (file_ + 1 < files_.size()) {
        file_++;
        off_ = 0;
        at_eof_ = false;   // about the file just finished, not this one
        dec_.end_file();
        continue;
      }
      if (!rq_.follow || !open_newer()) break;
    }
    // At the end of everything stored.
    if (!rq_.follow || ended_) return finish();
    if (rq_.opts.until_ns && now_ns() > rq_.opts.until_ns) return finish();
    waiting_ = true;   // wake() continues
  }

  void cancel() override {
    cancelled_ = true;
    s_.reactor().cancel(read_c_);
  }
  bool busy() const override { return read_c_.in_flight(); }

 private:
  struct Waker {
    LogsStream* stream = nullptr;
  };

  void wake(bool ended) {
    if (ended) ended_ = true;
    if (!waiting_) return;
    waiting_ = false;
    next();
  }

  // The live file's end is the container's committed size while it is still
  // the current file; once rotated away it is read to its end.
  uint64_t end_of_current() {
    engine::OpenLogFile& f = files_[file_];
    if (!rq_.follow || file_ + 1 < files_.size() || f.end == kToEof || at_eof_) return f.end;
    auto it = s_.engine().containers().find(id_);
    if (it == s_.engine().containers().end()) return f.end;
    if (it->second->log_generation == gen_) return f.end = it->second->log_committed;
    return f.end = kToEof;
  }

  // After rotations: opens the files written since the one we hold (the
  // renamed ones, then the current). A file already deleted by rotation is
  // lost to this reader (it was more than max-file rotations behind).
  bool open_newer() {
    auto it = s_.engine().containers().find(id_);
    if (it == s_.engine().containers().end() || it->second->log_generation == gen_) return false;
    const engine::Container& ct = *it->second;
    size_t before = files_.size();
    for (uint64_t g = gen_ + 1; g <= ct.log_generation; g++) {
      uint64_t n = ct.log_generation - g;
      if (n > 1000) continue;
      auto fd = open_fd(engine::log_file_path(ct.log_path(), int(n)), O_RDONLY);
      if (!fd) continue;
      engine::OpenLogFile f;
      f.log = std::move(*fd);
      f.end = n == 0 ? ct.log_committed : kToEof;
      files_.push_back(std::move(f));
    }
    gen_ = ct.log_generation;
    if (files_.size() == before) return false;
    // Drop what is fully read: a long follow keeps only the files it needs.
    files_.erase(files_.begin(), files_.begin() + ptrdiff_t(file_ + 1));
    file_ = 0;
    off_ = 0;
    at_eof_ = false;
    dec_.end_file();
    return true;
  }

  void read_done(int32_t res) {
    if (cancelled_) return c_.extension_idle();
    if (res == 0 && files_[file_].end == kToEof) {
      files_[file_].end = off_;   // the end of a rotated file
      at_eof_ = true;
      return next();
    }
    if (res <= 0) return finish();  // truncated under us or an I/O error: end what we have
    off_ += uint64_t(res);
    std::string out;
    bool good = dec_.feed(std::string_view(buf_.get(), size_t(res)), [this, &out](uint8_t stream, std::string_view data) {
      if (rq_.tty) out.append(data);
      else append_frame(out, stream, data);
    });
    if (!out.empty()) rq_.hijacked ? c_.send_raw(out) : c_.send_chunk(out);
    if (!good) return finish();
    next();
  }

  void finish() {
    done_ = true;
    if (token_) s_.engine().io().unwatch_log(id_, token_);
    token_ = 0;
    rq_.hijacked ? c_.finish_hijack() : c_.end_stream();
  }

  Server& s_;
  Connection& c_;
  std::string id_;
  LogsRequest rq_;
  std::vector<engine::OpenLogFile> files_;
  uint64_t gen_;
  engine::LogDecoder dec_;
  size_t file_;
  uint64_t off_;
  std::unique_ptr<char[]> buf_;
  reactor::Completion read_c_;
  std::shared_ptr<Waker> waker_ = std::make_shared<Waker>(Waker{this});
  uint64_t token_ = 0;
  bool cancelled_ = false, done_ = false, waiting_ = false, ended_ = false;
  bool at_eof_ = false;   // read to the end of a file that rotation finished
};

Result<LogsRequest> logs_request(const Request& req) {
  LogsRequest rq;
  engine::LogOptions& o = rq.opts;
  o.want_stdout = BERTH_TRY(req.query_bool("stdout", false));
  o.want_stderr = BERTH_TRY(req.query_bool("stderr", false));
  if (!o.want_stdout && !o.want_stderr)
    return Error::invalid("Bad parameters: you must choose at least one stream");
  o.timestamps = BERTH_TRY(req.query_bool("timestamps", false));
  rq.follow = BERTH_TRY(req.query_bool("follow", false));
  for (auto [key, field] : {std::pair{"since", &o.since_ns}, std::pair{"until", &o.until_ns}}) {
    std::string v = req.query_value(key).value_or("");
    if (v.empty() || v == "0") continue;
    auto ns = parse_unix_timestamp_ns(v);
    if (!ns) return Error::invalid("invalid value for \"{}\": {}", key, v);
    *field = *ns;
  }
  std::string tail = req.query_value("tail").value_or("all");
  if (!tail.empty() && tail != "all") {
    auto n = parse_int(tail);
    if (!n) return Error::invalid("invalid value for \"tail\": {}", tail);
    o.tail = *n < 0 ? -1 : *n;
  }
  return rq;
}

// Streams the log of `ct` per `rq`: a chunked 200 response, or (hijacked)
// raw bytes on the upgraded connection, which is closed at the end.
void stream_logs(Server& s, Connection& c, engine::Container& ct, LogsRequest rq) {
  auto fail = [&c, hijacked = rq.hijacked](const Error& e) {
    if (!hijacked) return c.respond_error(e);
    log::warn("api", "attach logs: {}", e.message());
    c.finish_hijack();
  };
  // A consistent snapshot: rotation renames only on this thread.
  auto opened = engine::open_log_files(ct.log_path(), ct.log_committed);
  if (!opened) return fail(opened.error());
  auto files = std::make_shared<std::vector<engine::OpenLogFile>>(std::move(*opened));
  auto start = std::make_shared<Result<engine::LogPosition>>(engine::LogPosition{});
  uint64_t serial = c.serial();
  auto begin = [&s, serial, id = ct.id, gen = ct.log_generation, files, rq, start] {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!rq.hijacked && !*start) return conn->respond_error(start->error());
    if (!rq.hijacked)
      conn->start_stream(200, rq.tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
    if (files->empty() || !*start)   // never started: no log yet, nothing to follow
      return rq.hijacked ? conn->finish_hijack() : conn->end_stream();
    auto stream = std::make_unique<LogsStream>(s, *conn, id, rq, std::move(*files), gen, **start);
    LogsStream* sp = stream.get();
    conn->set_extension(std::move(stream));
    if (rq.follow) {
      auto it = s.engine().containers().find(id);
      sp->follow(it == s.engine().containers().end() ? nullptr : it->second.get());
    }
    sp->next();
  };
  if (rq.opts.tail < 0 && !rq.opts.since_ns) return begin();
  // Seeking (index lookups and scans) reads files: job pool.
  std::vector<engine::LogFileRef> refs;
  for (auto& f : *files) refs.push_back({f.log.get(), f.idx ? f.idx.get() : -1, f.end});
  auto job = [start, refs = std::move(refs), o = rq.opts] { *start = engine::find_log_start(refs, o); };
  if (!s.reactor().run_job(job, begin)) fail(Error(Code::kSystem, "the daemon's job queue is full; try again"));
}

void logs(Server& s, Connection& c, const Params& p) {
  auto found = s.engine().find(p[0]);
  if (!found) return c.respond_error(found.error());
  engine::Container& ct = **found;
  auto rq = logs_request(c.request());
  if (!rq) return c.respond_error(rq.error());
  rq->tty = ct.spec.tty;
  stream_logs(s, c, ct, std::move(*rq));
}

}  // namespace

void attach_logs(Server& s, Connection& c, engine::Container& ct, bool want_stdout, bool want_stderr,
                 bool follow) {
  LogsRequest rq;
  rq.opts.want_stdout = want_stdout;
  rq.opts.want_stderr = want_stderr;
  rq.follow = follow;
  rq.tty = ct.spec.tty;
  rq.hijacked = true;
  stream_logs(s, c, ct, std::move(rq));
}

void add_log_routes(std::vector<Route>& r) { r.push_back({"GET", "/containers/{}/logs", logs}); }

}  // namespace berth::ipc
