// GET /containers/{id}/logs: streams the container's log file as Docker
// multiplexed frames, reading it through the reactor in 256 KiB pieces and
// pausing while the client is behind.
#include <fcntl.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/log_reader.h"
#include "ipc/proto/frames.h"
#include "ipc/server/connection.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

namespace berth::ipc {

namespace {

// Reads [start, end) of a log file and sends it; owned by the connection.
class LogsStream : public Connection::Extension {
 public:
  static constexpr size_t kReadBytes = 256 * 1024;
  static constexpr size_t kHighWater = 1 << 20;

  LogsStream(Server& s, Connection& c, unique_fd fd, const engine::LogOptions& o, engine::TailStart start,
             uint64_t end)
      : s_(s), c_(c), fd_(std::move(fd)), dec_(o), off_(start.offset), end_(end), buf_(new char[kReadBytes]) {
    dec_.skip_first(start.skip);
    read_c_.set_callback([this](int32_t res, uint32_t) { read_done(res); });
  }
  ~LogsStream() override = default;

  void next() {
    if (cancelled_) return;
    if (off_ >= end_) return c_.end_stream();
    if (c_.queued_bytes() > kHighWater) return c_.when_drained([this] { next(); });
    size_t n = std::min<uint64_t>(kReadBytes, end_ - off_);
    s_.reactor().read(fd_.get(), buf_.get(), unsigned(n), off_, read_c_);
  }
  void cancel() override {
    cancelled_ = true;
    s_.reactor().cancel(read_c_);
  }
  bool busy() const override { return read_c_.in_flight(); }

 private:
  void read_done(int32_t res) {
    if (cancelled_) return c_.extension_idle();
    if (res <= 0) return c_.end_stream();  // truncated under us or an I/O error: end what we have
    off_ += uint64_t(res);
    std::string out;
    bool good = dec_.feed(std::string_view(buf_.get(), size_t(res)),
                          [&out](uint8_t stream, std::string_view data) { append_frame(out, stream, data); });
    c_.send_chunk(out);
    if (!good) return c_.end_stream();
    next();
  }

  Server& s_;
  Connection& c_;
  unique_fd fd_;
  engine::LogDecoder dec_;
  uint64_t off_, end_;
  std::unique_ptr<char[]> buf_;
  reactor::Completion read_c_;
  bool cancelled_ = false;
};

Result<engine::LogOptions> log_options(const Request& req) {
  engine::LogOptions o;
  o.want_stdout = BERTH_TRY(req.query_bool("stdout", false));
  o.want_stderr = BERTH_TRY(req.query_bool("stderr", false));
  if (!o.want_stdout && !o.want_stderr)
    return Error::invalid("Bad parameters: you must choose at least one stream");
  o.timestamps = BERTH_TRY(req.query_bool("timestamps", false));
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
  return o;
}

void logs(Server& s, Connection& c, const Params& p) {
  auto found = s.engine().find(p[0]);
  if (!found) return c.respond_error(found.error());
  engine::Container& ct = **found;
  auto opts = log_options(c.request());
  if (!opts) return c.respond_error(opts.error());
  // FIXME(issue 3): follow=1 streams new output until the container exits;
  // for now logs end at what is stored when the request arrives.
  std::string path = ct.log_path();
  uint64_t end = ct.log_committed;
  auto fd = open_fd(path, O_RDONLY);
  if (!fd) {
    if (fd.error().code() != Code::kNotFound) return c.respond_error(fd.error());
    c.start_stream(200, "application/vnd.docker.multiplexed-stream");
    return c.end_stream();
  }
  auto start = std::make_shared<Result<engine::TailStart>>(engine::TailStart{});
  uint64_t serial = c.serial();
  auto begin = [&s, serial, fd = std::make_shared<unique_fd>(std::move(*fd)), opts = *opts, start, end] {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!*start) return conn->respond_error(start->error());
    conn->start_stream(200, "application/vnd.docker.multiplexed-stream");
    auto stream = std::make_unique<LogsStream>(s, *conn, std::move(*fd), opts, **start, end);
    LogsStream* sp = stream.get();
    conn->set_extension(std::move(stream));
    sp->next();
  };
  if (opts->tail < 0) return begin();
  // Finding where the last N lines start scans the file: job pool.
  if (!s.reactor().run_job([start, path, end, o = *opts] { *start = engine::find_tail_start(path, end, o); }, begin))
    c.respond_error(Error(Code::kSystem, "the daemon's job queue is full; try again"));
}

}  // namespace

void add_log_routes(std::vector<Route>& r) { r.push_back({"GET", "/containers/{}/logs", logs}); }

}  // namespace berth::ipc
