// Docker's filters (filters.h).
#include "ipc/server/filters.h"

#include <regex>

#include "core/base/strings.h"
#include "core/engine/api.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

Result<Filters> request_filters(const Request& req, std::initializer_list<std::string_view> allowed) {
  Filters f;
  if (auto raw = req.query_value("filters"); raw && !raw->empty()) f = BERTH_TRY(parse_filters(*raw));
  for (const auto& [key, values] : f) {
    bool ok_key = false;
    for (std::string_view a : allowed) ok_key |= key == a;
    if (!ok_key) return Error::invalid("invalid filter '{}'", key);
  }
  return f;
}

bool filter_match(std::string_view value, std::string_view source) {
  if (value == source) return true;
  try {  // std::regex throws on a bad pattern: Docker skips those
    return std::regex_search(source.begin(), source.end(), std::regex(value.begin(), value.end()));
  } catch (const std::regex_error&) {
    return false;
  }
}

bool labels_match(const std::map<std::string, std::string>& labels, const std::vector<std::string>& wanted) {
  for (const std::string& w : wanted) {
    auto eq = w.find('=');
    auto it = labels.find(w.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != w.substr(eq + 1)) return false;
  }
  return true;
}

Result<bool> filter_bool(std::string_view key, std::string_view value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return Error::invalid("invalid filter '{}={}'", key, value);
}

namespace {

// Go durations as prune's `until` takes them: "10m", "1h30m", "90s".
std::optional<int64_t> parse_duration_ns(std::string_view s) {
  int64_t total = 0;
  size_t i = 0;
  if (s.empty()) return std::nullopt;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) j++;
    if (j == i || j == s.size()) return std::nullopt;
    double v = std::strtod(std::string(s.substr(i, j - i)).c_str(), nullptr);
    size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) k++;
    std::string_view unit = s.substr(j, k - j);
    double scale = unit == "h" ? 3600e9 : unit == "m" ? 60e9 : unit == "s" ? 1e9 : unit == "ms" ? 1e6 : 0;
    if (scale == 0) return std::nullopt;
    total += static_cast<int64_t>(v * scale);
    i = k;
  }
  return total;
}


const std::vector<std::string>& values(const Filters& f, const char* key) {
  static const std::vector<std::string> none;
  auto it = f.find(key);
  return it == f.end() ? none : it->second;
}

// Any value of `key` holds for `pred` (an absent key holds).
template <class Pred>
bool any(const Filters& f, const char* key, Pred pred) {
  const auto& v = values(f, key);
  if (v.empty()) return true;
  for (const auto& x : v)
    if (pred(x)) return true;
  return false;
}

// "80", "80/tcp", "8000-8010/udp" against a container's port.
bool port_spec_match(const std::string& spec, int port, const std::string& proto) {
  std::string range = spec, p = "tcp";
  if (auto slash = spec.find('/'); slash != std::string::npos) range = spec.substr(0, slash), p = spec.substr(slash + 1);
  if (p != proto) return false;
  int lo = 0, hi = 0;
  auto dash = range.find('-');
  lo = std::atoi(range.substr(0, dash).c_str());
  hi = dash == std::string::npos ? lo : std::atoi(range.substr(dash + 1).c_str());
  return port >= lo && port <= hi;
}

}  // namespace

std::optional<int64_t> parse_until_ns(std::string_view s) {
  if (auto ts = parse_unix_timestamp_ns(s)) return ts;
  if (auto d = parse_duration_ns(s)) return now_ns() - *d;
  return std::nullopt;
}

namespace {

Result<int64_t> container_created(engine::Engine& e, const std::string& ref) {
  engine::Container* c = BERTH_TRY(e.find(ref));
  return c->created_ns;
}

}  // namespace

Result<ContainerFilter> ContainerFilter::make(engine::Engine& e, const Request& req) {
  ContainerFilter cf;
  cf.f_ = BERTH_TRY(request_filters(req, {"id", "name", "label", "status", "exited", "ancestor", "before", "since",
                                          "volume", "network", "health", "publish", "expose", "is-task"}));
  for (const std::string& s : values(cf.f_, "status")) {
    static const char* kStatuses[] = {"created", "restarting", "running", "removing", "paused", "exited", "dead"};
    if (std::none_of(std::begin(kStatuses), std::end(kStatuses), [&](const char* k) { return s == k; }))
      return Error::invalid("invalid filter 'status={}'", s);
  }
  for (const std::string& s : values(cf.f_, "health"))
    if (s != "starting" && s != "healthy" && s != "unhealthy" && s != "none")
      return Error::invalid("invalid filter 'health={}'", s);
  for (const std::string& s : values(cf.f_, "exited"))
    if (!parse_int(s)) return Error::invalid("invalid filter 'exited={}'", s);
  for (const std::string& s : values(cf.f_, "is-task")) BERTH_TRY_VOID(filter_bool("is-task", s));
  for (const std::string& s : values(cf.f_, "before")) cf.before_ns_ = BERTH_TRY(container_created(e, s));
  for (const std::string& s : values(cf.f_, "since")) cf.since_ns_ = BERTH_TRY(container_created(e, s));
  for (const std::string& s : values(cf.f_, "ancestor"))
    if (auto img = e.images().store().resolve(s)) cf.ancestor_ids_.push_back(img->id);
  return cf;
}

