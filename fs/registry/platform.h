// Platforms ("linux/amd64", "linux/arm64/v8", "linux/arm/v7") and the choice
// of one manifest from an image index, the way containerd's platform
// matcher (which Docker uses) picks: os and architecture must match after
// normalisation (aarch64 = arm64, x86_64 = amd64, armhf = arm/v7 ...);
// variants: an amd64 variant is ignored unless one was asked for, arm64
// defaults to v8, arm to v7, and an arm v7 host also runs v6 and v5
// images (best first), as containerd's matcher orders them.
//
// Pure functions on values; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::fs::registry {

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64"
  std::string variant;       // "v8", or ""
  bool operator==(const Platform&) const = default;
  // "linux/arm64/v8", "linux/amd64"
  std::string string() const;
};

// The platform berth runs on (GOOS/GOARCH style, with the arm variant).
Platform host_platform();
// "linux/arm64/v8", "linux/amd64", "arm64" (os defaults to linux),
// normalised. kInvalidArgument, in Docker's words, for a bad specifier.
Result<Platform> parse_platform(std::string_view s);
Platform normalize_platform(Platform p);

// An entry of an OCI index or Docker manifest list.
struct IndexEntry {
  std::string media_type, digest;
  int64_t size = 0;
  Platform platform;  // os empty when the entry carries none
};

// The index of the entry to pull for `want`, or kNotFound "no matching
// manifest for linux/arm64/v8 in the manifest list entries". Entries without
// a platform, and attestation manifests (platform unknown/unknown), never
// match.
Result<size_t> select_manifest(const std::vector<IndexEntry>& entries, const Platform& want);

}  // namespace berth::fs::registry
