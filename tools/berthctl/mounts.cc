#include "tools/berthctl/mounts.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include <fmt/format.h>

#include "tools/berthctl/units.h"

namespace berth::ctl {

using json = nlohmann::json;

namespace {

// One CSV record (Go's encoding/csv): fields split on ',', a field may be
// double-quoted, and "" inside quotes is one quote.
Result<std::vector<std::string>> csv_fields(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (quoted) {
      if (c != '"') cur += c;
      else if (i + 1 < s.size() && s[i + 1] == '"') cur += '"', i++;
      else quoted = false;
    } else if (c == '"' && cur.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) return Error::invalid("parse error on line 1: extraneous or missing \" in quoted-field");
  out.push_back(std::move(cur));
  return out;
}

// Go's strconv.ParseBool.
std::optional<bool> parse_bool(std::string_view v) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    if (v == t) return true;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    if (v == f) return false;
  return std::nullopt;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

// "k=v" into a map, "k" alone as "k" → "".
void set_on_map(json& obj, std::string_view kv) {
  auto eq = kv.find('=');
  obj[std::string(kv.substr(0, eq))] = eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1));
}

// The sub-objects of a Mounts entry, created on first use.
struct MountParts {
  json mount = json::object();
  json bind, volume, tmpfs;
  json& bind_options() { return bind.is_object() ? bind : bind = json::object(); }
  json& volume_options() { return volume.is_object() ? volume : volume = json::object(); }
  json& driver_config() {
    json& v = volume_options();
    if (!v.contains("DriverConfig")) v["DriverConfig"] = json::object();
    return v["DriverConfig"];
  }
  json& tmpfs_options() { return tmpfs.is_object() ? tmpfs : tmpfs = json::object(); }
};

Error bad_value(const std::string& key, std::string_view val) {
  return Error::invalid("invalid value for {}: {}", key, val);
}

// A field without '=': the flags Docker takes bare.
Result<void> apply_bare(MountParts& p, const std::string& field) {
  std::string key = lower(field);
  if (key == "readonly" || key == "ro") p.mount["ReadOnly"] = true;
  else if (key == "volume-nocopy") p.volume_options()["NoCopy"] = true;
  else if (key == "bind-nonrecursive") p.bind_options()["NonRecursive"] = true;
  else return Error::invalid("invalid field '{}' must be a key=value pair", field);
  return ok();
}

Result<void> apply_field(MountParts& p, const std::string& field) {
  auto eq = field.find('=');
  if (eq == std::string::npos) return apply_bare(p, field);
  std::string key = lower(field.substr(0, eq));
  std::string val = field.substr(eq + 1);
  if (key == "type") {
    p.mount["Type"] = lower(val);
  } else if (key == "source" || key == "src") {
    p.mount["Source"] = val;
  } else if (key == "target" || key == "dst" || key == "destination") {
    p.mount["Target"] = val;
  } else if (key == "readonly" || key == "ro" || key == "volume-nocopy" || key == "bind-nonrecursive") {
    auto b = parse_bool(val);
    if (!b) return bad_value(key, val);
    if (key == "volume-nocopy") p.volume_options()["NoCopy"] = *b;
    else if (key == "bind-nonrecursive") p.bind_options()["NonRecursive"] = *b;
    else p.mount["ReadOnly"] = *b;
  } else if (key == "consistency") {
    p.mount["Consistency"] = lower(val);
  } else if (key == "bind-propagation") {
    p.bind_options()["Propagation"] = lower(val);
  } else if (key == "volume-driver") {
    p.driver_config()["Name"] = val;
  } else if (key == "volume-label") {
    json& v = p.volume_options();
    if (!v.contains("Labels")) v["Labels"] = json::object();
    set_on_map(v["Labels"], val);
  } else if (key == "volume-opt") {
    json& d = p.driver_config();
    if (!d.contains("Options")) d["Options"] = json::object();
    set_on_map(d["Options"], val);
  } else if (key == "volume-subpath") {
    p.volume_options()["Subpath"] = val;
  } else if (key == "tmpfs-size") {
    Result<int64_t> size = ram_in_bytes(val);
    if (!size) return bad_value(key, val);
    p.tmpfs_options()["SizeBytes"] = *size;
  } else if (key == "tmpfs-mode") {
    if (val.empty() || val.size() > 11 || val.find_first_not_of("01234567") != std::string::npos)
      return bad_value(key, val);
    p.tmpfs_options()["Mode"] = std::stoull(val, nullptr, 8);
  } else {
    return Error::invalid("unexpected key '{}' in '{}'", key, field);
  }
  return ok();
}

