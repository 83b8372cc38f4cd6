// create: validate, resolve the image, allocate id and name, make the
// container's directories, persist.
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"

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

}  // namespace

Result<Container*> Engine::create(CreateSpec spec) {
  if (!spec.name.empty()) {
    if (spec.name[0] == '/') spec.name.erase(0, 1);
    if (!valid_name(spec.name))
      return Error::invalid("Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", spec.name);
    if (auto it = names_.find(spec.name); it != names_.end())
      return Error::conflict(
          "Conflict. The container name \"/{}\" is already in use by container \"{}\". You have to "
          "remove (or rename) that container to be able to reuse that name.",
          spec.name, it->second);
  }
  if (spec.network_mode.empty() || spec.network_mode == "default" || spec.network_mode == "bridge")
    spec.network_mode = "none";  // FIXME(network issue): bridge networking; until then every container gets none
  if (spec.network_mode != "none" && spec.network_mode != "host")
    return Error::invalid("network mode {} is not supported yet (use none or host)", spec.network_mode);
  BERTH_TRY_VOID(check_resources(spec.resources));
  // Docker's default: memory plus as much swap, when only memory is limited.
  auto& res = spec.resources;
  if (res.memory && *res.memory > 0 && !res.memory_swap) res.memory_swap = 2 * *res.memory;
  for (const auto& part : split(spec.cgroup_parent, '/'))
    if (part == "..") return Error::invalid("invalid CgroupParent {}: no \"..\" allowed", spec.cgroup_parent);
  if (spec.image.empty()) return Error::invalid("No image specified");
  fs::Image img = BERTH_TRY(images_->resolve(spec.image));

  auto c = std::make_unique<Container>();
  c->path_args = resolve_args(spec, img.config);
  if (c->path_args.empty()) return Error::invalid("No command specified");
  // Last of the checks: it creates the volumes the container names.
  BERTH_TRY_VOID(prepare_mounts(spec, img));
  c->created_ns = now_ns();
  c->image_id = img.id;
  c->image_ref = spec.image;
  c->spec = std::move(spec);
  // A warm init of the image gives its id and its directories, or the
  // container gets its own.
  if (!warm_adopt(*c)) {
    do {
      c->id = random_id();
    } while (warm_id_taken(c->id));
    c->dir = opts_.root + "/containers/" + c->id;
    // The container dir keeps others out on the host; upper is the overlay's
    // root directory as the container sees it, so it gets the usual 0755.
    for (auto [sub, mode] : {std::pair{"", 0700}, {"/upper", 0755}, {"/work", 0700}, {"/rootfs", 0755}}) {
      if (::mkdir((c->dir + sub).c_str(), mode_t(mode)) < 0) {
        Error e = Error::sys(errno, "mkdir {}{}", c->dir, sub);
        (void)remove_tree(c->dir);
        return e.context("create container");
      }
    }
  }
  if (c->spec.name.empty()) {
    uint64_t seed = std::stoull(c->id.substr(0, 12), nullptr, 16);
    c->spec.name = generate_name(seed);
    for (int i = 2; names_.count(c->spec.name); i++) c->spec.name = generate_name(seed) + std::to_string(i);
  }
  c->name = c->spec.name;
  Container* cp = c.get();
  names_[c->name] = c->id;
  containers_[c->id] = std::move(c);
  track_volumes(*cp);
  persist(*cp);
  log::info("engine", "create id={} name={} image={}{}", cp->id, cp->name, cp->image_id, cp->warm ? " (warm)" : "");
  emit(*cp, "create");
  return cp;
}

}  // namespace berth::engine
