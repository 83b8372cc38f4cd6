// docker save and docker load on the job pool (formats: fs/image_archive.h).
// save streams a piece (about 1 MiB) at a time with back-pressure
// (piece_stream.h, as export), so an archive is never held in memory.
#include <unistd.h>

#include <map>
#include <memory>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/images.h"
#include "core/engine/piece_stream.h"
#include "fs/image_archive.h"
#include "fs/reference.h"

namespace berth::engine {

namespace {

// "busybox" (a repository without tag or digest): Docker saves every tag of
// the repository.
bool is_name_only(const std::string& ref) {
  size_t slash = ref.rfind('/');
  std::string_view last = slash == std::string::npos ? std::string_view(ref) : std::string_view(ref).substr(slash + 1);
  return last.find(':') == std::string_view::npos && ref.find('@') == std::string::npos;
}

// Which images to save and the tags to record for each (Docker's
// tarexport parseNames): a tag records itself, a repository name all its
// tags, an ID none.
Result<std::vector<fs::SaveItem>> save_items(const fs::ImageStore& store, const std::vector<std::string>& names) {
  std::map<std::string, std::vector<std::string>> tags_by_id;
  std::vector<std::string> order;
  auto add = [&](const std::string& id, const std::string& tag) {
    auto [it, fresh] = tags_by_id.try_emplace(id);
    if (fresh) order.push_back(id);
    if (!tag.empty() && std::find(it->second.begin(), it->second.end(), tag) == it->second.end())
      it->second.push_back(tag);
  };
  for (const std::string& name : names) {
    fs::Image img = BERTH_TRY(store.resolve(name));
    auto parsed = fs::parse_reference(name);
    bool by_id = starts_with(img.id, name) || starts_with(img.id, std::string(fs::kSha256Prefix) + name);
    if (by_id || !parsed || !parsed->digest.empty()) {
      add(img.id, "");
    } else if (is_name_only(name)) {
      for (const fs::Image& other : store.list())
        for (const std::string& t : other.repo_tags)
          if (auto r = fs::parse_reference(t); r && r->familiar_name() == parsed->familiar_name()) add(other.id, t);
    } else {
      add(img.id, parsed->familiar_string());
    }
  }
  std::vector<fs::SaveItem> items;
  for (const std::string& id : order) items.push_back({id, tags_by_id[id]});
  return items;
}

}  // namespace

void ImageService::save(const std::vector<std::string>& names, ExportPiece piece) {
  if (names.empty()) return piece(Error::invalid("no images to save"), true, {});
  auto items = save_items(*store_, names);
  if (!items) return piece(std::move(items.error()), true, {});
  log::debug("engine", "save {} image(s)", items->size());
  // The archive is made on the bulk lane a piece at a time (piece_stream.h).
  std::shared_ptr<const fs::ImageStore> store = store_;
  auto open = [store, items = std::move(*items)]() -> Result<PieceProducer> {
    std::shared_ptr<fs::SaveArchive> archive = BERTH_TRY(fs::SaveArchive::open(*store, items));
    return PieceProducer([archive](std::string* out, size_t budget) { return archive->produce(out, budget); });
  };
  stream_pieces(e_.r_, std::move(open), std::move(piece), "save");
}

void ImageService::load(std::string tar_path, DoneWith<std::vector<fs::LoadedImage>> done) {
  auto result = std::make_shared<Result<std::vector<fs::LoadedImage>>>(Error(Code::kCancelled, "load not run"));
  auto store = store_;
  bool queued = e_.r_.run_bulk(
      [=] {
        *result = store->load_archive(tar_path);
        ::unlink(tar_path.c_str());
      },
      [this, result, done] {
        if (*result)
          for (const fs::LoadedImage& img : **result) e_.events_.publish({"image", "load", img.id, {}, now_ns()});
        done(std::move(*result));
      });
  if (!queued) {
    ::unlink(tar_path.c_str());
    done(Error(Code::kSystem, "load: berthd is too busy (job backlog full); try again"));
  }
}

}  // namespace berth::engine
