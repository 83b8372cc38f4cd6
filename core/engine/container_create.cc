// create: validate, resolve the image, reserve the name and the volumes;
// then one job makes the container's directories (unless a warm init gave
// them) and volumes and writes its first state; the container exists (in
// the table, in the API) once that is on disk.
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/container_security.h"
#include "core/engine/engine.h"
#include "core/base/signals.h"
#include "core/engine/images.h"
#include "core/engine/networks.h"
#include "core/engine/resources.h"
#include "core/engine/state_store.h"
#include "core/engine/volumes.h"
#include "core/engine/warm.h"

namespace berth::engine {

namespace {

std::vector<std::string> resolve_args(const CreateSpec& s, const fs::ImageConfig& img) {
  // Docker: an entrypoint given at create replaces the image's and clears the
  // image's cmd; a cmd given at create replaces the image's cmd.
  std::vector<std::string> args = s.entrypoint_set ? s.entrypoint : img.entrypoint;
  const std::vector<std::string>& cmd = s.cmd_set ? s.cmd : (s.entrypoint_set ? s.cmd : img.cmd);
  args.insert(args.end(), cmd.begin(), cmd.end());
  return args;
}

// The container's directory: its own (0700, keeping others out on the
// host) with upper (the overlay's root as the container sees it: 0755),
// work and rootfs. Remapped (runtime/userns.h): 0711, so that the init,
// root of its user namespace only, reaches rootfs and its /etc files, and
// the upper dir is its root's. Blocking: the create job.
Result<void> make_container_dirs(const std::string& dir, const runtime::IdMap& remap) {
  int own = remap ? 0711 : 0700;
  for (auto [sub, mode] : {std::pair{"", own}, {"/upper", 0755}, {"/work", 0700}, {"/rootfs", 0755}}) {
    if (::mkdir((dir + sub).c_str(), mode_t(mode)) < 0) {
      Error e = Error::sys(errno, "mkdir {}{}", dir, sub);
      (void)remove_tree(dir);
      return e.context("create container");
    }
  }
  if (remap && ::chown((dir + "/upper").c_str(), remap.uid, remap.gid) < 0) {
    Error e = Error::sys(errno, "chown {}/upper", dir);
    (void)remove_tree(dir);
    return e.context("create container");
  }
  if (auto r = make_etc_files(dir); !r) {
    (void)remove_tree(dir);
    return std::move(r.error()).context("create container");
  }
  return ok();
}

}  // namespace

void Engine::create(CreateSpec spec, DoneWith<Container*> done) {
  if (!spec.name.empty()) {
    if (spec.name[0] == '/') spec.name.erase(0, 1);
    if (!valid_name(spec.name))
      return done(Error::invalid("Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", spec.name));
    if (auto it = names_.find(spec.name); it != names_.end())
      return done(Error::conflict(
          "Conflict. The container name \"/{}\" is already in use by container \"{}\". You have to "
          "remove (or rename) that container to be able to reuse that name.",
          spec.name, it->second));
  }
  if (auto r = resources_->check(spec.resources); !r) return done(std::move(r.error()));
  if (auto r = check_security_references(*this, spec.security); !r) return done(std::move(r.error()));
  if (auto r = check_userns(*this, spec.security, spec.network_mode); !r) return done(std::move(r.error()));
  // Docker's default: memory plus as much swap, when only memory is limited.
  auto& res = spec.resources;
  if (res.memory && *res.memory > 0 && !res.memory_swap) res.memory_swap = 2 * *res.memory;
  for (const auto& part : split(spec.cgroup_parent, '/'))
    if (part == "..") return done(Error::invalid("invalid CgroupParent {}: no \"..\" allowed", spec.cgroup_parent));
  if (spec.image.empty()) return done(Error::invalid("No image specified"));
  // Links name containers that exist now (Docker's check); kept by name.
  for (auto& [target, alias] : spec.links) {
    auto t = find(target);
    if (!t) return done(Error::invalid("could not get container for {}: No such container: {}", target, target));
    target = (*t)->name;
  }
  auto img = images_->store().resolve(spec.image);
  if (!img) return done(std::move(img.error()));
  auto warnings = networks_->check_create(spec, img->config);
  if (!warnings) return done(std::move(warnings.error()));

  auto c = std::make_unique<Container>();
  c->path_args = resolve_args(spec, img->config);
  if (c->path_args.empty()) return done(Error::invalid("No command specified"));
  volumes_->prepare(spec, img->config.volumes);
  // The image's STOPSIGNAL when the request gives none (Docker merges it
  // into the container's Config the same way); an unknown one is ignored.
  if (spec.stop_signal.empty() && parse_signal(img->config.stop_signal)) spec.stop_signal = img->config.stop_signal;
  // The image's HEALTHCHECK, merged as Docker merges it: its Test when the
  // request gives none, and each duration the request leaves at 0.
  if (!img->config.health_test.empty()) {
    const auto& ic = img->config;
    auto pick = [](int64_t own, int64_t image) { return own ? own : image; };
    HealthConfig merged;
    auto v = check_health_config(spec.health.test.empty() ? ic.health_test : spec.health.test, pick(spec.health.interval_ns, ic.health_interval_ns),
                                 pick(spec.health.timeout_ns, ic.health_timeout_ns),
                                 pick(spec.health.start_period_ns, ic.health_start_period_ns),
                                 pick(spec.health.start_interval_ns, ic.health_start_interval_ns),
                                 spec.health.retries ? spec.health.retries : ic.health_retries, &merged);
    if (v.ok) spec.health = std::move(merged);   // an image's bad one is ignored, as a bad STOPSIGNAL is
  }
  c->created_ns = now_ns();
  c->image_id = img->id;
  c->image_ref = spec.image;
  c->spec = std::move(spec);
  // A warm init of the image gives its id and its directories, or the
  // container gets its own.
  runtime::IdMap remap = c->spec.security.host_userns ? runtime::IdMap{} : opts_.userns_remap;
  c->spec.userns = remap;
  bool warm = !remap && warm_->adopt(*c);
  if (!warm) {
    do {
      c->id = random_id();
    } while (warm_->id_taken(c->id) || containers_.count(c->id));
    c->dir = opts_.containers_dir() + "/" + c->id;
  }
  if (c->spec.name.empty()) {
    uint64_t seed = std::stoull(c->id.substr(0, 12), nullptr, 16);
    c->spec.name = generate_name(seed);
    for (int i = 2; names_.count(c->spec.name); i++) c->spec.name = generate_name(seed) + std::to_string(i);
  }
  c->name = c->spec.name;
  c->create_warnings = std::move(*warnings);
  names_[c->name] = c->id;   // reserved from now on
  volumes_->track(*c);       // volumes in use from now on (a prune keeps them)

  struct Job {
    std::unique_ptr<Container> c;
    std::string state;
    bool make_dirs = false;
    std::shared_ptr<VolumeStore> volumes;
    std::vector<std::string> made;   // volumes the job created
    NetworkStart files;               // /etc/hosts, hostname, resolv.conf
    Result<void> result = ok();
  };
  auto job = std::make_shared<Job>();
  job->state = encode_container(*c);
  job->make_dirs = !warm;
  job->volumes = volumes_->shared_store();
  job->files.files = networks_->files_at_create(*c);
  std::string dir = c->dir;
  std::vector<MountSpec> mounts = c->spec.mounts;
  std::vector<DeviceMapping> devices = c->spec.security.devices;
  job->c = std::move(c);
  bool queued = r_.run_job(
      [job, dir, mounts, devices, remap] {
        job->result = [&]() -> Result<void> {
          BERTH_TRY_VOID(resolve_device_mappings(devices));   // refused now rather than at each start
          if (job->make_dirs) BERTH_TRY_VOID(make_container_dirs(dir, remap));
          if (auto r = VolumeService::make_volumes(*job->volumes, mounts, &job->made); !r) {
            if (job->make_dirs) (void)remove_tree(dir);
            return r;
          }
          if (auto r = job->files.write_files(); !r) {
            if (job->make_dirs) (void)remove_tree(dir);
            return r;
          }
          // A state that cannot be written (a full disk) leaves no
          // directory behind: no container without its state.
          if (auto w = write_file_atomic(dir + "/" + kStateFile, job->state, 0600, false); !w) {
            if (job->make_dirs) (void)remove_tree(dir);
            return std::move(w.error()).context("create container");
          }
          return ok();
        }();
      },
      [this, job, done] {
        for (const std::string& v : job->made) volumes_->emit(v, "create");
        Container& ct = *job->c;
        if (!job->result) {
          names_.erase(ct.name);
          volumes_->release(ct, true);   // anonymous volumes made for it go too
          // An adopted warm init goes, with its directory.
          if (ct.warm) {
            ct.warm->adopted = false;
            warm_->drop(std::move(ct.warm), [] {});
          }
          check_shutdown();
          return done(std::move(job->result.error()));
        }
        Container* cp = job->c.get();
        containers_[cp->id] = std::move(job->c);
        log::info("engine", "create id={} name={} image={}{}", cp->id, cp->name, cp->image_id, cp->warm ? " (warm)" : "");
        emit(*cp, "create");
        done(cp);
      });
  if (!queued) {
    names_.erase(job->c->name);
    volumes_->release(*job->c, false);
    if (job->c->warm) {
      job->c->warm->adopted = false;
      warm_->drop(std::move(job->c->warm), [] {});
    }
    done(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
  }
}

}  // namespace berth::engine
