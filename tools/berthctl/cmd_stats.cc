// `stats [-a] [--no-stream] [--no-trunc] [CONTAINER...]`, as the docker CLI
// does it (docker-cli-map.md §4 stats):
//
//   GET /containers/json[?all=1]            only without CONTAINER arguments
//   GET /containers/{id}/stats?stream=0|1   one connection and one collector
//                                           thread per container
//
// A collector reads its stream (JSON objects, one per line from dockerd) and
// keeps the latest entry in its Slot on the Board; the main thread alone
// prints. Threads are the docker CLI's design too: a blocking Client serves
// one stream, and with stream=0 dockerd spends about a second per container
// sampling twice, so reading them in turn would take N seconds per table.
//
//   --no-stream  waits for every answer, prints one table, exits 0.
//   streaming    waits for each first answer, then every 500 ms redraws the
//                table if an answer came in. On a terminal each frame is drawn
//                over the last (cursor home, erase each line's end and the
//                rest of the screen, as docker ≥ 24 does); otherwise frames
//                follow each other. It runs until interrupted.
//   no CONTAINER the containers listed (running ones, all with -a), listed
//                again every second while streaming so new ones appear and
//                gone ones vanish (docker follows /events for this).
//   CONTAINER... an error before the first answer (No such container) is
//                printed and exits 1 with no table, as docker; later errors,
//                and the end of a stream, show the row as "--".
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/base/strings.h"
#include "tools/berthctl/berthctl.h"
#include "tools/berthctl/stats.h"

