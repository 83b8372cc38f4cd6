// docker save / docker load archive formats.
//
// save writes what Docker 25+ writes: one tar that is both a docker-archive
// and an OCI image layout.
//
//   blobs/sha256/<hex>   every layer blob (as stored: plain, gzip or zstd
//                        tar), config and OCI manifest of the saved images
//   oci-layout           {"imageLayoutVersion":"1.0.0"}
//   index.json           OCI index: one manifest descriptor per saved tag
//                        (annotations io.containerd.image.name = the full
//                        name, org.opencontainers.image.ref.name = the tag),
//                        one without annotations per untagged image
//   manifest.json        [{"Config":"blobs/sha256/<hex>","RepoTags":[...],
//                          "Layers":["blobs/sha256/<hex>",...]}]
//
// load (ImageStore::load_archive) reads manifest.json when present
// (docker-archive, including the legacy "<id>/layer.tar" and "<hex>.json"
// names, and symlinked duplicate layers), else index.json (OCI layout,
// nested indexes followed to the host platform's manifest). Tags come from
// RepoTags, or from the io.containerd.image.name annotation (or a
// ref.name annotation that is a whole reference).
//
// Blocking: file I/O and hashing, on the job pool. A SaveArchive belongs to
// one thread at a time; it holds at most one open blob file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "fs/image_store.h"

namespace berth::fs {

struct SaveItem {
  std::string id;                      // "sha256:<hex>"
  std::vector<std::string> repo_tags;  // familiar "name:tag" to record; may be empty
};

class SaveArchive {
 public:
  // Reads the images' manifests and plans the entries. `store` must
  // outlive the archive; its images must stay (the caller holds them).
  static Result<std::unique_ptr<SaveArchive>> open(const ImageStore& store, std::vector<SaveItem> items);
  ~SaveArchive();
  SaveArchive(const SaveArchive&) = delete;
  SaveArchive& operator=(const SaveArchive&) = delete;

  // Appends about `budget_bytes` of the tar to `out`; true once the end of
  // the archive is in `out`. A blob whose content does not match its
  // digest is Code::kCorrupt.
  Result<bool> produce(std::string* out, size_t budget_bytes);

  struct Plan;  // opaque

 private:
  explicit SaveArchive(std::unique_ptr<Plan> p);
  std::unique_ptr<Plan> p_;
};

}  // namespace berth::fs
