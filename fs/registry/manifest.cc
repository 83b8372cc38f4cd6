#include "fs/registry/manifest.h"

#include <nlohmann/json.hpp>

#include "core/base/json_depth.h"
#include "core/base/strings.h"
#include "fs/digest.h"

namespace berth::fs::registry {

namespace {

using nlohmann::json;

std::string str_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "application/json; charset=utf-8" -> "application/json"
std::string bare_type(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return std::string(ct);
}

Result<std::vector<IndexEntry>> parse_entries(const json& j) {
  auto it = j.find("manifests");
  if (it == j.end() || !it->is_array()) return Error::invalid("parse image index: no manifests");
  std::vector<IndexEntry> out;
  for (const json& m : *it) {
    if (!m.is_object()) return Error::invalid("parse image index: a manifest entry is not an object");
    IndexEntry e;
    e.media_type = str_at(m, "mediaType");
    e.digest = str_at(m, "digest");
    if (!is_sha256_digest(e.digest)) return Error::invalid("parse image index: invalid digest '{}'", e.digest);
    auto size = m.find("size");
    if (size == m.end() || !size->is_number_integer()) return Error::invalid("parse image index: entry without size");
    e.size = size->get<int64_t>();
    if (auto p = m.find("platform"); p != m.end() && p->is_object())
      e.platform = Platform{str_at(*p, "os"), str_at(*p, "architecture"), str_at(*p, "variant")};
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::string manifest_accept_header() {
  return fmt::format("Accept: {}, {}, {}, {}", kMediaOciIndex, kMediaDockerList, kMediaOciManifest,
                     kMediaDockerManifest);
}

std::string manifest_media_type(std::string_view body) {
  json j = json_depth_ok(body) ? json::parse(body, nullptr, false) : json();
  std::string mt = j.is_object() ? str_at(j, "mediaType") : std::string();
  return mt.empty() ? std::string(kMediaOciManifest) : mt;
}

bool is_supported_layer(std::string_view mt) {
  return mt.empty() || mt == kMediaDockerLayerGzip || mt == "application/vnd.oci.image.layer.v1.tar" ||
         mt == "application/vnd.oci.image.layer.v1.tar+gzip" || mt == "application/vnd.oci.image.layer.v1.tar+zstd" ||
         mt == "application/vnd.docker.image.rootfs.diff.tar" ||
         mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}

Result<FetchedManifest> parse_fetched_manifest(std::string body, std::string_view content_type) {
  FetchedManifest f;
  f.digest = sha256_digest(body);
  if (!json_depth_ok(body)) return Error::invalid("parse manifest: nested too deeply");
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("parse manifest: not a JSON object");
  std::string mt = bare_type(content_type);
  std::string declared = str_at(j, "mediaType");
  if (mt.empty() || mt == "application/json" || mt == "text/plain" || mt == "application/octet-stream")
    mt = !declared.empty() ? declared : (j.contains("manifests") ? std::string(kMediaOciIndex) : std::string(kMediaOciManifest));
  if (starts_with(mt, "application/vnd.docker.distribution.manifest.v1") || j.value("schemaVersion", 0) == 1)
    return Error::make(Code::kNotSupported,
                       "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. "
                       "Suggest the author of the image to upgrade the image to the OCI Format or Docker Image "
                       "manifest v2, schema 2");
  f.media_type = mt;
  if (mt == kMediaOciIndex || mt == kMediaDockerList) {
    f.is_index = true;
    f.entries = BERTH_TRY(parse_entries(j));
  } else if (mt == kMediaOciManifest || mt == kMediaDockerManifest) {
    f.manifest = BERTH_TRY(parse_manifest(body));
  } else {
    return Error::make(Code::kNotSupported, "unsupported manifest media type {}", mt);
  }
  f.body = std::move(body);
  return f;
}

}  // namespace berth::fs::registry
