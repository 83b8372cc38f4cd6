// The on-disk format of the image store: the directory ImageStore::open is
// given (the daemon passes <root>/image). This header is its document; the
// constants are the names the code uses.
//
//   oci-layout              {"imageLayoutVersion":"1.0.0"} (OCI image-layout.md)
//   blobs/sha256/<hex>      content-addressed blobs (fs/blob_store.h): layer
//                           tars as imported (plain, gzip or zstd; xz and
//                           bzip2 layers are stored uncompressed) or
//                           committed (plain, OCI whiteouts: fs/rootfs_tar.h),
//                           image configs, OCI manifests.
//   ingest/<random>         blobs being written; emptied at open.
//   layers/<chainid-hex>/   one unpacked layer in overlayfs's format (a
//                           whiteout is a 0:0 character device, an opaque
//                           directory has trusted.overlay.opaque=y); shared
//                           by every image whose layer stack has that chain.
//   layers/tmp-<random>/    a layer being unpacked; synced (syncfs) and then
//                           renamed to its chain ID, so a chain directory
//                           only ever exists complete; removed at open.
//   repositories.json       berth's index and the source of truth:
//     {"version": 1,
//      "images": {"sha256:<config hex>": {"manifest": "sha256:<hex>",
//                                         "size": <unpacked bytes>,
//                                         "digests": ["busybox@sha256:<hex>"]}},
//                           ("digests", optional: RepoDigests from pulls
//                           and pushes; the manifest of a pulled image is
//                           stored as the registry served it, OCI or Docker
//                           schema 2.)
//      "tags":   {"busybox:latest": "sha256:<config hex>"}}
//                           Tags are in familiar form (reference.h). An image
//                           with no tag is still listed under "images".
//   index.json              an OCI image index derived from repositories.json
//                           (one descriptor per tag, annotated with
//                           io.containerd.image.name and
//                           org.opencontainers.image.ref.name; one per
//                           untagged image), so other OCI tools can read the
//                           store. Rewritten before repositories.json.
//
// The image ID is the config blob's digest ("sha256:<hex>"), as in Docker.
// Every JSON file is written to a temp file, fsynced and renamed.
#pragma once

#include <string_view>

namespace berth::fs::layout {

inline constexpr std::string_view kOciLayoutFile = "oci-layout";
inline constexpr std::string_view kOciLayoutJson = R"({"imageLayoutVersion":"1.0.0"})";
inline constexpr std::string_view kOciIndexFile = "index.json";
inline constexpr std::string_view kRepositoriesFile = "repositories.json";
inline constexpr int kRepositoriesVersion = 1;
inline constexpr std::string_view kLayersDir = "layers";
inline constexpr std::string_view kLayerTempPrefix = "tmp-";
inline constexpr std::string_view kMediaTypeIndex = "application/vnd.oci.image.index.v1+json";

}  // namespace berth::fs::layout
