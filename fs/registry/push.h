// push: uploads an image from an ImageStore to a registry (docker push).
//
// For each layer blob, bottom first, then the config blob:
//   HEAD /v2/<name>/blobs/<digest>                 200: "Layer already exists"
//   POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>
//        when BlobSources knows a sibling repository on the same registry
//        holding it                                201: "Mounted from <repo>"
//   POST /v2/<name>/blobs/uploads/ then
//        PUT <location>&digest=<digest> with the blob (monolithic), or,
//        for blobs over chunk_bytes, PATCH chunks (Content-Range) and a
//        closing PUT                               201: "Pushed"
// then PUT /v2/<name>/manifests/<tag> with the manifest as stored (Docker
// schema 2 or OCI, Content-Type its media type), so the pushed digest is the
// image's manifest digest. Every 201 with a Docker-Content-Digest header must
// name the digest sent. The image then records the RepoDigest
// "name@<digest>", and BlobSources that the repository holds its blobs.
//
// Threads: push() BLOCKS (network and file I/O): job-pool thread only.
// `progress` runs on the calling thread. `cancel` aborts transfers in flight
// (Code::kCancelled); an upload session left open is the registry's to expire.
#pragma once

#include <atomic>
#include <string>

#include "core/base/result.h"
#include "fs/image_store.h"
#include "fs/registry/auth_config.h"
#include "fs/registry/blob_sources.h"
#include "fs/registry/progress.h"
#include "fs/registry/remote.h"

namespace berth::fs::registry {

struct PushOptions {
  std::string reference;  // "localhost:5000/x:t" (no tag: latest); a digest is refused
  Credentials credentials;
  RegistryOptions registry;
  int64_t chunk_bytes = 64 << 20;  // blobs larger than this go up in PATCH chunks of this size
};

struct PushResult {
  std::string tag;
  std::string digest;  // the manifest's
  int64_t size = 0;    // the manifest's bytes
  int layers_pushed = 0, layers_existing = 0, layers_mounted = 0;
};

// `sources` may be null (no cross-repository mounts).
Result<PushResult> push(ImageStore& store, BlobSources* sources, const PushOptions& opts, const ProgressFn& progress,
                        const std::atomic<bool>* cancel);

}  // namespace berth::fs::registry
