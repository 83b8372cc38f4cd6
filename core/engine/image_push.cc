// docker push on the bulk lane (images.h: the registry verbs): one tag, or
// every local tag of a repository one after the other (docker push -a).
#include <algorithm>
#include <memory>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/images.h"
#include "core/engine/progress_relay.h"
#include "fs/reference.h"

namespace berth::engine {

namespace {

// "localhost:5000/x" (no tag, no digest): every tag of the repository.
bool names_repository_only(const std::string& ref) {
  size_t slash = ref.rfind('/');
  std::string_view last = slash == std::string::npos ? std::string_view(ref) : std::string_view(ref).substr(slash + 1);
  return last.find(':') == std::string_view::npos && ref.find('@') == std::string::npos;
}

// The familiar "name:tag"s to push, checked against the store on the
// reactor thread (resolve and list only copy the index).
Result<std::vector<std::string>> push_tags(const fs::ImageStore& store, const std::string& reference) {
  fs::Reference ref = BERTH_TRY(fs::parse_reference(reference));
  if (!ref.digest.empty()) return Error::invalid("cannot push a digest reference: {}", reference);
  std::vector<std::string> tags;
  if (names_repository_only(reference)) {
    for (const fs::Image& img : store.list())
      for (const std::string& t : img.repo_tags)
        if (auto r = fs::parse_reference(t); r && r->name() == ref.name()) tags.push_back(t);
    if (tags.empty()) return Error::not_found("An image does not exist locally with the tag: {}", ref.familiar_name());
    std::sort(tags.begin(), tags.end());
    return tags;
  }
  if (!store.resolve(ref.familiar_string()))
    return Error::not_found("An image does not exist locally with the tag: {}", ref.familiar_string());
  tags.push_back(ref.familiar_string());
  return tags;
}

}  // namespace

CancelFlag ImageService::push(PushSpec spec, ProgressSink progress, DoneWith<std::vector<PushResult>> done) {
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto tags = push_tags(*store_, spec.reference);
  if (!tags) {
    done(std::move(tags.error()));
    return cancel;
  }
  auto relay = std::make_shared<ProgressRelay>(e_.r_, std::move(progress));
  fs::registry::PushOptions o;
  o.credentials = std::move(spec.credentials);
  o.registry = e_.opts_.registry;
  auto result = std::make_shared<Result<std::vector<PushResult>>>(Error(Code::kCancelled, "push not run"));
  auto store = store_;
  auto sources = sources_;
  log::info("engine", "push {} ({} tag(s))", spec.reference, tags->size());
  bool queued = e_.r_.run_bulk(
      [result, store, sources, o = std::move(o), tags = *tags, relay, cancel]() mutable {
        std::vector<PushResult> pushed;
        for (const std::string& tag : tags) {
          o.reference = tag;
          auto r = fs::registry::push(*store, sources.get(), o,
                                      [&relay](const RegistryProgress& ev) { relay->push(ev); }, cancel.get());
          if (!r) {
            *result = std::move(r.error());
            return;
          }
          pushed.push_back(std::move(*r));
        }
        *result = std::move(pushed);
      },
      [this, result, relay, done, tags = *tags] {
        relay->drain();
        relay->close();
        if (*result) {
          for (const std::string& tag : tags) {
            auto ref = fs::parse_reference(tag);
            e_.events_.publish({"image", "push", tag, {{"name", ref ? ref->familiar_name() : tag}}, now_ns()});
          }
        } else {
          log::info("engine", "push: {}", result->error().message());
        }
        done(std::move(*result));
      });
  if (!queued) done(Error(Code::kSystem, "push: berthd is too busy (job backlog full); try again"));
  return cancel;
}

}  // namespace berth::engine
