// docker pull on the bulk lane (images.h: the registry verbs), and the
// registry state ImageService keeps: where blobs came from (BlobSources).
#include <memory>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/images.h"
#include "core/engine/progress_relay.h"
#include "fs/reference.h"

namespace berth::engine {

ImageService::ImageService(Engine& e, std::shared_ptr<fs::ImageStore> store) : e_(e), store_(std::move(store)) {
  // Read once at start (the reactor is not running yet). A lost record
  // only costs cross-repository mounts on push.
  std::string dir = e_.opts_.root + "/registry";
  if (auto made = make_dirs(dir, 0700); !made) {
    log::warn("engine", "{}: pushes will not mount blobs across repositories", made.error().message());
    return;
  }
  auto sources = fs::registry::BlobSources::open(dir + "/blob-sources.json");
  if (sources) sources_ = std::move(*sources);
  else log::warn("engine", "blob sources: {}", sources.error().message());
}

ImageService::~ImageService() = default;

namespace {

// The reference as Docker's events name it: "busybox:latest",
// "localhost:5000/x@sha256:...", with its familiar name.
std::pair<std::string, std::string> event_names(const std::string& reference) {
  auto ref = fs::parse_reference(reference);
  if (!ref) return {reference, reference};
  return {ref->familiar_string(), ref->familiar_name()};
}

}  // namespace

CancelFlag ImageService::pull(PullSpec spec, ProgressSink progress, DoneWith<PullResult> done) {
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto relay = std::make_shared<ProgressRelay>(e_.r_, std::move(progress));
  fs::registry::PullOptions o;
  o.reference = spec.reference;
  o.platform = spec.platform;
  o.credentials = std::move(spec.credentials);
  o.registry = e_.opts_.registry;
  auto result = std::make_shared<Result<PullResult>>(Error(Code::kCancelled, "pull not run"));
  auto store = store_;
  auto sources = sources_;
  log::info("engine", "pull {}{}", spec.reference, spec.platform.empty() ? "" : " platform=" + spec.platform);
  bool queued = e_.r_.run_bulk(
      [result, store, sources, o = std::move(o), relay, cancel] {
        *result = fs::registry::pull(*store, sources.get(), o,
                                     [&relay](const RegistryProgress& ev) { relay->push(ev); }, cancel.get());
      },
      [this, result, relay, done, reference = spec.reference] {
        relay->drain();  // every event before the outcome
        relay->close();
        if (*result) {
          auto [id, name] = event_names(reference);
          e_.events_.publish({"image", "pull", id, {{"name", name}}, now_ns()});
          log::info("engine", "pulled {} image={}", reference, (*result)->image_id);
        } else {
          log::info("engine", "pull {}: {}", reference, result->error().message());
        }
        done(std::move(*result));
      });
  if (!queued) done(Error(Code::kSystem, "pull: berthd is too busy (job backlog full); try again"));
  return cancel;
}

}  // namespace berth::engine
