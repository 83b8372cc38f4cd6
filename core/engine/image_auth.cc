// docker login (POST /auth) on the bulk lane: a round trip or two to the
// registry (GET /v2/, maybe a token), bounded by the registry options'
// connect and transfer timeouts.
#include <memory>

#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/images.h"

namespace berth::engine {

void ImageService::login(RegistryCredentials creds, DoneWith<LoginResult> done) {
  auto result = std::make_shared<Result<LoginResult>>(Error(Code::kCancelled, "login not run"));
  fs::registry::RegistryOptions opts = e_.opts_.registry;
  std::string registry = fs::registry::normalize_registry(creds.server_address);
  bool queued = e_.r_.run_bulk([result, creds = std::move(creds), opts] {
        *result = fs::registry::check_auth(creds.server_address, creds, opts);
      },
      [result, done, registry] {
        // Never the credentials: only where and how it went.
        if (*result) log::info("engine", "login to {}: {}", registry, (*result)->status);
        else log::info("engine", "login to {}: {}", registry, result->error().message());
        done(std::move(*result));
      });
  if (!queued) done(Error(Code::kSystem, "login: berthd is too busy (job backlog full); try again"));
}

}  // namespace berth::engine