bool ContainerFilter::match(const engine::Container& c) const {
  const Filters& f = f_;
  if (before_ns_ && c.created_ns >= before_ns_) return false;
  if (since_ns_ && c.created_ns <= since_ns_) return false;
  bool stopped = c.state.status == engine::Status::kExited;
  // Docker's health filter: a container without a health check (or one
  // never started) is "none".
  std::string health = c.spec.health.enabled() && c.health_active ? c.health.status : "none";
  std::vector<std::pair<int, std::string>> exposed;  // the container's ExposedPorts
  if (!values(f, "expose").empty() || !values(f, "publish").empty()) {
    Json raw = Json::parse(c.spec.config_json, nullptr, false);
    if (raw.is_object() && raw.contains("ExposedPorts") && raw["ExposedPorts"].is_object())
      for (const auto& [port, v] : raw["ExposedPorts"].items()) {
        auto slash = port.find('/');
        exposed.emplace_back(std::atoi(port.c_str()), slash == std::string::npos ? "tcp" : port.substr(slash + 1));
      }
  }
  return any(f, "id", [&](const std::string& v) { return filter_match(v, c.id); }) &&
         any(f, "name", [&](const std::string& v) { return filter_match(v, "/" + c.name) || filter_match(v, c.name); }) &&
         labels_match(c.spec.labels, values(f, "label")) &&
         any(f, "status", [&](const std::string& v) { return v == engine::status_name(c.state.status); }) &&
         any(f, "exited", [&](const std::string& v) { return stopped && parse_int(v) == c.state.exit_code; }) &&
         any(f, "ancestor", [&](const std::string& v) {
           if (v == c.image_ref) return true;
           return std::find(ancestor_ids_.begin(), ancestor_ids_.end(), c.image_id) != ancestor_ids_.end();
         }) &&
         any(f, "volume", [&](const std::string& v) {
           for (const auto& m : c.spec.mounts)
             if (m.source == v || m.target == v) return true;
           return false;
         }) &&
         any(f, "network", [&](const std::string& v) { return v == c.spec.network_mode; }) &&
         any(f, "health", [&](const std::string& v) { return v == health; }) &&
         any(f, "expose", [&](const std::string& v) {
           for (auto& [port, proto] : exposed)
             if (port_spec_match(v, port, proto)) return true;
           return false;
         }) &&
         any(f, "publish", [&](const std::string&) { return false; }) &&  // no published ports without a bridge network
         any(f, "is-task", [&](const std::string& v) { return v == "false" || v == "0"; });
}

Result<ImageFilter> ImageFilter::make(engine::Engine& e, const Request& req) {
  ImageFilter imf;
  imf.f_ = BERTH_TRY(request_filters(req, {"dangling", "label", "before", "since", "reference", "until"}));
  for (const std::string& s : values(imf.f_, "dangling")) BERTH_TRY_VOID(filter_bool("dangling", s));
  for (auto [key, out] : {std::pair{"before", &imf.before_ns_}, {"since", &imf.since_ns_}})
    for (const std::string& s : values(imf.f_, key)) *out = BERTH_TRY(e.images().store().resolve(s)).created_ns;
  for (const std::string& s : values(imf.f_, "until")) {
    auto t = parse_until_ns(s);
    if (!t) return Error::invalid("invalid filter 'until={}'", s);
    imf.until_ns_ = *t;
  }
  return imf;
}

bool ImageFilter::match(const std::string& id, const std::vector<std::string>& repo_tags, int64_t created_ns,
                        const std::map<std::string, std::string>& labels) const {
  (void)id;
  if (before_ns_ && created_ns >= before_ns_) return false;
  if (since_ns_ && created_ns <= since_ns_) return false;
  if (until_ns_ && created_ns >= until_ns_) return false;
  return any(f_, "dangling", [&](const std::string& v) { return (v == "true" || v == "1") == repo_tags.empty(); }) &&
         labels_match(labels, values(f_, "label")) &&
         any(f_, "reference", [&](const std::string& v) {
           for (const std::string& t : repo_tags) {
             // "busybox" matches the repository of "busybox:latest"; a
             // pattern with '*' is a glob over the whole reference.
             if (t == v || t.substr(0, t.rfind(':')) == v) return true;
             std::string re;
             for (char ch : v) re += ch == '*' ? std::string("[^/]*") : std::regex_replace(std::string(1, ch), std::regex(R"([.^$|()\[\]{}+?\\])"), R"(\$&)");
             if (filter_match("^" + re + "$", t) || filter_match("^" + re + "$", t.substr(0, t.rfind(':')))) return true;
           }
           return false;
         });
}

}  // namespace berth::ipc
