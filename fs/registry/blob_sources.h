// BlobSources: a small record of which repositories on which registries are
// known to hold a blob (pulled from there or pushed there), so a push can
// ask the registry to mount the blob from a sibling repository instead of
// uploading it (POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>).
//
// Stored as one JSON file (written atomically):
//   {"version": 1, "blobs": {"sha256:<hex>": ["localhost:5000/x", ...]}}
// newest first, at most kPerBlob repositories per blob and kBlobsMax blobs
// (beyond that, the lowest digests are dropped: a cache, not a record). A lost or unreadable file only costs
// uploads, so open() starts empty on a corrupt one.
//
// Threads: any; a mutex guards the map. add() writes the file (blocking).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace berth::fs::registry {

class BlobSources {
 public:
  static constexpr size_t kPerBlob = 4;
  static constexpr size_t kBlobsMax = 20000;

  static Result<std::unique_ptr<BlobSources>> open(std::string path);

  // Repositories (paths, "library/busybox") on `registry` holding `digest`, newest first.
  std::vector<std::string> repositories(const std::string& digest, const std::string& registry) const;
  // Records that registry/repository holds every one of `digests`.
  Result<void> add(const std::vector<std::string>& digests, const std::string& registry,
                   const std::string& repository);

 private:
  explicit BlobSources(std::string path) : path_(std::move(path)) {}
  Result<void> save() const;

  std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> blobs_;  // digest -> "registry/repository"
};

}  // namespace berth::fs::registry
