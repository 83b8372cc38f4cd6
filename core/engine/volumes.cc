#include "core/engine/volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"

namespace berth::engine {

using nlohmann::json;

namespace {

constexpr const char* kMetaFile = "volume.json";

std::string encode_volume(const Volume& v) {
  return json{{"version", 1},          {"name", v.name},       {"driver", v.driver},
              {"labels", v.labels},     {"options", v.options}, {"created_ns", v.created_ns}}
      .dump();
}

// Fills `v` from volume.json; the name always comes from the directory.
Result<void> decode_volume(const std::string& text, Volume& v) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::make(Code::kCorrupt, "volume metadata is not valid JSON");
  try {
    v.driver = j.value("driver", "local");
    v.labels = j.value("labels", std::map<std::string, std::string>{});
    v.options = j.value("options", std::map<std::string, std::string>{});
    v.created_ns = j.value("created_ns", int64_t(0));
  } catch (const json::exception& e) {
    return Error::make(Code::kCorrupt, "volume metadata: {}", e.what());
  }
  return ok();
}

int64_t mtime_ns(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) return 0;
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

bool valid_volume_name(std::string_view n) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (n.size() < 2 || n.size() > 255 || !alnum(n[0])) return false;
  for (char c : n.substr(1))
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}


Result<std::unique_ptr<VolumeStore>> VolumeStore::open(const std::string& dir) {
  std::unique_ptr<VolumeStore> s(new VolumeStore(dir));
  BERTH_TRY_VOID(make_dirs(dir, 0701));
  if (::chmod(dir.c_str(), 0701) < 0) return Error::sys(errno, "chmod {}", dir);
  BERTH_TRY_VOID(s->load());
  return s;
}

Result<void> VolumeStore::load() {
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return Error::sys(errno, "open {}", dir_);
  while (dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (!valid_volume_name(name)) continue;  // also skips "." and ".." and temp files
    Volume v;
    v.name = name;
    v.dir = dir_ + "/" + name;
    if (!path_exists(v.data_dir())) continue;
    if (auto text = read_file(v.dir + "/" + kMetaFile, 1 << 20); text) {
      if (auto r = decode_volume(*text, v); !r)
        log::warn("engine", "volume {}: {} (kept without its labels)", name, r.error().message());
    }
    if (v.created_ns == 0) v.created_ns = mtime_ns(v.dir);
    volumes_[name] = std::move(v);
  }
  ::closedir(d);
  log::info("engine", "loaded {} volumes", volumes_.size());
  return ok();
}

Result<void> VolumeStore::check(const std::string& name, const std::string& driver,
                                const std::map<std::string, std::string>& options) {
  if (!driver.empty() && driver != "local")
    return Error::not_found("error looking up volume plugin {}: plugin \"{}\" not found", driver, driver);
  if (!valid_volume_name(name))
    return Error::invalid(
        "create {}: \"{}\" includes invalid characters for a local volume name, only "
        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
        name, name);
  if (!options.empty())
    return Error::make(Code::kNotSupported, "create {}: berth's local volume driver takes no options yet", name);
  return ok();
}

Result<Volume> VolumeStore::create(const std::string& name, const std::string& driver,
                                   const std::map<std::string, std::string>& labels,
                                   const std::map<std::string, std::string>& options, bool* created) {
  if (created) *created = false;
  std::lock_guard lk(mu_);
  if (auto it = volumes_.find(name); it != volumes_.end()) return it->second;
  BERTH_TRY_VOID(check(name, driver, options));
  Volume v;
  v.name = name;
  v.labels = labels;
  v.created_ns = now_ns();
  v.dir = dir_ + "/" + name;
  if (::mkdir(v.dir.c_str(), 0755) < 0) return Error::sys(errno, "create volume {}: mkdir {}", name, v.dir);
  if (::mkdir(v.data_dir().c_str(), 0755) < 0 ||
      ((owner_uid_ || owner_gid_) && ::chown(v.data_dir().c_str(), owner_uid_, owner_gid_) < 0)) {
    Error e = Error::sys(errno, "create volume {}: mkdir {}", name, v.data_dir());
    (void)remove_tree(v.dir);
    return e;
  }
  // Not fsynced (see the header). A volume whose record cannot be written
  // (a full disk) is not made: after a restart it would lose its labels.
  if (auto r = write_file_atomic(v.dir + "/" + kMetaFile, encode_volume(v), 0600, false); !r) {
    (void)remove_tree(v.dir);
    return std::move(r.error()).context("create volume {}", name);
  }
  volumes_.emplace(name, v);
  if (created) *created = true;
  return v;
}

std::optional<Volume> VolumeStore::find(const std::string& name) const {
  std::lock_guard lk(mu_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, Volume> VolumeStore::all() const {
  std::lock_guard lk(mu_);
  return volumes_;
}

bool VolumeStore::in_use(const std::string& name) const {
  std::lock_guard lk(mu_);
  return users_.count(name) > 0;
}

Result<void> VolumeStore::take_out(const std::string& name, const std::string& trash_path) {
  std::lock_guard lk(mu_);
  auto it = volumes_.find(name);
  if (it == volumes_.end()) return Error::not_found("get {}: no such volume", name);
  if (auto u = users_.find(name); u != users_.end()) {
    std::string ids;
    for (const auto& id : u->second) ids += (ids.empty() ? "" : ", ") + id;
    return Error::conflict("remove {}: volume is in use - [{}]", name, ids);
  }
  if (::rename(it->second.dir.c_str(), trash_path.c_str()) < 0)
    return Error::sys(errno, "remove {}: rename {} to the trash", name, it->second.dir);
  volumes_.erase(it);
  return ok();
}

void VolumeStore::add_user(const std::string& name, const std::string& container_id) {
  std::lock_guard lk(mu_);
  users_[name].insert(container_id);
}

void VolumeStore::drop_user(const std::string& name, const std::string& container_id) {
  std::lock_guard lk(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return;
  it->second.erase(container_id);
  if (it->second.empty()) users_.erase(it);
}

std::vector<std::string> VolumeStore::users(const std::string& name) const {
  std::lock_guard lk(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

}  // namespace berth::engine
