// Progress of a pull or a push as plain events, for the API layer to turn
// into Docker's JSON progress stream (one JSON object per event, the way
// the docker CLI draws its bars):
//
//   {"status": <status>, "id": <id>,                       id omitted when ""
//    "progressDetail": {"current": <current>, "total": <total>},   {} when !has_detail
//    "progress": "[=====>     ] 1.2MB/5MB"}                 only with has_detail
//   push's last event also carries {"aux": {"Tag": aux_tag, "Digest": aux_digest, "Size": aux_size}}
//
// Pull, in order (id = the layer's short ID, 12 hex digits of its blob digest):
//   "Pulling from library/busybox"             id = the tag (or the digest)
//   "Pulling fs layer" | "Already exists"      per layer
//   "Waiting"                                  layers queued behind the bounded downloads
//   "Downloading" current/total                bytes of the blob
//   "Verifying Checksum", "Download complete"
//   "Extracting" current/total                 bytes of the blob read by the unpacker
//   "Pull complete"
//   "Digest: sha256:..."                       no id
//   "Status: Downloaded newer image for x:y" | "Status: Image is up to date for x:y"
// Push:
//   "The push refers to repository [localhost:5000/x]"
//   "Preparing", "Waiting", "Pushing" current/total, "Pushed",
//   "Layer already exists", "Mounted from <repo>"     per layer
//   "<tag>: digest: sha256:... size: N"               with aux
//
// The callback runs on the pull's or push's own threads, one event at a
// time (never concurrently), and must return quickly; it must not call back
// into the pull.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace berth::fs::registry {

// Bytes between two progress events of one layer (pull and push).
inline constexpr int64_t kProgressStepBytes = 512 << 10;

struct ProgressEvent {
  std::string id;
  std::string status;
  bool has_detail = false;
  int64_t current = 0, total = 0;
  std::string aux_tag, aux_digest;
  int64_t aux_size = 0;
};

using ProgressFn = std::function<void(const ProgressEvent&)>;

// "sha256:0123456789ab..." -> "0123456789ab"
inline std::string short_id(const std::string& digest) {
  size_t colon = digest.find(':');
  return digest.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

}  // namespace berth::fs::registry
