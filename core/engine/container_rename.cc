// rename: a new name for a container, running or not. The name table, the
// containers that link to it (links are kept by name), its DNS names on
// user networks while it runs, then the state of each changed container.
// Its log, directory and id stay as they are.
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/networks.h"

namespace berth::engine {

void Engine::rename(Container& c, std::string name, Done done) {
  if (auto ok_ = can(Verb::kRename, c.state.status, c.id); !ok_) return done(std::move(ok_));
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  if (name.empty()) return done(Error::invalid("Neither old nor new names may be empty"));
  if (!valid_name(name))
    return done(Error::invalid("Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name));
  if (name == c.name) return done(Error::invalid("Renaming a container with the same name as its current name"));
  if (auto it = names_.find(name); it != names_.end())
    return done(Error::conflict(
        "Conflict. The container name \"/{}\" is already in use by container \"{}\". You have to "
        "remove (or rename) that container to be able to reuse that name.",
        name, it->second));
  std::string old = c.name;
  names_.erase(old);
  names_[name] = c.id;
  c.name = name;
  c.spec.name = name;
  networks_->renamed(c, old);
  // Containers that link to it by its old name now name it by the new one.
  for (auto& [id, other] : containers_) {
    bool changed = false;
    for (auto& [target, alias] : other->spec.links)
      if (target == old) target = name, changed = true;
    if (changed && other.get() != &c) persist(*other);
  }
  log::info("engine", "rename id={} from={} to={}", c.id, old, name);
  emit(c, "rename", {{"oldName", "/" + old}});
  persist(c);
  when_persisted(c, [this, id = c.id, done = std::move(done)] { done(unsaved(id, "rename")); });
}

}  // namespace berth::engine
