// Mounts and volumes of containers: at create, image VOLUME entries join the
// client's mounts, anonymous volumes get their names and named volumes are
// created on first use; at start, every mount is resolved into a
// runtime::Mount (volumes become binds of their data directory, copied up
// from the container's content while empty); at rm, volume references go
// and, with rm -v, the container's anonymous volumes too. Also the volume
// verbs of the API (create, rm, prune).
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "fs/image_store.h"

namespace berth::engine {

namespace {

bool covers(const std::vector<MountSpec>& mounts, const std::string& target) {
  for (const auto& m : mounts)
    if (m.target == target) return true;
  return false;
}

Error bind_source_missing(const std::string& path) {
  return Error::invalid("invalid mount config for type \"bind\": bind source path does not exist: {}", path);
}

}  // namespace

// Image VOLUME entries the client did not mount something else on become
// anonymous volumes (Docker does the same at create).
Result<void> Engine::prepare_mounts(CreateSpec& spec, const fs::Image& img) {
  for (const std::string& path : img.config.volumes) {
    if (path.empty() || path[0] != '/' || path == "/" || covers(spec.mounts, path)) continue;
    MountSpec m;
    m.type = MountSpec::Type::kVolume;
    m.origin = MountSpec::Origin::kVolumes;
    m.target = path;
    m.anonymous = true;
    spec.mounts.push_back(std::move(m));
  }
  for (const MountSpec& m : spec.mounts)
    if (m.type == MountSpec::Type::kBind && m.origin == MountSpec::Origin::kMounts && !path_exists(m.source))
      return bind_source_missing(m.source);
  for (MountSpec& m : spec.mounts) {
    if (m.type != MountSpec::Type::kVolume) continue;
    if (m.source.empty()) {
      m.anonymous = true;
      do {
        m.source = random_id();
      } while (volumes_->find(m.source));
    }
    auto labels = m.volume_labels;
    if (m.anonymous) labels[kAnonymousVolumeLabel] = "";
    const Volume* v = BERTH_TRY(volumes_->create(m.source, "local", labels, {}));
    m.host_path = v->data_dir();
  }
  return ok();
}

void Engine::track_volumes(const Container& c) {
  for (const MountSpec& m : c.spec.mounts)
    if (m.type == MountSpec::Type::kVolume && !m.source.empty()) volumes_->add_user(m.source, c.id);
}

Result<void> Engine::resolve_mounts(const Container& c, runtime::Spec& spec) {
  spec.readonly_rootfs = c.spec.readonly_rootfs;
  for (const MountSpec& m : c.spec.mounts) {
    runtime::Mount rm;
    rm.target = m.target;
    rm.readonly = m.readonly;
    if (m.type == MountSpec::Type::kTmpfs) {
      rm.kind = runtime::Mount::Kind::kTmpfs;
      rm.attrs = m.tmpfs_attrs;
      rm.options = m.tmpfs_options;
      spec.mounts.push_back(std::move(rm));
      continue;
    }
    if (m.type == MountSpec::Type::kVolume) {
      const Volume* v = volumes_->find(m.source);
      if (!v) return Error::not_found("volume {} of mount {}: no such volume", m.source, m.target);
      rm.source = v->data_dir();
      rm.populate = !m.nocopy;
    } else {
      rm.source = m.source;
      rm.recursive = !m.nonrecursive;
    }
    struct stat st;
    if (::stat(rm.source.c_str(), &st) < 0) {
      if (errno != ENOENT) return Error::sys(errno, "stat {}", rm.source);
      // Docker's -v creates a missing host directory; --mount refuses.
      if (m.type == MountSpec::Type::kBind && m.origin != MountSpec::Origin::kBinds)
        return bind_source_missing(rm.source);
      BERTH_TRY_VOID(make_dirs(rm.source, 0755));
      st.st_mode = S_IFDIR;
    }
    rm.file = !S_ISDIR(st.st_mode);
    spec.mounts.push_back(std::move(rm));
  }
  return ok();
}

std::string Engine::volume_trash_path(const std::string& name) {
  return opts_.root + "/trash/volume-" + name + "." + std::to_string(next_token_++);
}

void Engine::release_volumes(const Container& c, bool remove_anonymous) {
  std::vector<std::string> gone;
  for (const MountSpec& m : c.spec.mounts) {
    if (m.type != MountSpec::Type::kVolume || m.source.empty()) continue;
    volumes_->drop_user(m.source, c.id);
    if (remove_anonymous && m.anonymous && volumes_->find(m.source) && !volumes_->in_use(m.source))
      gone.push_back(m.source);
  }
  if (gone.empty()) return;
  prune_volumes(gone, [id = c.id](VolumePruneReport r) {
    for (const auto& name : r.deleted) log::info("engine", "remove volume name={} of container id={}", name, id);
  });
}

Result<const Volume*> Engine::create_volume(const std::string& name, const std::string& driver,
                                            const std::map<std::string, std::string>& labels,
                                            const std::map<std::string, std::string>& options) {
  std::string n = name;
  if (n.empty()) {
    do {
      n = random_id();
    } while (volumes_->find(n));
  }
  bool existed = volumes_->find(n) != nullptr;
  const Volume* v = BERTH_TRY(volumes_->create(n, driver, labels, options));
  if (!existed) log::info("engine", "create volume name={}", n);
  return v;
}

Result<void> Engine::remove_volume(const std::string& name, bool force) {
  if (!volumes_->find(name)) {
    if (force) return ok();
    return Error::not_found("get {}: no such volume", name);
  }
  if (volumes_->in_use(name)) {
    std::string ids;
    for (const auto& id : volumes_->users(name)) ids += (ids.empty() ? "" : ", ") + id;
    return Error::conflict("remove {}: volume is in use - [{}]", name, ids);
  }
  std::string trash = volume_trash_path(name);
  BERTH_TRY_VOID(volumes_->take_out(name, trash));
  log::info("engine", "remove volume name={}", name);
  bool queued = r_.run_job(
      [trash] {
        if (auto r = remove_tree(trash); !r) log::error("engine", "delete {}: {}", trash, r.error().message());
      },
      [] {});
  if (!queued) log::warn("engine", "job queue full: {} stays in the trash until restart", trash);
  return ok();
}

void Engine::prune_volumes(const std::vector<std::string>& names, std::function<void(VolumePruneReport)> done) {
  auto report = std::make_shared<VolumePruneReport>();
  auto trash = std::make_shared<std::vector<std::string>>();
  for (const std::string& name : names) {
    if (!volumes_->find(name) || volumes_->in_use(name)) continue;
    std::string path = volume_trash_path(name);
    if (auto r = volumes_->take_out(name, path); !r) {
      log::error("engine", "prune volume {}: {}", name, r.error().message());
      continue;
    }
    report->deleted.push_back(name);
    trash->push_back(path);
  }
  if (trash->empty()) return done(std::move(*report));
  bool queued = r_.run_job(
      [report, trash] {
        for (const std::string& path : *trash) {
          report->bytes += fs::tree_file_bytes(path + "/_data");
          if (auto r = remove_tree(path); !r) log::error("engine", "delete {}: {}", path, r.error().message());
        }
      },
      [report, done = std::move(done)] { done(std::move(*report)); });
  if (!queued) {
    log::warn("engine", "job queue full: pruned volumes stay in the trash until restart");
    done(std::move(*report));
  }
}

}  // namespace berth::engine
