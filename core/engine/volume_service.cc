// VolumeService (volumes.h): volume verbs and the mounts of containers. At
// create, image VOLUME entries join the client's mounts, anonymous volumes
// get their names and named volumes are made on first use (in the create
// job); at start, every mount becomes a runtime::Mount (volumes are binds
// of their data directory, copied up from the container's content while
// empty); at rm, volume uses go and, with rm -v, anonymous volumes too.
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/events.h"
#include "core/engine/volumes.h"
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

void VolumeService::prepare(CreateSpec& spec, const std::vector<std::string>& image_volumes) {
  // Image VOLUME entries the client did not mount something else on become
  // anonymous volumes (Docker does the same at create).
  for (const std::string& path : image_volumes) {
    if (path.empty() || path[0] != '/' || path == "/" || covers(spec.mounts, path)) continue;
    MountSpec m;
    m.type = MountSpec::Type::kVolume;
    m.origin = MountSpec::Origin::kVolumes;
    m.target = path;
    m.anonymous = true;
    spec.mounts.push_back(std::move(m));
  }
  for (MountSpec& m : spec.mounts) {
    if (m.type != MountSpec::Type::kVolume) continue;
    if (m.source.empty()) {
      m.anonymous = true;
      do {
        m.source = random_id();
      } while (store_->find(m.source));
    }
    if (m.anonymous) m.volume_labels[kAnonymousVolumeLabel] = "";
    m.host_path = store_->data_dir(m.source);
  }
}

Result<void> VolumeService::make_volumes(VolumeStore& store, const std::vector<MountSpec>& mounts,
                                         std::vector<std::string>* made) {
  for (const MountSpec& m : mounts)
    if (m.type == MountSpec::Type::kBind && m.origin == MountSpec::Origin::kMounts && !path_exists(m.source))
      return bind_source_missing(m.source);
  for (const MountSpec& m : mounts) {
    if (m.type != MountSpec::Type::kVolume) continue;
    bool created = false;
    BERTH_TRY_VOID(store.create(m.source, "local", m.volume_labels, {}, &created));
    if (created) {
      log::info("engine", "create volume name={}", m.source);
      made->push_back(m.source);
    }
  }
  return ok();
}

void VolumeService::emit(const std::string& name, const char* action, std::map<std::string, std::string> attrs) {
  attrs["driver"] = "local";
  Event ev;
  ev.type = "volume";
  ev.action = action;
  ev.id = name;
  ev.attributes = std::move(attrs);
  e_.events_.publish(std::move(ev));
}

void VolumeService::emit_mounts(const Container& c, const char* action) {
  for (const MountSpec& m : c.spec.mounts)
    if (m.type == MountSpec::Type::kVolume)
      emit(m.source, action,
           {{"container", c.id}, {"destination", m.target}, {"read/write", m.readonly ? "false" : "true"},
            {"propagation", ""}});
}

void VolumeService::track(const Container& c) {
  for (const MountSpec& m : c.spec.mounts)
    if (m.type == MountSpec::Type::kVolume && !m.source.empty()) store_->add_user(m.source, c.id);
}

Result<void> VolumeService::resolve_mounts(const Container& c, runtime::Spec& spec) const {
  spec.readonly_rootfs = c.spec.readonly_rootfs;
  for (const MountSpec& m : c.spec.mounts) {
    runtime::Mount rm;
    rm.target = m.target;
    rm.readonly = m.readonly;
    if (m.type == MountSpec::Type::kTmpfs) {
      rm.kind = runtime::Mount::Kind::kTmpfs;
      rm.attrs = m.tmpfs_attrs;
      rm.options = m.tmpfs_options;
    } else if (m.type == MountSpec::Type::kVolume) {
      rm.source = store_->data_dir(m.source);
      rm.populate = !m.nocopy;
    } else {
      rm.source = m.source;
      rm.recursive = !m.nonrecursive;
      rm.make_source = m.origin == MountSpec::Origin::kBinds;
    }
    spec.mounts.push_back(std::move(rm));
  }
  return ok();
}

