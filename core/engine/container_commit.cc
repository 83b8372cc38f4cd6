// commit: the container's upper dir becomes a new layer over its image
// (fs::ImageStore::commit_container, on the job pool: tar, sha256, unpack),
// with the container's config as Docker commits it. A running container is
// frozen for the snapshot when asked (Docker's default), with the same
// pause/unpause as the API's (events included), and thawed afterwards
// unless it was paused before.
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/files.h"
#include "core/engine/images.h"

namespace berth::engine {

Result<fs::ImageConfig> ContainerFiles::commit_config(const Container& c) {
  fs::Image img = BERTH_TRY_CTX(e_.images().store().resolve(c.image_id), "container {}", c.id);
  // ExposedPorts and StopSignal live only in the Config the client sent.
  fs::ImageConfig own = fs::parse_runtime_config(c.spec.config_json).value_or(fs::ImageConfig{});
  own.env = c.spec.env;
  own.cmd = c.spec.cmd_set ? c.spec.cmd : std::vector<std::string>{};
  own.entrypoint = c.spec.entrypoint_set ? c.spec.entrypoint : std::vector<std::string>{};
  own.working_dir = c.spec.working_dir;
  own.user = c.spec.user;
  own.labels = c.spec.labels;
  // Docker's container Config is the image's under the container's own
  // settings (merged at create); berth keeps the two apart and merges here.
  return fs::merge_image_config(std::move(own), img.config);
}

void ContainerFiles::commit(Container& c, CommitOptions o, DoneWith<fs::Image> done) {
  if (!can(Verb::kCommit, c.state.status, c.id))
    return done(Error::conflict("You cannot commit container {}: it is being removed", c.id));
  auto base = commit_config(c);
  if (!base) return done(std::move(base.error()));
  fs::CommitSpec spec;
  spec.parent_id = c.image_id;
  spec.upper_dir = c.dir + "/upper";
  spec.shift = id_shift_of(c);
  spec.child.config = fs::merge_image_config(std::move(o.config), *base);
  spec.child.author = o.author;
  spec.child.comment = o.comment;
  for (const std::string& a : base->cmd) spec.child.created_by += (spec.child.created_by.empty() ? "" : " ") + a;
  spec.child.container_id = c.id;
  spec.repo_tag = o.repo_tag;

  std::string id = c.id;
  std::shared_ptr<fs::ImageStore> store = e_.images().shared_store();
  auto snapshot = [this, id, store, spec = std::move(spec), comment = o.comment, done](bool thaw) {
    auto result = std::make_shared<Result<fs::Image>>(Error(Code::kCancelled, "commit not run"));
    // The answer comes once the container runs again, as Docker's does.
    auto answer = [this, id, result, comment, done] {
      Container* ct = e_.by_id(id);
      if (*result && ct) {
        log::info("engine", "commit id={} image={}", id, (*result)->id);
        e_.emit(*ct, "commit", {{"comment", comment}, {"imageID", (*result)->id}});
      }
      done(std::move(*result));
    };
    auto finish = [this, id, thaw, answer] {
      Container* ct = e_.by_id(id);
      if (!ct || !thaw || ct->state.status != Status::kPaused) return answer();
      e_.unpause(*ct, [id, answer](Result<void> r) {
        if (!r) log::error("engine", "commit: unpause id={}: {}", id, r.error().message());
        answer();
      });
    };
    if (!e_.r_.run_bulk([store, spec, result] { *result = store->commit_container(spec); }, finish)) {
      *result = Error(Code::kSystem, "commit: berthd is too busy (job backlog full); try again");
      finish();
    }
  };
  if (!o.pause || c.state.status != Status::kRunning) return snapshot(false);
  e_.pause(c, [id, snapshot, done](Result<void> r) {
    if (r) return snapshot(true);
    // Without a freezer (no cgroups) the snapshot is taken live; a
    // container that stopped meanwhile has nothing to freeze. Any other
    // failure fails the commit, as Docker's does.
    if (r.error().code() != Code::kNotSupported && r.error().code() != Code::kConflict)
      return done(std::move(r.error()).context("commit: pause container {}", id));
    log::debug("engine", "commit id={} without freezing: {}", id, r.error().message());
    snapshot(false);
  });
}

}  // namespace berth::engine
