// The image config and manifest JSON documents (OCI image-spec config.md and
// manifest.md, which Docker's image config extends): the parts berth reads,
// and the documents berth writes for an image it builds. nlohmann::json stays
// inside image_config.cc; its exceptions are caught there and become
// kInvalidArgument errors.
//
// Pure functions on values; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::fs {

// The runtime defaults of an image ("config" in the config document).
struct ImageConfig {
  std::vector<std::string> env;  // "KEY=value"
  std::vector<std::string> cmd, entrypoint;
  std::string working_dir, user, stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> volumes;        // VOLUME paths ("/data"), sorted
  // HEALTHCHECK (Config.Healthcheck): Test as written ({"CMD-SHELL", ...},
  // {"NONE"}; empty: none), durations in ns (0: the default).
  std::vector<std::string> health_test;
  int64_t health_interval_ns = 0, health_timeout_ns = 0, health_start_period_ns = 0, health_start_interval_ns = 0;
  int health_retries = 0;
  bool operator==(const ImageConfig&) const = default;
};

// Everything berth reads from an image config document.
struct ImageConfigDoc {
  ImageConfig config;
  std::string architecture, os, comment, author;
  int64_t created_ns = 0;
  std::vector<std::string> diff_ids;            // "sha256:…", lowest first
  std::vector<std::string> history_created_by;  // one per history entry
};

Result<ImageConfigDoc> parse_image_config(std::string_view json);
// Serialises a config document; history gets one entry, created at
// `created_ns` with `comment`, as `docker import` writes.
std::string make_image_config(const ImageConfigDoc& doc);

// A Docker container "Config" object (POST /commit's body): the fields
// ImageConfig models; others are ignored. Empty text and "null" are an
// empty config.
Result<ImageConfig> parse_runtime_config(std::string_view json);

// Docker's commit merge (daemon/commit.go merge()): what `user` leaves
// empty comes from `base`; Env, Labels and ExposedPorts are unions in which
// `user` wins (Volumes too); without an Entrypoint in `user`, Entrypoint (and Cmd, if
// `user` has none) come from `base`.
ImageConfig merge_image_config(ImageConfig user, const ImageConfig& base);

// What commit adds on top of a parent image.
struct ChildImage {
  ImageConfig config;        // the new image's runtime config, whole
  std::string diff_id;       // the new layer's; "" when it is empty (no layer added)
  int64_t created_ns = 0;
  std::string author, comment;
  std::string created_by;    // the history entry's (Docker: the container's command)
  std::string container_id;
};

// The config document of a child of the image whose config is
// `parent_json`: the parent's document with "config" replaced in the
// fields ImageConfig models (others, such as Healthcheck, kept), created,
// author, comment and container set, the diff ID appended to
// rootfs.diff_ids and one history entry appended (empty_layer when no
// layer was added, as Docker writes).
Result<std::string> make_child_config(std::string_view parent_json, const ChildImage& c);

inline constexpr std::string_view kMediaTypeManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaTypeConfig = "application/vnd.oci.image.config.v1+json";

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
};

struct Manifest {
  Descriptor config;
  std::vector<Descriptor> layers;  // lowest first
};

Result<Manifest> parse_manifest(std::string_view json);
std::string make_manifest(const Manifest& m);

// GOARCH-style name of the architecture berth was built for ("amd64").
std::string host_architecture();
// RFC 3339 ("2024-01-02T03:04:05.123456789Z", "…+02:00") to Unix ns.
Result<int64_t> parse_rfc3339_ns(std::string_view s);

}  // namespace berth::fs