Result<void> VolumeService::prepare_sources(std::vector<runtime::Mount>& mounts) {
  for (runtime::Mount& rm : mounts) {
    if (rm.kind != runtime::Mount::Kind::kBind) continue;
    struct stat st;
    if (::stat(rm.source.c_str(), &st) < 0) {
      if (errno != ENOENT) return Error::sys(errno, "stat {}", rm.source);
      if (!rm.make_source && !rm.populate) return bind_source_missing(rm.source);
      if (rm.populate) return Error::not_found("volume data {} of mount {}: no such volume", rm.source, rm.target);
      BERTH_TRY_VOID(make_dirs(rm.source, 0755));
      st.st_mode = S_IFDIR;
    }
    rm.file = !S_ISDIR(st.st_mode);
  }
  return ok();
}

std::string VolumeService::trash_path(const std::string& name) {
  return e_.opts_.trash_dir() + "/volume-" + name + "." + std::to_string(e_.token());
}

void VolumeService::release(const Container& c, bool remove_anonymous) {
  std::vector<std::string> gone;
  for (const MountSpec& m : c.spec.mounts) {
    if (m.type != MountSpec::Type::kVolume || m.source.empty()) continue;
    store_->drop_user(m.source, c.id);
    if (remove_anonymous && m.anonymous && !store_->in_use(m.source)) gone.push_back(m.source);
  }
  if (gone.empty()) return;
  prune(std::move(gone), [id = c.id](PruneReport r) {
    for (const auto& name : r.deleted) log::info("engine", "remove volume name={} of container id={}", name, id);
  });
}

void VolumeService::create(std::string name, std::string driver, std::map<std::string, std::string> labels,
                           std::map<std::string, std::string> options, DoneWith<Volume> done) {
  if (name.empty()) {
    // Unnamed: an anonymous volume, as Docker 23+ marks them (prune takes
    // those by default).
    do {
      name = random_id();
    } while (store_->find(name));
    labels[kAnonymousVolumeLabel] = "";
  }
  if (auto r = VolumeStore::check(name, driver, options); !r) return done(std::move(r.error()));
  auto result = std::make_shared<Result<Volume>>(Error(Code::kCancelled, "volume create not run"));
  auto created = std::make_shared<bool>(false);
  auto store = store_;
  bool queued = e_.r_.run_job(
      [store, result, created, name, driver, labels, options] {
        *result = store->create(name, driver, labels, options, created.get());
        if (*result && *created) log::info("engine", "create volume name={}", name);
      },
      [this, result, created, name, done] {
        if (*result && *created) emit(name, "create");
        done(std::move(*result));
      });
  if (!queued) done(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
}

void VolumeService::remove(const std::string& name, bool force, Done done) {
  if (!store_->find(name)) {
    if (force) return done(ok());
    return done(Error::not_found("get {}: no such volume", name));
  }
  std::string trash = trash_path(name);
  auto result = std::make_shared<Result<void>>(ok());
  auto store = store_;
  bool queued = e_.r_.run_job(
      [store, result, name, trash] {
        *result = store->take_out(name, trash);
        if (!*result) return;
        log::info("engine", "remove volume name={}", name);
        if (auto r = remove_tree(trash); !r) log::error("engine", "delete {}: {}", trash, r.error().message());
      },
      [this, result, name, done] {
        if (*result) emit(name, "destroy");
        done(std::move(*result));
      });
  if (!queued) done(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
}

void VolumeService::prune(std::vector<std::string> names, std::function<void(PruneReport)> done) {
  std::vector<std::pair<std::string, std::string>> victims;  // name, trash path
  for (std::string& name : names)
    if (!store_->in_use(name)) victims.emplace_back(name, trash_path(name));
  if (victims.empty()) return done({});
  auto report = std::make_shared<PruneReport>();
  auto store = store_;
  bool queued = e_.r_.run_job(
      [store, report, victims = std::move(victims)] {
        for (const auto& [name, path] : victims) {
          if (auto r = store->take_out(name, path); !r) {
            if (r.error().code() != Code::kNotFound && r.error().code() != Code::kConflict)
              log::error("engine", "prune volume {}: {}", name, r.error().message());
            continue;
          }
          report->deleted.push_back(name);
          report->bytes += fs::tree_file_bytes(path + "/_data");
          if (auto r = remove_tree(path); !r) log::error("engine", "delete {}: {}", path, r.error().message());
        }
      },
      [this, report, done = std::move(done)] {
        for (const auto& name : report->deleted) emit(name, "destroy");
        done(std::move(*report));
      });
  if (!queued) {
    log::error("engine", "prune volumes: the job backlog is full");
    done({});
  }
}

}  // namespace berth::engine
