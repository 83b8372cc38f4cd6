// What a registry serves at /v2/<name>/manifests/<ref>: an image manifest
// (OCI or Docker schema 2) or an index (OCI index or Docker manifest list),
// told apart by media type (Content-Type, else the document's own
// "mediaType", else its shape). Docker schema 1 is refused, as Docker 28
// does.
//
// Pure functions on values; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "fs/image_config.h"
#include "fs/registry/platform.h"

namespace berth::fs::registry {

inline constexpr std::string_view kMediaOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kMediaDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kMediaDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kMediaDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kMediaDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

// The Accept header for manifest requests, best first.
std::string manifest_accept_header();

struct FetchedManifest {
  std::string media_type;
  std::string digest;   // sha256 of `body`
  std::string body;     // the bytes as served (their digest is the manifest's)
  bool is_index = false;
  std::vector<IndexEntry> entries;  // an index's
  Manifest manifest;                // an image manifest's
};

// Parses `body` served with Content-Type `content_type`. kNotSupported for
// schema 1 and unknown media types; kInvalidArgument for bad JSON.
Result<FetchedManifest> parse_fetched_manifest(std::string body, std::string_view content_type);

// True for the layer media types berth can unpack (tar, gzip, zstd; OCI and
// Docker names; "" as some old registries send).
bool is_supported_layer(std::string_view media_type);

// The media type of a stored manifest document (its "mediaType", or OCI).
std::string manifest_media_type(std::string_view body);

}  // namespace berth::fs::registry
