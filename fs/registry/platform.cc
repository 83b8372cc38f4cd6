#include "fs/registry/platform.h"

#include <sys/utsname.h>

#include <cctype>

#include "core/base/strings.h"
#include "fs/image_config.h"

namespace berth::fs::registry {

namespace {

// How well an entry's variant suits the wanted one; -1 when it does not.
// Higher is better.
int variant_rank(const Platform& want, const Platform& have) {
  if (want.architecture != have.architecture || want.os != have.os) return -1;
  if (want.variant == have.variant) return 100;
  if (want.architecture == "arm" && want.variant.size() == 2 && have.variant.size() == 2 &&
      want.variant[0] == 'v' && have.variant[0] == 'v') {
    int w = want.variant[1] - '0', h = have.variant[1] - '0';
    return h < w ? 10 + h : -1;  // v7 hosts run v6 and v5, the newest first
  }
  if (want.architecture == "amd64" && want.variant.empty()) return 50;  // any amd64 level will do
  return -1;
}

}  // namespace

std::string Platform::string() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Platform normalize_platform(Platform p) {
  p.os = ascii_lower(p.os);
  p.architecture = ascii_lower(p.architecture);
  p.variant = ascii_lower(p.variant);
  if (p.os == "macos") p.os = "darwin";
  const std::string& a = p.architecture;
  if (a == "i386") {
    p.architecture = "386";
    p.variant.clear();
  } else if (a == "x86_64" || a == "x86-64" || a == "amd64") {
    p.architecture = "amd64";
    if (p.variant == "v1") p.variant.clear();
  } else if (a == "aarch64" || a == "arm64") {
    p.architecture = "arm64";
    if (p.variant == "8" || p.variant == "v8") p.variant.clear();  // v8 is arm64's default
  } else if (a == "armhf") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (a == "armel") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (a == "arm") {
    if (p.variant.empty() || p.variant == "7") p.variant = "v7";
    else if (p.variant == "5" || p.variant == "6" || p.variant == "8") p.variant = "v" + p.variant;
  }
  return p;
}

Platform host_platform() {
  Platform p{"linux", host_architecture(), ""};
  if (p.architecture == "arm") {
    utsname u;
    if (::uname(&u) == 0 && starts_with(u.machine, "armv") && u.machine[4]) p.variant = std::string("v") + u.machine[4];
  }
  return normalize_platform(p);
}

Result<Platform> parse_platform(std::string_view s) {
  std::vector<std::string> parts = split(s, '/');
  auto bad = [&] { return Error::invalid("\"{}\": unknown operating system or architecture: invalid argument", s); };
  if (s.empty() || parts.size() > 3) return bad();
  for (const std::string& p : parts)
    if (p.empty()) return bad();
  Platform p;
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
    if (ascii_lower(parts[0]) == "linux") return bad();
  } else {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  }
  return normalize_platform(p);
}

Result<size_t> select_manifest(const std::vector<IndexEntry>& entries, const Platform& want_raw) {
  Platform want = normalize_platform(want_raw);
  int best_rank = -1;
  size_t best = 0;
  for (size_t i = 0; i < entries.size(); i++) {
    if (entries[i].platform.os.empty()) continue;
    int r = variant_rank(want, normalize_platform(entries[i].platform));
    if (r > best_rank) {
      best_rank = r;
      best = i;
    }
  }
  if (best_rank < 0)
    return Error::not_found("no matching manifest for {} in the manifest list entries", want_raw.string());
  return best;
}

}  // namespace berth::fs::registry
