// pull: fetches an image from a registry into an ImageStore (docker pull).
//
//   1. resolve the reference (fs/registry/remote.h), contact the registry
//   2. GET the manifest by tag or digest (Accept: OCI index and manifest,
//      Docker manifest list and schema 2); an index picks the host's or the
//      requested platform (fs/registry/platform.h); every manifest is
//      checked against its digest (and size, when a descriptor gives it)
//   3. GET the config blob (verified), which gives the diff IDs
//   4. layers: a layer whose chain directory and blob are in the store
//      "Already exists"; the others are downloaded at most
//      `parallel_downloads` at once (curl multi, on a download thread the
//      pull starts and joins) into the store's ingest dir, each verified
//      (size and digest: a mismatch discards it, "digest mismatch for layer
//      sha256:...") and committed as a blob; meanwhile up to
//      `parallel_unpacks` threads (the caller's and pull's own) unpack each
//      blob as soon as it is in, lowest layer first among those ready
//      (ImageStore::Ingest::unpack_layer, which checks the diff ID). Not
//      strictly in order, as Docker's graph drivers must: a berth layer
//      is a directory of its own (an overlay lower), not a diff applied
//      onto its parent's copy, so only publication waits for all of them.
//   5. publish atomically (ImageStore::add_pulled): tag, RepoDigest
//      ("name@<digest the reference resolved to>")
//
// Transient failures (5xx, 429, resets, timeouts, a registry that went
// away) are retried with backoff (RegistryOptions::retries); a blob whose
// download broke off resumes with `Range: bytes=<have>-` (a 200 answer
// starts it over). On any error or cancel, the download thread is stopped
// and joined, temp files are removed and the Ingest collects the blobs and
// layers this pull stored: nothing half-made stays (disk full included).
//
// Threads: pull() BLOCKS for the whole pull: call it on a job-pool thread,
// never the reactor. It runs threads of its own (one for the downloads,
// parallel_unpacks - 1 more unpackers), all joined before it returns. `progress` is called from either thread, never
// concurrently (fs/registry/progress.h). `cancel` may be set from any
// thread (the API layer sets it when the client goes away): transfers in
// flight abort within about 100 ms and pull() returns Code::kCancelled.
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

struct PullOptions {
  std::string reference;  // "busybox", "localhost:5000/x:t", "x@sha256:..."
  std::string platform;   // "" for the host's; "linux/arm64/v8"
  Credentials credentials;
  RegistryOptions registry;
  size_t parallel_downloads = 3;
  size_t parallel_unpacks = 2;  // layers unpacked at once (gzip inflation is the costly part)
};

struct PullResult {
  std::string image_id;
  std::string digest;    // what the reference resolved to (the index's, for a multi-platform image)
  std::string repo_tag;  // familiar "busybox:latest", or "" for a pull by digest
  bool up_to_date = false;
  int64_t downloaded_bytes = 0;
  int retries = 0;             // transient failures retried
  int64_t resumed_bytes = 0;   // bytes kept across a broken-off download (Range)
};

// `sources` may be null (no record of where blobs came from).
Result<PullResult> pull(ImageStore& store, BlobSources* sources, const PullOptions& opts, const ProgressFn& progress,
                        const std::atomic<bool>* cancel);

}  // namespace berth::fs::registry