bool starts_with_dot(std::string_view s) { return s == "." || s.substr(0, 2) == "./" || s.substr(0, 3) == "../"; }

std::string absolute(const std::string& cwd, std::string_view rel) {
  std::string base = cwd;
  std::string_view r = rel;
  while (!r.empty()) {
    auto slash = r.find('/');
    std::string_view part = r.substr(0, slash);
    r = slash == std::string_view::npos ? std::string_view() : r.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      auto cut = base.rfind('/');
      base = cut == 0 || cut == std::string::npos ? "/" : base.substr(0, cut);
      continue;
    }
    if (base.back() != '/') base += '/';
    base += part;
  }
  return base;
}

}  // namespace

Result<json> parse_mount_flag(std::string_view value) {
  std::vector<std::string> fields = BERTH_TRY(csv_fields(value));
  MountParts p;
  p.mount["Type"] = "volume";
  for (const std::string& f : fields) BERTH_TRY_VOID(apply_field(p, f));
  std::string type = p.mount["Type"].get<std::string>();
  if (!p.mount.contains("Target") || p.mount["Target"].get<std::string>().empty())
    return Error::invalid("target is required");
  const struct {
    json* part;
    const char* prefix;
    const char* type;
    const char* key;
  } parts[] = {{&p.volume, "volume", "volume", "VolumeOptions"},
               {&p.bind, "bind", "bind", "BindOptions"},
               {&p.tmpfs, "tmpfs", "tmpfs", "TmpfsOptions"}};
  for (const auto& part : parts) {
    if (!part.part->is_object()) continue;
    if (type != part.type) return Error::invalid("cannot mix '{}-*' options with mount type '{}'", part.prefix, type);
    p.mount[part.key] = *part.part;
  }
  return p.mount;
}

std::pair<std::string, std::string> parse_tmpfs_flag(std::string_view value) {
  auto colon = value.find(':');
  if (colon == std::string_view::npos) return {std::string(value), ""};
  return {std::string(value.substr(0, colon)), std::string(value.substr(colon + 1))};
}

VolumeFlags split_volume_flags(const std::vector<std::string>& values, const std::string& cwd) {
  VolumeFlags out;
  for (const std::string& v : values) {
    auto colon = v.find(':');
    if (colon == std::string::npos) {
      out.anonymous.push_back(v);
      continue;
    }
    std::string source = v.substr(0, colon);
    if (starts_with_dot(source)) source = absolute(cwd, source);
    out.binds.push_back(source + v.substr(colon));
  }
  return out;
}

Result<void> apply_mount_flags(const MountFlags& f, json& config, json& host) {
  if (!f.volumes.empty()) {
    char buf[4096];
    std::string cwd = ::getcwd(buf, sizeof buf) ? buf : "/";
    VolumeFlags v = split_volume_flags(f.volumes, cwd);
    if (!v.binds.empty()) host["Binds"] = v.binds;
    if (!v.anonymous.empty()) {
      json vols = json::object();
      for (const auto& t : v.anonymous) vols[t] = json::object();
      config["Volumes"] = std::move(vols);
    }
  }
  if (!f.mounts.empty()) {
    json arr = json::array();
    for (const std::string& m : f.mounts) {
      Result<json> mount = parse_mount_flag(m);
      if (!mount)
        return Error::invalid("invalid argument \"{}\" for \"--mount\" flag: {}", m, mount.error().message());
      arr.push_back(std::move(*mount));
    }
    host["Mounts"] = std::move(arr);
  }
  if (!f.tmpfs.empty()) {
    json t = json::object();
    for (const std::string& v : f.tmpfs) {
      auto [target, opts] = parse_tmpfs_flag(v);
      t[target] = opts;
    }
    host["Tmpfs"] = std::move(t);
  }
  if (f.read_only) host["ReadonlyRootfs"] = true;
  return ok();
}

}  // namespace berth::ctl
