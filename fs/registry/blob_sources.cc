#include "fs/registry/blob_sources.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"

namespace berth::fs::registry {

using nlohmann::json;

Result<std::unique_ptr<BlobSources>> BlobSources::open(std::string path) {
  std::unique_ptr<BlobSources> s(new BlobSources(std::move(path)));
  if (!path_exists(s->path_)) return s;
  auto text = read_file(s->path_, 16 << 20);
  if (!text) return std::move(text.error()).context("read blob sources");
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || j.value("version", 0) != 1 || !j.contains("blobs") || !j["blobs"].is_object()) {
    log::warn("fs", "{} is not a blob source record; starting a new one", s->path_);
    return s;
  }
  for (auto& [digest, repos] : j["blobs"].items()) {
    if (!repos.is_array()) continue;
    for (const json& r : repos)
      if (r.is_string()) s->blobs_[digest].push_back(r.get<std::string>());
  }
  return s;
}

std::vector<std::string> BlobSources::repositories(const std::string& digest, const std::string& registry) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return out;
  std::string prefix = registry + "/";
  for (const std::string& r : it->second)
    if (starts_with(r, prefix)) out.push_back(r.substr(prefix.size()));
  return out;
}

Result<void> BlobSources::add(const std::vector<std::string>& digests, const std::string& registry,
                              const std::string& repository) {
  std::lock_guard lock(mu_);
  std::string where = registry + "/" + repository;
  for (const std::string& d : digests) {
    std::vector<std::string>& v = blobs_[d];
    std::erase(v, where);
    v.insert(v.begin(), where);
    if (v.size() > kPerBlob) v.resize(kPerBlob);
  }
  while (blobs_.size() > kBlobsMax) blobs_.erase(blobs_.begin());
  return save();
}

Result<void> BlobSources::save() const {
  json blobs = json::object();
  for (const auto& [d, v] : blobs_) blobs[d] = v;
  json j{{"version", 1}, {"blobs", std::move(blobs)}};
  return write_file_atomic(path_, j.dump() + "\n", 0600);
}

}  // namespace berth::fs::registry
