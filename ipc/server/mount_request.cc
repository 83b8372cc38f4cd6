#include "ipc/server/mount_request.h"

#include <sys/mount.h>

#include <set>

#include "core/base/strings.h"
#include "core/engine/volumes.h"

namespace berth::ipc {

namespace {

using engine::MountSpec;

// Go's filepath.Clean for absolute paths: no "//", ".", "..", trailing '/'.
std::string clean_path(const std::string& p) {
  std::string out;
  for (const auto& s : clean_path_parts(p)) out += "/" + s;
  return out.empty() ? "/" : out;
}

const char* type_name(MountSpec::Type t) {
  switch (t) {
    case MountSpec::Type::kBind: return "bind";
    case MountSpec::Type::kVolume: return "volume";
    case MountSpec::Type::kTmpfs: return "tmpfs";
  }
  return "";
}

Error invalid_config(MountSpec::Type t, const std::string& what) {
  return Error::invalid("invalid mount config for type \"{}\": {}", type_name(t), what);
}

// Absolute, clean, not "/" and not under /proc (which runc refuses too).
Result<std::string> check_target(MountSpec::Type t, const std::string& target) {
  if (target.empty()) return invalid_config(t, "field Target must not be empty");
  if (target[0] != '/')
    return invalid_config(t, fmt::format("invalid mount path: '{}' mount path must be absolute", target));
  std::string clean = clean_path(target);
  if (clean == "/") return Error::invalid("invalid specification: destination can't be '/'");
  if (clean == "/proc" || starts_with(clean, "/proc/"))
    return Error::invalid("invalid mount config: {} is inside /proc, where mounts are not allowed", clean);
  return clean;
}

Result<void> check_volume_name(const std::string& name) {
  if (engine::valid_volume_name(name)) return ok();
  return Error::invalid(
      "create {}: \"{}\" includes invalid characters for a local volume name, only "
      "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
      name, name);
}

bool is_propagation(const std::string& o) {
  for (const char* p : {"private", "rprivate", "shared", "rshared", "slave", "rslave"})
    if (o == p) return true;
  return false;
}

Result<void> set_propagation(MountSpec& m, const std::string& p) {
  if (p != "private" && p != "rprivate")
    return Error::invalid("invalid mount config for type \"bind\": propagation \"{}\" is not supported by berth "
                          "(container mount namespaces are private)",
                          p);
  m.propagation = p;
  return ok();
}

// The ":opts" of a Binds entry.
Result<void> apply_bind_mode(MountSpec& m, const std::string& mode, const std::string& spec) {
  bool rw_set = false;
  for (const std::string& o : split(mode, ',')) {
    if (o == "ro" || o == "rw") {
      if (rw_set) return Error::invalid("invalid mode: {}", mode);
      rw_set = true;
      m.readonly = o == "ro";
    } else if (o == "nocopy") {
      if (m.type != MountSpec::Type::kVolume) return Error::invalid("invalid mode: {}", mode);
      m.nocopy = true;
    } else if (is_propagation(o)) {
      if (m.type != MountSpec::Type::kBind) return Error::invalid("invalid mode: {}", mode);
      BERTH_TRY_VOID(set_propagation(m, o));
    } else if (o != "z" && o != "Z" && o != "consistent" && o != "cached" && o != "delegated") {
      return Error::invalid("invalid mode: {}", mode.empty() ? spec : mode);
    }
  }
  m.mode = mode;
  return ok();
}

// Docker's local-driver size and count syntax: digits with an optional
// k/m/g suffix (and '%' for size).
bool valid_amount(const std::string& v, bool percent) {
  size_t n = 0;
  while (n < v.size() && v[n] >= '0' && v[n] <= '9') n++;
  if (n == 0) return false;
  if (n == v.size()) return true;
  if (n + 1 != v.size()) return false;
  char s = v[n];
  return s == 'k' || s == 'K' || s == 'm' || s == 'M' || s == 'g' || s == 'G' || (percent && s == '%');
}

bool valid_octal(const std::string& v) {
  if (v.empty() || v.size() > 5) return false;
  unsigned mode = 0;
  for (char c : v) {
    if (c < '0' || c > '7') return false;
    mode = mode * 8 + unsigned(c - '0');
  }
  return mode <= 07777;
}

Result<void> check_tmpfs_data(const std::string& key, const std::string& value) {
  bool ok_value = key == "size"                           ? valid_amount(value, true)
                  : key == "nr_inodes" || key == "nr_blocks" ? valid_amount(value, false)
                  : key == "mode"                           ? valid_octal(value)
                  : key == "uid" || key == "gid"            ? valid_amount(value, false) &&
                                                                   value.back() >= '0' && value.back() <= '9'
                                                             : !value.empty();  // mpol
  if (!ok_value) return Error::invalid("invalid tmpfs option {}={}", key, value);
  return ok();
}

// A flag of Docker's mount-option list: its effect on the MOUNT_ATTR_*
// flags, or a superblock flag passed to fsconfig. false when unknown.
bool apply_tmpfs_flag(const std::string& o, uint64_t& attrs, std::vector<std::string>& sb_flags) {
  struct Flag {
    const char* name;
    uint64_t set, clear;
  };
  static const Flag kFlags[] = {
      {"ro", MOUNT_ATTR_RDONLY, 0},        {"rw", 0, MOUNT_ATTR_RDONLY},
      {"noexec", MOUNT_ATTR_NOEXEC, 0},    {"exec", 0, MOUNT_ATTR_NOEXEC},
      {"nosuid", MOUNT_ATTR_NOSUID, 0},    {"suid", 0, MOUNT_ATTR_NOSUID},
      {"nodev", MOUNT_ATTR_NODEV, 0},      {"dev", 0, MOUNT_ATTR_NODEV},
      {"nodiratime", MOUNT_ATTR_NODIRATIME, 0}, {"diratime", 0, MOUNT_ATTR_NODIRATIME},
      {"noatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
      {"strictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
      {"relatime", 0, MOUNT_ATTR__ATIME},  {"atime", 0, MOUNT_ATTR__ATIME},
      {"norelatime", 0, MOUNT_ATTR__ATIME}, {"nostrictatime", 0, MOUNT_ATTR__ATIME},
  };
  for (const Flag& f : kFlags)
    if (o == f.name) {
      attrs = (attrs & ~f.clear) | f.set;
      return true;
    }
  if (o == "sync" || o == "dirsync") {
    sb_flags.push_back(o);
    return true;
  }
  // Accepted by Docker and meaningless here: propagation is private, binds
  // do not apply to a new tmpfs, and async/mand are the defaults.
  for (const char* ignored : {"defaults", "async", "mand", "nomand", "remount", "bind", "rbind", "unbindable",
                              "runbindable", "private", "rprivate", "shared", "rshared", "slave", "rslave"})
    if (o == ignored) return true;
  return false;
}

// Go's %q of a []string, for Docker's "Invalid tmpfs option" message.
std::string quoted_list(const std::string& o) {
  auto eq = o.find('=');
  if (eq == std::string::npos) return fmt::format("[\"{}\"]", o);
  return fmt::format("[\"{}\" \"{}\"]", o.substr(0, eq), o.substr(eq + 1));
}

// Merges Docker's tmpfs option list into m.tmpfs_attrs/tmpfs_options.
Result<void> apply_tmpfs_options(MountSpec& m, const std::vector<std::string>& opts) {
  uint64_t attrs = MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  std::vector<std::string> sb_flags;
  std::vector<std::pair<std::string, std::string>> data;
  for (const std::string& o : opts) {
    if (o.empty()) continue;
    if (apply_tmpfs_flag(o, attrs, sb_flags)) continue;
    auto eq = o.find('=');
    static const std::set<std::string> kKeys = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"};
    if (eq == std::string::npos || !kKeys.count(o.substr(0, eq)))
      return Error::invalid("Invalid tmpfs option {}", quoted_list(o));
    std::string key = o.substr(0, eq), value = o.substr(eq + 1);
    BERTH_TRY_VOID(check_tmpfs_data(key, value));
    std::erase_if(data, [&](const auto& kv) { return kv.first == key; });
    data.emplace_back(key, value);
  }
  m.readonly = attrs & MOUNT_ATTR_RDONLY;
  m.tmpfs_attrs = attrs & ~uint64_t(MOUNT_ATTR_RDONLY);
  m.tmpfs_options = std::move(data);
  for (const std::string& f : sb_flags) m.tmpfs_options.emplace_back(f, "");
  return ok();
}

// --- Mounts objects ---

Result<std::string> string_member(const Json& obj, const char* key, const char* where) {
  if (!obj.contains(key) || obj[key].is_null()) return std::string();
  if (!obj[key].is_string()) return Error::invalid("invalid {}.{}: expected a string", where, key);
  return obj[key].get<std::string>();
}

Result<bool> bool_member(const Json& obj, const char* key, const char* where) {
  if (!obj.contains(key) || obj[key].is_null()) return false;
  if (!obj[key].is_boolean()) return Error::invalid("invalid {}.{}: expected a boolean", where, key);
  return obj[key].get<bool>();
}

bool has_object(const Json& obj, const char* key) { return obj.contains(key) && !obj[key].is_null(); }

Result<void> parse_bind_options(MountSpec& m, const Json& obj) {
  if (!has_object(obj, "BindOptions")) return ok();
  const Json& b = obj["BindOptions"];
  if (!b.is_object()) return Error::invalid("invalid Mounts.BindOptions: expected an object");
  std::string prop = BERTH_TRY(string_member(b, "Propagation", "Mounts.BindOptions"));
  if (!prop.empty()) BERTH_TRY_VOID(set_propagation(m, prop));
  m.nonrecursive = BERTH_TRY(bool_member(b, "NonRecursive", "Mounts.BindOptions"));
  // CreateMountpoint: create a missing source, as -v does.
  if (BERTH_TRY(bool_member(b, "CreateMountpoint", "Mounts.BindOptions"))) m.origin = MountSpec::Origin::kBinds;
  return ok();
}

Result<void> parse_volume_options(MountSpec& m, const Json& obj) {
  if (!has_object(obj, "VolumeOptions")) return ok();
  const Json& v = obj["VolumeOptions"];
  if (!v.is_object()) return Error::invalid("invalid Mounts.VolumeOptions: expected an object");
  m.nocopy = BERTH_TRY(bool_member(v, "NoCopy", "Mounts.VolumeOptions"));
  if (has_object(v, "Labels")) {
    if (!v["Labels"].is_object()) return Error::invalid("invalid Mounts.VolumeOptions.Labels: expected an object");
    for (auto& [k, val] : v["Labels"].items()) {
      if (!val.is_string()) return Error::invalid("invalid Mounts.VolumeOptions.Labels.{}: expected a string", k);
      m.volume_labels[k] = val.get<std::string>();
    }
  }
  if (has_object(v, "DriverConfig")) {
    const Json& d = v["DriverConfig"];
    if (!d.is_object()) return Error::invalid("invalid Mounts.VolumeOptions.DriverConfig: expected an object");
    std::string driver = BERTH_TRY(string_member(d, "Name", "Mounts.VolumeOptions.DriverConfig"));
    if (!driver.empty() && driver != "local")
      return Error::not_found("error looking up volume plugin {}: plugin \"{}\" not found", driver, driver);
    if (has_object(d, "Options") && !d["Options"].empty())
      return Error::make(Code::kNotSupported, "berth's local volume driver takes no options yet");
  }
  if (!BERTH_TRY(string_member(v, "Subpath", "Mounts.VolumeOptions")).empty())
    return Error::make(Code::kNotSupported, "volume subpaths are not supported by berth yet");
  return ok();
}

Result<void> parse_tmpfs_options(MountSpec& m, const Json& obj) {
  std::vector<std::string> opts;
  if (m.readonly) opts.push_back("ro");
  if (has_object(obj, "TmpfsOptions")) {
    const Json& t = obj["TmpfsOptions"];
    if (!t.is_object()) return Error::invalid("invalid Mounts.TmpfsOptions: expected an object");
    if (has_object(t, "SizeBytes")) {
      if (!t["SizeBytes"].is_number_integer() || t["SizeBytes"].get<int64_t>() < 0)
        return invalid_config(m.type, "invalid size: TmpfsOptions.SizeBytes must be a non-negative integer");
      if (int64_t size = t["SizeBytes"].get<int64_t>(); size > 0) opts.push_back(fmt::format("size={}", size));
    }
    if (has_object(t, "Mode")) {
      if (!t["Mode"].is_number_unsigned() || t["Mode"].get<uint64_t>() > 07777)
        return invalid_config(m.type, "invalid mode: TmpfsOptions.Mode must be a permission mode (0 to 4095)");
      if (uint64_t mode = t["Mode"].get<uint64_t>(); mode) opts.push_back(fmt::format("mode={:o}", mode));
    }
    if (has_object(t, "Options")) {
      if (!t["Options"].is_array()) return Error::invalid("invalid Mounts.TmpfsOptions.Options: expected an array");
      for (const Json& o : t["Options"]) {
        bool pair_ok = o.is_array() && (o.size() == 1 || o.size() == 2);
        for (const Json& part : pair_ok ? o : Json::array()) pair_ok = pair_ok && part.is_string();
        if (!pair_ok) return Error::invalid("invalid Mounts.TmpfsOptions.Options: expected [flag] or [key, value]");
        opts.push_back(o.size() == 1 ? o[0].get<std::string>()
                                     : o[0].get<std::string>() + "=" + o[1].get<std::string>());
      }
    }
  }
  return apply_tmpfs_options(m, opts);
}

// The options a type does not take must be absent.
Result<void> check_foreign_options(const MountSpec& m, const Json& obj) {
  const char* keys[] = {"BindOptions", "VolumeOptions", "TmpfsOptions"};
  for (size_t i = 0; i < 3; i++) {
    if (i == size_t(m.type == MountSpec::Type::kBind ? 0 : m.type == MountSpec::Type::kVolume ? 1 : 2)) continue;
    if (has_object(obj, keys[i])) return invalid_config(m.type, fmt::format("field {} must not be specified", keys[i]));
  }
  return ok();
}

}  // namespace

Result<MountSpec> parse_bind(const std::string& spec) {
  auto parts = split(spec, ':');
  if (spec.empty() || parts.size() > 3) return Error::invalid("invalid volume specification: '{}'", spec);
  MountSpec m;
  m.origin = MountSpec::Origin::kBinds;
  std::string target = parts.size() == 1 ? parts[0] : parts[1];
  if (parts.size() == 2 && !parts[1].empty() && parts[1][0] != '/') {
    // "/ctr:ro": a mode without a source, which Docker refuses.
    return Error::invalid("invalid volume specification: '{}'", spec);
  }
  if (parts.size() == 1) {
    m.type = MountSpec::Type::kVolume;
  } else if (!parts[0].empty() && parts[0][0] == '/') {
    m.type = MountSpec::Type::kBind;
    m.source = clean_path(parts[0]);
    m.propagation = "rprivate";
  } else {
    m.type = MountSpec::Type::kVolume;
    if (parts[0].empty()) return Error::invalid("invalid volume specification: '{}'", spec);
    BERTH_TRY_VOID(check_volume_name(parts[0]));
    m.source = parts[0];
  }
  m.target = BERTH_TRY(check_target(m.type, target));
  if (parts.size() == 3) BERTH_TRY_VOID(apply_bind_mode(m, parts[2], spec));
  return m;
}

Result<MountSpec> parse_mount(const Json& obj) {
  if (!obj.is_object()) return Error::invalid("invalid Mounts: expected an array of objects");
  MountSpec m;
  m.origin = MountSpec::Origin::kMounts;
  std::string type = BERTH_TRY(string_member(obj, "Type", "Mounts"));
  if (type == "bind") m.type = MountSpec::Type::kBind;
  else if (type == "volume") m.type = MountSpec::Type::kVolume;
  else if (type == "tmpfs") m.type = MountSpec::Type::kTmpfs;
  else return Error::invalid("invalid mount config for type \"{}\": mount type unknown", type);
  m.target = BERTH_TRY(check_target(m.type, BERTH_TRY(string_member(obj, "Target", "Mounts"))));
  std::string source = BERTH_TRY(string_member(obj, "Source", "Mounts"));
  m.readonly = BERTH_TRY(bool_member(obj, "ReadOnly", "Mounts"));
  BERTH_TRY_VOID(check_foreign_options(m, obj));
  switch (m.type) {
    case MountSpec::Type::kBind:
      if (source.empty()) return invalid_config(m.type, "field Source must not be empty");
      if (source[0] != '/')
        return invalid_config(m.type, fmt::format("invalid mount path: '{}' mount path must be absolute", source));
      m.source = clean_path(source);
      m.propagation = "rprivate";
      BERTH_TRY_VOID(parse_bind_options(m, obj));
      break;
    case MountSpec::Type::kVolume:
      if (!source.empty()) BERTH_TRY_VOID(check_volume_name(source));
      m.source = source;
      BERTH_TRY_VOID(parse_volume_options(m, obj));
      break;
    case MountSpec::Type::kTmpfs:
      if (!source.empty()) return invalid_config(m.type, "field Source must not be specified");
      BERTH_TRY_VOID(parse_tmpfs_options(m, obj));
      break;
  }
  return m;
}

Result<MountSpec> parse_tmpfs(const std::string& target, const std::string& options) {
  MountSpec m;
  m.type = MountSpec::Type::kTmpfs;
  m.origin = MountSpec::Origin::kTmpfs;
  m.target = BERTH_TRY(check_target(m.type, target));
  BERTH_TRY_VOID(apply_tmpfs_options(m, split(options, ',')));
  return m;
}

Result<std::vector<MountSpec>> parse_mounts(const Json& config, const Json& hc) {
  std::vector<MountSpec> out;
  if (hc.is_object() && has_object(hc, "VolumesFrom") && !hc["VolumesFrom"].empty())
    return Error::make(Code::kNotSupported, "VolumesFrom (--volumes-from) is not supported by berth yet");
  if (hc.is_object() && has_object(hc, "VolumeDriver")) {
    std::string driver = BERTH_TRY(string_member(hc, "VolumeDriver", "HostConfig"));
    if (!driver.empty() && driver != "local")
      return Error::not_found("error looking up volume plugin {}: plugin \"{}\" not found", driver, driver);
  }
  if (hc.is_object() && has_object(hc, "Binds")) {
    if (!hc["Binds"].is_array()) return Error::invalid("invalid Binds: expected an array of strings");
    for (const Json& b : hc["Binds"]) {
      if (!b.is_string()) return Error::invalid("invalid Binds: expected an array of strings");
      out.push_back(BERTH_TRY(parse_bind(b.get<std::string>())));
    }
  }
  if (hc.is_object() && has_object(hc, "Mounts")) {
    if (!hc["Mounts"].is_array()) return Error::invalid("invalid Mounts: expected an array of objects");
    for (const Json& mj : hc["Mounts"]) out.push_back(BERTH_TRY(parse_mount(mj)));
  }
  if (hc.is_object() && has_object(hc, "Tmpfs")) {
    if (!hc["Tmpfs"].is_object()) return Error::invalid("invalid Tmpfs: expected an object");
    for (auto& [target, opts] : hc["Tmpfs"].items()) {
      if (!opts.is_string()) return Error::invalid("invalid Tmpfs.{}: expected a string", target);
      out.push_back(BERTH_TRY(parse_tmpfs(target, opts.get<std::string>())));
    }
  }
  std::set<std::string> targets;
  for (const MountSpec& m : out)
    if (!targets.insert(m.target).second) return Error::invalid("Duplicate mount point: {}", m.target);
  if (config.is_object() && has_object(config, "Volumes")) {
    if (!config["Volumes"].is_object()) return Error::invalid("invalid Volumes: expected an object");
    for (auto& [path, v] : config["Volumes"].items()) {
      MountSpec m;
      m.type = MountSpec::Type::kVolume;
      m.origin = MountSpec::Origin::kVolumes;
      m.anonymous = true;
      m.target = BERTH_TRY(check_target(m.type, path));
      if (targets.insert(m.target).second) out.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace berth::ipc
