#include "fs/image_config.h"

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "core/base/json_depth.h"
#include "core/base/strings.h"
#include "fs/digest.h"

namespace berth::fs {

namespace {

using nlohmann::json;

// Missing and null read as empty, as Go's encoding/json writes them; a value
// of the wrong type throws json::type_error, caught by the parse entry point.
std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->get<std::string>();
}

std::vector<std::string> strings(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->get<std::vector<std::string>>();
}

const json* object(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  if (!it->is_object()) throw json::type_error::create(302, fmt::format("{} is not an object", key), &j);
  return &*it;
}

ImageConfig config_from_json(const json& c) {
  ImageConfig out;
  out.env = strings(c, "Env");
  out.cmd = strings(c, "Cmd");
  out.entrypoint = strings(c, "Entrypoint");
  out.working_dir = str(c, "WorkingDir");
  out.user = str(c, "User");
  out.stop_signal = str(c, "StopSignal");
  if (const json* labels = object(c, "Labels"))
    for (auto& [k, v] : labels->items()) out.labels[k] = v.is_null() ? std::string() : v.get<std::string>();
  if (const json* ports = object(c, "ExposedPorts"))
    for (auto& [k, v] : ports->items()) out.exposed_ports.push_back(k);
  if (const json* volumes = object(c, "Volumes"))
    for (auto& [k, v] : volumes->items()) out.volumes.push_back(k);
  if (const json* h = object(c, "Healthcheck")) {
    out.health_test = strings(*h, "Test");
    auto num = [&](const char* key) -> int64_t {
      auto it = h->find(key);
      return it != h->end() && it->is_number_integer() ? it->get<int64_t>() : 0;
    };
    out.health_interval_ns = num("Interval");
    out.health_timeout_ns = num("Timeout");
    out.health_start_period_ns = num("StartPeriod");
    out.health_start_interval_ns = num("StartInterval");
    out.health_retries = int(num("Retries"));
  }
  return out;
}

json config_to_json(const ImageConfig& c) {
  json out = json::object();
  if (!c.user.empty()) out["User"] = c.user;
  if (!c.exposed_ports.empty()) {
    json ports = json::object();
    for (const std::string& p : c.exposed_ports) ports[p] = json::object();
    out["ExposedPorts"] = std::move(ports);
  }
  if (!c.env.empty()) out["Env"] = c.env;
  if (!c.entrypoint.empty()) out["Entrypoint"] = c.entrypoint;
  if (!c.cmd.empty()) out["Cmd"] = c.cmd;
  if (!c.working_dir.empty()) out["WorkingDir"] = c.working_dir;
  if (!c.labels.empty()) out["Labels"] = c.labels;
  if (!c.stop_signal.empty()) out["StopSignal"] = c.stop_signal;
  if (!c.health_test.empty()) {
    json h = {{"Test", c.health_test}};
    if (c.health_interval_ns) h["Interval"] = c.health_interval_ns;
    if (c.health_timeout_ns) h["Timeout"] = c.health_timeout_ns;
    if (c.health_start_period_ns) h["StartPeriod"] = c.health_start_period_ns;
    if (c.health_start_interval_ns) h["StartInterval"] = c.health_start_interval_ns;
    if (c.health_retries) h["Retries"] = c.health_retries;
    out["Healthcheck"] = std::move(h);
  }
  if (!c.volumes.empty()) {
    json volumes = json::object();
    for (const std::string& v : c.volumes) volumes[v] = json::object();
    out["Volumes"] = std::move(volumes);
  }
  return out;
}

Result<ImageConfigDoc> doc_from_json(const json& j) {
  ImageConfigDoc doc;
  if (const json* c = object(j, "config")) doc.config = config_from_json(*c);
  doc.architecture = str(j, "architecture");
  doc.os = str(j, "os");
  doc.comment = str(j, "comment");
  doc.author = str(j, "author");
  if (std::string created = str(j, "created"); !created.empty())
    doc.created_ns = BERTH_TRY_CTX(parse_rfc3339_ns(created), "created");
  if (const json* rootfs = object(j, "rootfs")) doc.diff_ids = strings(*rootfs, "diff_ids");
  for (const std::string& d : doc.diff_ids)
    if (!is_sha256_digest(d)) return Error::invalid("invalid diff ID {}", d);
  if (auto it = j.find("history"); it != j.end() && !it->is_null())
    for (const json& h : *it) doc.history_created_by.push_back(str(h, "created_by"));
  return doc;
}

json descriptor_to_json(const Descriptor& d) {
  return json{{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
}

Result<Descriptor> descriptor_from_json(const json& j) {
  Descriptor d;
  d.media_type = str(j, "mediaType");
  d.digest = str(j, "digest");
  d.size = j.at("size").get<int64_t>();
  if (!is_sha256_digest(d.digest)) return Error::invalid("invalid descriptor digest {}", d.digest);
  return d;
}

Result<Manifest> manifest_from_json(const json& j) {
  if (j.value("schemaVersion", 0) != 2) return Error::invalid("unsupported schemaVersion");
  Manifest m;
  m.config = BERTH_TRY(descriptor_from_json(j.at("config")));
  for (const json& l : j.at("layers")) m.layers.push_back(BERTH_TRY(descriptor_from_json(l)));
  return m;
}

// Parses exactly `n` digits at s[*i], advancing *i.
bool digits(std::string_view s, size_t* i, size_t n, int* out) {
  if (*i + n > s.size()) return false;
  int v = 0;
  for (size_t k = 0; k < n; k++) {
    char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

bool expect(std::string_view s, size_t* i, std::string_view chars) {
  if (*i >= s.size() || chars.find(s[*i]) == std::string_view::npos) return false;
  (*i)++;
  return true;
}

}  // namespace

Result<ImageConfigDoc> parse_image_config(std::string_view text) {
  if (!json_depth_ok(text)) return Error::invalid("parse image config: nested too deeply");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("parse image config: not a JSON object");
  try {
    auto doc = doc_from_json(j);
    if (!doc) return std::move(doc.error()).context("parse image config");
    return doc;
  } catch (const json::exception& e) {
    return Error::invalid("parse image config: {}", e.what());
  }
}

std::string make_image_config(const ImageConfigDoc& doc) {
  std::string created = format_rfc3339_nano(doc.created_ns);
  json history = json::array();
  size_t n = std::max<size_t>(1, doc.history_created_by.size());
  for (size_t i = 0; i < n; i++) {
    json h{{"created", created}};
    if (i < doc.history_created_by.size() && !doc.history_created_by[i].empty())
      h["created_by"] = doc.history_created_by[i];
    if (i + 1 == n && !doc.comment.empty()) h["comment"] = doc.comment;
    history.push_back(std::move(h));
  }
  json j{{"architecture", doc.architecture},
         {"os", doc.os},
         {"created", created},
         {"config", config_to_json(doc.config)},
         {"rootfs", {{"type", "layers"}, {"diff_ids", doc.diff_ids}}},
         {"history", std::move(history)}};
  if (!doc.comment.empty()) j["comment"] = doc.comment;
  return j.dump();
}

Result<ImageConfig> parse_runtime_config(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return ImageConfig{};
  if (!json_depth_ok(text)) return Error::invalid("parse container config: nested too deeply");
  json j = json::parse(text, nullptr, false);
  if (j.is_null()) return ImageConfig{};
  if (j.is_discarded() || !j.is_object()) return Error::invalid("parse container config: not a JSON object");
  try {
    return config_from_json(j);
  } catch (const json::exception& e) {
    return Error::invalid("parse container config: {}", e.what());
  }
}

namespace {

std::string env_key(const std::string& kv) { return kv.substr(0, kv.find('=')); }

}  // namespace

ImageConfig merge_image_config(ImageConfig user, const ImageConfig& base) {
  if (user.user.empty()) user.user = base.user;
  for (const std::string& p : base.exposed_ports)
    if (std::find(user.exposed_ports.begin(), user.exposed_ports.end(), p) == user.exposed_ports.end())
      user.exposed_ports.push_back(p);
  std::sort(user.exposed_ports.begin(), user.exposed_ports.end());
  for (const std::string& v : base.volumes)
    if (std::find(user.volumes.begin(), user.volumes.end(), v) == user.volumes.end()) user.volumes.push_back(v);
  std::sort(user.volumes.begin(), user.volumes.end());
  for (const std::string& e : base.env) {
    bool found = std::any_of(user.env.begin(), user.env.end(),
                             [&](const std::string& u) { return env_key(u) == env_key(e); });
    if (!found) user.env.push_back(e);
  }
  for (const auto& [k, v] : base.labels) user.labels.emplace(k, v);
  if (user.entrypoint.empty()) {
    if (user.cmd.empty()) user.cmd = base.cmd;
    user.entrypoint = base.entrypoint;
  }
  if (user.working_dir.empty()) user.working_dir = base.working_dir;
  if (user.stop_signal.empty()) user.stop_signal = base.stop_signal;
  if (user.health_test.empty()) {
    // Docker's merge: the Test and each duration left unset come from the base.
    user.health_test = base.health_test;
    if (!user.health_interval_ns) user.health_interval_ns = base.health_interval_ns;
    if (!user.health_timeout_ns) user.health_timeout_ns = base.health_timeout_ns;
    if (!user.health_start_period_ns) user.health_start_period_ns = base.health_start_period_ns;
    if (!user.health_start_interval_ns) user.health_start_interval_ns = base.health_start_interval_ns;
    if (!user.health_retries) user.health_retries = base.health_retries;
  }
  return user;
}

namespace {

json child_history_entry(const ChildImage& c, const std::string& created) {
  json h{{"created", created}};
  if (!c.author.empty()) h["author"] = c.author;
  if (!c.created_by.empty()) h["created_by"] = c.created_by;
  if (!c.comment.empty()) h["comment"] = c.comment;
  if (c.diff_id.empty()) h["empty_layer"] = true;
  return h;
}

Result<std::string> child_config(json j, const ChildImage& c) {
  json cfg = j.contains("config") && j["config"].is_object() ? j["config"] : json::object();
  for (const char* key :
       {"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "WorkingDir", "Labels", "StopSignal", "Volumes", "Healthcheck"})
    cfg.erase(key);
  ImageConfig sorted = c.config;
  std::sort(sorted.exposed_ports.begin(), sorted.exposed_ports.end());
  cfg.update(config_to_json(sorted));
  j["config"] = std::move(cfg);
  std::string created = format_rfc3339_nano(c.created_ns);
  j["created"] = created;
  for (auto [key, value] : {std::pair{"author", &c.author}, std::pair{"comment", &c.comment}}) {
    if (value->empty())
      j.erase(key);
    else
      j[key] = *value;
  }
  if (!c.container_id.empty()) j["container"] = c.container_id;
  j.erase("container_config");  // the parent's, stale for the child
  if (!j.contains("rootfs") || !j["rootfs"].is_object()) j["rootfs"] = json{{"type", "layers"}};
  json& diff_ids = j["rootfs"]["diff_ids"];
  if (!diff_ids.is_array()) diff_ids = json::array();
  if (!c.diff_id.empty()) diff_ids.push_back(c.diff_id);
  if (!j.contains("history") || !j["history"].is_array()) j["history"] = json::array();
  j["history"].push_back(child_history_entry(c, created));
  return j.dump();
}

}  // namespace

Result<std::string> make_child_config(std::string_view parent_json, const ChildImage& c) {
  if (!json_depth_ok(parent_json)) return Error::invalid("parse parent image config: nested too deeply");
  json j = json::parse(parent_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("parse parent image config: not a JSON object");
  try {
    return child_config(std::move(j), c);
  } catch (const json::exception& e) {
    return Error::invalid("make image config: {}", e.what());
  }
}

Result<Manifest> parse_manifest(std::string_view text) {
  if (!json_depth_ok(text)) return Error::invalid("parse image manifest: nested too deeply");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("parse image manifest: not a JSON object");
  try {
    auto m = manifest_from_json(j);
    if (!m) return std::move(m.error()).context("parse image manifest");
    return m;
  } catch (const json::exception& e) {
    return Error::invalid("parse image manifest: {}", e.what());
  }
}

std::string make_manifest(const Manifest& m) {
  json layers = json::array();
  for (const Descriptor& d : m.layers) layers.push_back(descriptor_to_json(d));
  json j{{"schemaVersion", 2},
         {"mediaType", kMediaTypeManifest},
         {"config", descriptor_to_json(m.config)},
         {"layers", std::move(layers)}};
  return j.dump();
}

std::string host_architecture() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__i386__)
  return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  return "unknown";
#endif
}

Result<int64_t> parse_rfc3339_ns(std::string_view s) {
  auto bad = [&] { return Error::invalid("invalid RFC 3339 time '{}'", s); };
  tm t = {};
  size_t i = 0;
  int year, mon, day, hour, min, sec;
  if (!digits(s, &i, 4, &year) || !expect(s, &i, "-") || !digits(s, &i, 2, &mon) || !expect(s, &i, "-") ||
      !digits(s, &i, 2, &day) || !expect(s, &i, "Tt ") || !digits(s, &i, 2, &hour) || !expect(s, &i, ":") ||
      !digits(s, &i, 2, &min) || !expect(s, &i, ":") || !digits(s, &i, 2, &sec))
    return bad();
  int64_t frac_ns = 0;
  if (i < s.size() && s[i] == '.') {
    int64_t scale = 100000000;
    for (i++; i < s.size() && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10) frac_ns += (s[i] - '0') * scale;
  }
  int64_t offset_s = 0;
  if (expect(s, &i, "Zz")) {
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i++] == '-' ? -1 : 1, oh, om;
    if (!digits(s, &i, 2, &oh) || !expect(s, &i, ":") || !digits(s, &i, 2, &om)) return bad();
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return bad();
  }
  if (i != s.size() || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return bad();
  if (year <= 1) return int64_t{0};  // Go's zero time, "0001-01-01T00:00:00Z"
  if (year > 2262) return bad();     // beyond int64 nanoseconds
  t.tm_year = year - 1900;
  t.tm_mon = mon - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = min;
  t.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(::timegm(&t)) - offset_s;
  return secs * 1000000000 + frac_ns;
}

}  // namespace berth::fs