namespace berth::ctl {
namespace {

// Collectors at once for --no-stream (see stats()).
constexpr size_t kNoStreamCollectors = 4096;

struct StatsOptions {
  bool all = false;
  bool no_stream = false;
  bool no_trunc = false;
  std::vector<std::string> containers;
};

// One container's row; every field is guarded by Board::mu.
struct Slot {
  explicit Slot(std::string c) : container(std::move(c)) { entry.container = container; }
  std::string container;  // as named by the user, or the short ID
  StatsEntry entry;
  bool answered = false;  // a first object or an error has arrived
  std::string error;      // the last error, if any (entry.invalid is then set)
  bool dropped = false;   // no longer listed: the collector stops at its next object
};

struct Board {
  std::mutex mu;
  std::condition_variable changed;
  uint64_t generation = 0;  // bumped on every answer
  std::vector<std::shared_ptr<Slot>> slots;
};

// Where collectors connect: the main connection's daemon and API version.
struct Endpoint {
  std::string host, api_version;
};

void post_entry(Board& b, Slot& s, StatsEntry e) {
  std::lock_guard lock(b.mu);
  s.entry = std::move(e);
  s.answered = true;
  s.error.clear();
  b.generation++;
  b.changed.notify_all();
}

void post_error(Board& b, Slot& s, std::string message) {
  std::lock_guard lock(b.mu);
  s.entry.invalid = true;
  s.answered = true;
  s.error = std::move(message);
  b.generation++;
  b.changed.notify_all();
}

bool is_dropped(Board& b, const Slot& s) {
  std::lock_guard lock(b.mu);
  return s.dropped;
}

// Reads `s.container`'s stats until the stream ends (after one object
// without `stream`), posting each object.
Result<void> read_stats(Board& b, Slot& s, const Endpoint& ep, bool stream) {
  Client c = BERTH_TRY(Client::connect(ep.host));
  c.set_api_version(ep.api_version);
  std::string path = container_path(s.container, stream ? "/stats?stream=1" : "/stats?stream=0");
  Response head = BERTH_TRY(c.start_stream("GET", path));
  if (head.status >= 400) return stream_error(c, head);
  JsonObjectSplitter splitter;
  for (;;) {
    std::optional<std::string> piece = BERTH_TRY(c.next_chunk());
    if (!piece) return Error(Code::kSystem, "the daemon ended the stats stream");
    splitter.feed(*piece);
    std::string text;
    while (splitter.next(&text)) {
      json v = parse_json(text);
      if (!v.is_object()) return Error::invalid("stats {}: the daemon sent invalid JSON", s.container);
      post_entry(b, s, stats_entry(v, s.container));
      if (!stream || is_dropped(b, s)) return ok();
    }
  }
}

void collect(std::shared_ptr<Board> b, std::shared_ptr<Slot> s, Endpoint ep, bool stream) {
  if (Result<void> r = read_stats(*b, *s, ep, stream); !r) post_error(*b, *s, r.error().message());
}

// Starts a collector; std::thread reports a failure to create one by throwing.
Result<std::thread> spawn(const std::shared_ptr<Board>& b, const std::shared_ptr<Slot>& s, const Endpoint& ep,
                          bool stream) {
  try {
    return std::thread(collect, b, s, ep, stream);
  } catch (const std::system_error& e) {
    return Error(Code::kSystem, std::string("start a stats collector: ") + e.what());
  }
}

// A slot for each name not on the board yet, in order; the new ones.
std::vector<std::shared_ptr<Slot>> new_slots(Board& b, const std::vector<std::string>& names) {
  std::vector<std::shared_ptr<Slot>> added;
  std::lock_guard lock(b.mu);
  for (const std::string& name : names) {
    auto same = [&](const std::shared_ptr<Slot>& x) { return x->container == name; };
    if (std::any_of(b.slots.begin(), b.slots.end(), same)) continue;
    added.push_back(std::make_shared<Slot>(name));
    b.slots.push_back(added.back());
  }
  return added;
}

// Adds a slot for each name not on the board yet, with its collector; with
// `detach` the threads run on their own, else they are appended to `joinable`.
void add_slots(const std::shared_ptr<Board>& b, const std::vector<std::string>& names, const Endpoint& ep,
               bool stream, std::vector<std::thread>* joinable) {
  for (const std::shared_ptr<Slot>& slot : new_slots(*b, names)) {
    Result<std::thread> t = spawn(b, slot, ep, stream);
    if (!t)
      post_error(*b, *slot, t.error().message());
    else if (joinable)
      joinable->push_back(std::move(*t));
    else
      t->detach();
  }
}

// Drops the slots whose container is not in `names` (gone or stopped).
void drop_unlisted(Board& b, const std::vector<std::string>& names) {
  std::lock_guard lock(b.mu);
  auto gone = [&](const std::shared_ptr<Slot>& s) {
    bool listed = std::find(names.begin(), names.end(), s->container) != names.end();
    if (!listed) s->dropped = true;
    return !listed;
  };
  size_t before = b.slots.size();
  b.slots.erase(std::remove_if(b.slots.begin(), b.slots.end(), gone), b.slots.end());
  if (b.slots.size() != before) b.generation++;
}

// Short IDs of the listed containers, in the daemon's order.
Result<std::vector<std::string>> list_containers(Client& c, bool all) {
  json list = BERTH_TRY(call_json(c, "GET", all ? "/containers/json?all=1" : "/containers/json"));
  if (!list.is_array()) return Error::invalid("stats: expected a JSON array from the daemon");
  std::vector<std::string> ids;
  for (const json& item : list) ids.push_back(short_id(jstr(item, "Id")));
  return ids;
}

std::string render(Board& b, bool trunc) {
  std::vector<std::vector<std::string>> rows = {stats_header()};
  std::lock_guard lock(b.mu);
  for (const auto& s : b.slots) rows.push_back(stats_row(s->entry, trunc));
  return format_table(rows);
}

// The errors of the first answers, one per line ("" if none).
std::string first_errors(Board& b) {
  std::string text;
  std::lock_guard lock(b.mu);
  for (const auto& s : b.slots)
    if (!s->error.empty()) text += s->error + "\n";
  return text;
}

void wait_first_answers(Board& b) {
  std::unique_lock lock(b.mu);
  b.changed.wait(lock, [&] {
    return std::all_of(b.slots.begin(), b.slots.end(), [](const auto& s) { return s->answered; });
  });
}

// Draws `table` over the previous frame on a terminal.
std::string tty_frame(const std::string& table, bool first) {
  std::string f = first ? "\033[2J\033[H" : "\033[H";
  for (const std::string& line : split(table, '\n'))
    if (!line.empty()) f += line + "\033[K\n";
  return f + "\033[J";
}

[[noreturn]] void stream_forever(Client& c, const std::shared_ptr<Board>& b, const StatsOptions& o,
                                 const Endpoint& ep) {
  using namespace std::chrono_literals;
  const bool tty = isatty(STDOUT_FILENO) == 1;
  const bool listing = o.containers.empty();
  uint64_t drawn = ~uint64_t(0);
  for (int tick = 0;; tick++) {
    if (listing && tick % 2 == 1) {
      // A failed listing keeps the last one; the rows then show the collectors' errors.
      if (Result<std::vector<std::string>> ids = list_containers(c, o.all); ids) {
        drop_unlisted(*b, *ids);
        add_slots(b, *ids, ep, /*stream=*/true, nullptr);
      }
    }
    uint64_t generation;
    {
      std::lock_guard lock(b->mu);
      generation = b->generation;
    }
    if (generation != drawn) {
      std::string table = render(*b, !o.no_trunc);
      out(tty ? tty_frame(table, drawn == ~uint64_t(0)) : table);
      drawn = generation;
    }
    std::this_thread::sleep_for(500ms);
  }
}

int stats(const Globals& g, const StatsOptions& o) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Endpoint ep{c->host(), c->api_version()};
  std::vector<std::string> names = o.containers;
  if (names.empty()) {
    Result<std::vector<std::string>> ids = list_containers(*c, o.all);
    if (!ids) return fail(ids.error());
    names = std::move(*ids);
  }
  auto board = std::make_shared<Board>();
  if (o.no_stream) {
    // One answer each, so at most kNoStreamCollectors connections at once:
    // a collector per container (10,000 on a dense host) would run into
    // berthd's connection limit, whose accept back-off then stalls them
    // all (87-111 s for 10,000, against 14 s). Not much fewer: each
    // stream=0 answer waits for a second sample of the daemon's stats
    // pass, so every extra round of collectors costs a pass (256 at once:
    // 41 s). The rows keep the daemon's order.
    std::vector<std::shared_ptr<Slot>> todo = new_slots(*board, names);
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i; (i = next.fetch_add(1)) < todo.size();) collect(board, todo[i], ep, /*stream=*/false);
    };
    std::vector<std::thread> threads;
    for (size_t i = 0; i < std::min(todo.size(), kNoStreamCollectors); i++) {
      try {
        threads.emplace_back(worker);
      } catch (const std::system_error& e) {
        if (threads.empty()) return fail(Error(Code::kSystem, std::string("start a stats collector: ") + e.what()));
        break;  // the ones running take every slot
      }
    }
    for (std::thread& t : threads) t.join();
    if (std::string errors = first_errors(*board); !errors.empty() && !o.containers.empty()) {
      err(errors);
      return kExitError;
    }
    out(render(*board, !o.no_trunc));
    return kExitOk;
  }
  add_slots(board, names, ep, /*stream=*/true, nullptr);
  wait_first_answers(*board);
  if (std::string errors = first_errors(*board); !errors.empty() && !o.containers.empty()) {
    err(errors);
    // Collectors may be blocked reading other streams and cannot be joined;
    // _Exit skips the static destructors they could still touch. All output
    // went out unbuffered with write(2), so nothing is lost.
    std::_Exit(kExitError);
  }
  stream_forever(*c, board, o, ep);
}

}  // namespace

void add_stats_command(CLI::App& app, Globals& g, int& exit_code) {
  auto opts = std::make_shared<StatsOptions>();
  CLI::App* sub = app.add_subcommand("stats", "Display a live stream of container(s) resource usage statistics");
  sub->add_flag("-a,--all", opts->all, "Show all containers (default shows just running)");
  sub->add_flag("--no-stream", opts->no_stream, "Disable streaming stats and only pull the first result");
  sub->add_flag("--no-trunc", opts->no_trunc, "Do not truncate output");
  sub->add_option("CONTAINER", opts->containers, "Containers to show (default: all running)");
  sub->callback([&g, &exit_code, opts] { exit_code = stats(g, *opts); });
}

}  // namespace berth::ctl
