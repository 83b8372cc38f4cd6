// docker rmi and docker history. Which containers use which image is read
// on the reactor thread; the store work (index writes, deleting files)
// runs on the job pool with that snapshot.
//
// Docker's rules (daemon/images/image_delete.go), checked before anything
// changes (Docker untags some references before it finds a conflict; berth
// refuses without side effects):
//  - by tag: an image with other tags just loses this one; the last tag of
//    an image a container uses is kept unless forced ("unable to remove
//    repository reference"); once untagged, an image a container uses stays.
//  - by ID: a running container's image cannot be deleted, even forced;
//    without force, nor can one with tags in several repositories or one a
//    stopped container uses.
// Where Docker's forced delete would drop an image a stopped container
// still uses (its graph driver keeps the layers alive by reference), berth
// only untags it: the container's overlay lowers are that image's layers,
// and an untagged image a container uses is exactly what prune keeps.
#include <algorithm>
#include <set>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/images.h"
#include "core/engine/warm.h"
#include "fs/digest.h"
#include "fs/image_history.h"
#include "fs/reference.h"

namespace berth::engine {

namespace {

struct ImageUse {
  std::string container_id, image_id;
  bool running = false;
};

std::string short_hex(std::string_view id) {
  if (size_t colon = id.find(':'); colon != std::string_view::npos) id.remove_prefix(colon + 1);
  return std::string(id.substr(0, 12));
}

// Docker's isImageIDPrefix.
bool is_id_ref(const std::string& id, const std::string& ref) {
  return starts_with(id, ref) || starts_with(id, std::string(fs::kSha256Prefix) + ref);
}

const ImageUse* first_use(const std::vector<ImageUse>& uses, const std::string& id, int running /* -1: any */) {
  for (const ImageUse& u : uses)
    if (u.image_id == id && (running < 0 || u.running == (running == 1))) return &u;
  return nullptr;
}

Error delete_conflict(const std::string& id, bool hard, const std::string& why) {
  return Error::conflict("conflict: unable to delete {} ({}) - {}", short_hex(id),
                         hard ? "cannot be forced" : "must be forced", why);
}

using Items = std::vector<ImageDeleteItem>;

Result<void> untag_all(fs::ImageStore& store, const std::vector<std::string>& tags, Items* out) {
  for (const std::string& t : tags) {
    BERTH_TRY_VOID(store.untag(t));
    out->push_back({t, {}});
  }
  return ok();
}

Result<void> delete_by_id(fs::ImageStore& store, const fs::Image& img, bool force,
                          const std::vector<ImageUse>& uses, Items* out) {
  if (const ImageUse* u = first_use(uses, img.id, 1))
    return delete_conflict(img.id, true, fmt::format("image is being used by running container {}",
                                                     short_hex(u->container_id)));
  std::set<std::string> repos;
  for (const std::string& t : img.repo_tags)
    if (auto r = fs::parse_reference(t)) repos.insert(r->familiar_name());
  if (!force && repos.size() > 1)
    return delete_conflict(img.id, false, "image is referenced in multiple repositories");
  const ImageUse* stopped = first_use(uses, img.id, 0);
  if (!force && stopped)
    return delete_conflict(img.id, false, fmt::format("image is being used by stopped container {}",
                                                      short_hex(stopped->container_id)));
  BERTH_TRY_VOID(untag_all(store, img.repo_tags, out));
  if (stopped) return ok();  // forced: untagged, kept for the container (see above)
  fs::GcReport gc = BERTH_TRY(store.remove_image(img.id));
  out->push_back({{}, img.id});
  for (const std::string& chain : gc.deleted_layers) out->push_back({{}, chain});
  return ok();
}

Result<Items> delete_image(fs::ImageStore& store, const std::string& ref, bool force,
                           const std::vector<ImageUse>& uses) {
  fs::Image img = BERTH_TRY(store.resolve(ref));
  Items out;
  auto parsed = fs::parse_reference(ref);
  bool by_tag = !is_id_ref(img.id, ref) && parsed && parsed->digest.empty();
  if (!by_tag) {
    BERTH_TRY_VOID(delete_by_id(store, img, force, uses, &out));
    return out;
  }
  std::string tag = parsed->familiar_string();
  const ImageUse* user = first_use(uses, img.id, -1);
  if (user && img.repo_tags.size() == 1 && !force)
    return Error::conflict("conflict: unable to remove repository reference \"{}\" (must force) - container {} is "
                           "using its referenced image {}",
                           ref, short_hex(user->container_id), short_hex(img.id));
  BERTH_TRY_VOID(untag_all(store, {tag}, &out));
  if (img.repo_tags.size() > 1 || user) return out;
  img.repo_tags.clear();
  BERTH_TRY_VOID(delete_by_id(store, img, force, uses, &out));
  return out;
}

}  // namespace

void ImageService::remove(std::string ref, bool force, DoneWith<std::vector<ImageDeleteItem>> done) {
  // Warm inits hold the image's layers mounted; they would only be made
  // again for the next container of it, untagged or not.
  if (auto img = store_->resolve(ref)) e_.warm_->drop_image(img->id);
  std::vector<ImageUse> uses;
  for (const auto& [id, c] : e_.containers_) {
    Status s = c->state.status;
    uses.push_back({id, c->image_id, is_running(s) || s == Status::kRestarting});
  }
  auto result = std::make_shared<Result<Items>>(Error(Code::kCancelled, "rmi not run"));
  auto store = store_;
  bool queued = e_.r_.run_bulk([=] { *result = delete_image(*store, ref, force, uses); },
                           [this, result, done] {
                             if (*result)
                               for (const ImageDeleteItem& it : **result)
                                 e_.events_.publish({"image", it.untagged.empty() ? "delete" : "untag",
                                                  it.untagged.empty() ? it.deleted : it.untagged, {}, now_ns()});
                             done(std::move(*result));
                           });
  if (!queued) done(Error(Code::kSystem, "rmi: berthd is too busy (job backlog full); try again"));
}

void ImageService::tag(std::string ref, std::string new_tag, Done done) {
  auto result = std::make_shared<Result<void>>(Error(Code::kCancelled, "tag not run"));
  auto store = store_;
  bool queued = e_.r_.run_job([=] { *result = store->tag(ref, new_tag); },
                           [this, result, new_tag, done] {
                             if (*result) e_.events_.publish({"image", "tag", new_tag, {{"name", new_tag}}, now_ns()});
                             done(std::move(*result));
                           });
  if (!queued) done(Error(Code::kSystem, "tag: berthd is too busy (job backlog full); try again"));
}

void ImageService::history(std::string ref, DoneWith<std::vector<HistoryItem>> done) {
  auto img = store_->resolve(ref);
  if (!img) return done(std::move(img.error()));
  auto result = std::make_shared<Result<std::vector<HistoryItem>>>(Error(Code::kCancelled, "history not run"));
  bool queued = e_.r_.run_bulk(
      [result, img = std::move(*img)] {
        auto entries = fs::parse_history(img.config_json);
        if (!entries) {
          *result = std::move(entries.error());
          return;
        }
        // Layer sizes are those of the non-empty entries, bottom up.
        std::vector<HistoryItem> out;
        size_t layer = 0;
        for (const fs::HistoryEntry& h : *entries) {
          HistoryItem it;
          it.id = "<missing>";
          it.created_s = h.created_ns / 1'000'000'000;
          it.created_by = h.created_by;
          it.comment = h.comment;
          if (!h.empty_layer && layer < img.layer_dirs.size()) it.size_bytes = fs::tree_file_bytes(img.layer_dirs[layer++]);
          out.push_back(std::move(it));
        }
        if (out.empty()) out.push_back({"<missing>", img.created_ns / 1'000'000'000, {}, {}, {}, img.size_bytes});
        std::reverse(out.begin(), out.end());
        out.front().id = img.id;
        out.front().tags = img.repo_tags;
        *result = std::move(out);
      },
      [result, done] { done(std::move(*result)); });
  if (!queued) done(Error(Code::kSystem, "history: berthd is too busy (job backlog full); try again"));
}

}  // namespace berth::engine
