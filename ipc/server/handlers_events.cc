// GET /events: the engine's event stream as Docker's JSON messages, one per
// line: history since `since`, then live events until `until` or the
// client goes away. Filters: type, event, container (id, prefix or name),
// image, volume, network, daemon, scope, label (filters.h; others are 400).
#include <memory>

#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/reactor/reactor.h"
#include "ipc/proto/api_json.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/json_util.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

#include "ipc/server/filters.h"

namespace berth::ipc {

namespace {

using engine::Event;

std::string event_json(const Event& e) {
  OrderedJson attrs = OrderedJson::object();
  for (const auto& [k, v] : e.attributes) attrs[k] = v;
  OrderedJson j = OrderedJson::object();
  if (e.type == "container") {
    j["status"] = e.action;
    j["id"] = e.id;
    if (auto it = e.attributes.find("image"); it != e.attributes.end()) j["from"] = it->second;
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  j["Actor"] = {{"ID", e.id}, {"Attributes", attrs}};
  j["scope"] = "local";
  j["time"] = e.time_ns / 1000000000;
  j["timeNano"] = e.time_ns;
  return j.dump() + "\n";
}

bool matches(const Event& e, const Filters& f) {
  auto check = [&](const char* key, auto pred) {
    auto it = f.find(key);
    if (it == f.end() || it->second.empty()) return true;
    for (const auto& v : it->second)
      if (pred(v)) return true;
    return false;
  };
  auto attr = [&](const char* k) {
    auto it = e.attributes.find(k);
    return it == e.attributes.end() ? std::string() : it->second;
  };
  auto labels = [&] {
    std::map<std::string, std::string> l;
    for (const auto& [k, v] : e.attributes)
      if (k != "name" && k != "image" && k != "exitCode" && k != "signal" && k != "execID") l[k] = v;
    return l;
  };
  auto label_values = f.count("label") ? f.at("label") : std::vector<std::string>{};
  return check("type", [&](const std::string& v) { return v == e.type; }) &&
         check("event", [&](const std::string& v) { return v == e.action; }) &&
         check("container", [&](const std::string& v) {
           return e.type == "container" && (starts_with(e.id, v) || v == attr("name"));
         }) &&
         check("image", [&](const std::string& v) {
           return v == attr("image") || (e.type == "image" && (v == e.id || starts_with(e.id, v)));
         }) &&
         check("volume", [&](const std::string& v) { return e.type == "volume" && v == e.id; }) &&
         check("network", [&](const std::string& v) { return e.type == "network" && (v == e.id || v == attr("name")); }) &&
         check("daemon", [&](const std::string&) { return e.type == "daemon"; }) &&
         check("scope", [&](const std::string& v) { return v == "local"; }) &&
         labels_match(labels(), label_values);
}

// A live events request. With a future `until`, a timer ends the stream
// then; `keep` holds the watch while the timer is in flight (its Completion
// lives here) and is dropped after the timer's last completion.
struct EventsWatch {
  EventsWatch(Server& sv, uint64_t ser, Filters f, int64_t until)
      : s(sv), serial(ser), filters(std::move(f)), until_ns(until) {}
  Server& s;
  uint64_t serial;
  Filters filters;
  int64_t until_ns;
  uint64_t token = 0;
  bool ended = false;
  reactor::Completion timer_c;
  __kernel_timespec ts{};
  std::shared_ptr<EventsWatch> keep;

  void end(Connection* conn) {
    if (ended) return;
    ended = true;
    if (token) s.engine().events().unsubscribe(token);
    if (timer_c.in_flight()) s.reactor().cancel(timer_c);
    if (conn) conn->end_stream();
  }
  void arm_until(const std::shared_ptr<EventsWatch>& self, int64_t now) {
    int64_t left = until_ns - now;
    ts.tv_sec = left / 1000000000;
    ts.tv_nsec = left % 1000000000;
    keep = self;
    EventsWatch* w = this;
    timer_c.set_callback([w](int32_t, uint32_t) {
      if (!w->ended) w->end(w->s.lookup(w->serial));
      w->s.reactor().defer([self = std::move(w->keep)] {});
    });
    s.reactor().timeout(&ts, timer_c);
  }
};

void events(Server& s, Connection& c, const Params&) {
  const Request& req = c.request();
  int64_t since = 0, until = 0;
  for (auto [key, out] : {std::pair{"since", &since}, {"until", &until}}) {
    auto v = req.query_value(key);
    if (!v || v->empty()) continue;
    auto ns = parse_unix_timestamp_ns(*v);
    if (!ns) return c.respond_error(Error::invalid("invalid {} timestamp \"{}\"", key, *v));
    *out = *ns;
  }
  Filters filters;
  if (auto f = request_filters(req, {"type", "event", "container", "image", "volume", "network", "daemon", "scope",
                                     "label"});
      !f) {
    return c.respond_error(f.error());
  }
  if (auto f = req.query_value("filters"); f && !f->empty()) {
    auto parsed = parse_filters(*f);
    if (!parsed) return c.respond_error(parsed.error());
    filters = std::move(*parsed);
  }
  c.start_stream(200, "application/json");
  auto& bus = s.engine().events();
  if (since > 0 || until > 0) {
    for (const auto& e : bus.history()) {
      if (e.time_ns < since || (until > 0 && e.time_ns > until) || !matches(e, filters)) continue;
      c.send_chunk(event_json(e));
    }
  }
  int64_t now = now_ns();
  if (until > 0 && until <= now) return c.end_stream();
  auto w = std::make_shared<EventsWatch>(s, c.serial(), std::move(filters), until);
  w->token = bus.subscribe([w](const Event& e) {
    Connection* conn = w->s.lookup(w->serial);
    if (!conn) return w->end(nullptr);
    if (w->until_ns > 0 && e.time_ns > w->until_ns) return w->end(conn);
    if (matches(e, w->filters)) conn->send_chunk(event_json(e));
  });
  c.on_close([w] { w->end(nullptr); });
  if (until > 0) w->arm_until(w, now);
}

}  // namespace

void add_event_routes(std::vector<Route>& r) { r.push_back({"GET", "/events", events}); }

}  // namespace berth::ipc
