#include "core/runtime/capabilities.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cctype>
#include <iterator>

#include "core/base/file.h"
#include "core/base/strings.h"

namespace berth::runtime {

namespace {

// Indexed by capability number (capabilities(7)); Linux 5.9 has 0..40.
constexpr std::string_view kNames[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
constexpr int kKnown = int(std::size(kNames));

constexpr std::string_view kAll = "ALL";

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool has(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

Result<std::vector<std::string>> normalize_all(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back(BERTH_TRY(normalize_capability(n)));
  return out;
}

uint64_t mask_of(const std::vector<std::string>& names) {
  uint64_t m = 0;
  for (const auto& n : names)
    if (auto c = capability_number(n)) m |= uint64_t(1) << *c;
  return m;
}

}  // namespace

int cap_last_cap() {
  static const int last = [] {
    auto s = read_file("/proc/sys/kernel/cap_last_cap", 64);
    if (s) {
      auto v = parse_int(std::string_view(*s).substr(0, s->find('\n')));
      if (v && *v > 0 && *v < 64) return int(*v);
    }
    return CAP_LAST_CAP;
  }();
  return last;
}

uint64_t all_capabilities() {
  static const uint64_t all = [] {
    uint64_t m = 0;
    for (int c = 0; c <= cap_last_cap(); c++)
      if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0) m |= uint64_t(1) << c;
    return m;
  }();
  return all;
}

std::optional<int> capability_number(std::string_view name) {
  std::string n = upper(name);
  if (!starts_with(n, "CAP_")) n.insert(0, "CAP_");
  for (int i = 0; i < kKnown; i++)
    if (kNames[i] == n) return i;
  return std::nullopt;
}

std::string_view capability_name(int number) { return number >= 0 && number < kKnown ? kNames[number] : ""; }

std::vector<std::string> capability_names(uint64_t mask) {
  std::vector<std::string> out;
  for (int i = 0; i < 64; i++)
    if (mask & (uint64_t(1) << i)) out.emplace_back(i < kKnown ? kNames[i] : std::string_view("CAP_UNKNOWN"));
  return out;
}

Result<std::string> normalize_capability(std::string_view name) {
  std::string n = upper(name);
  if (n == kAll) return n;
  if (!starts_with(n, "CAP_")) n.insert(0, "CAP_");
  if (!capability_number(n)) return Error::invalid("unknown capability: \"{}\"", n);
  return n;
}

Result<uint64_t> container_capabilities(const std::vector<std::string>& add, const std::vector<std::string>& drop,
                                        bool privileged) {
  std::vector<std::string> adds = BERTH_TRY(normalize_all(add));
  std::vector<std::string> drops = BERTH_TRY(normalize_all(drop));
  if (privileged) return all_capabilities();
  if (has(adds, kAll)) return all_capabilities() & ~mask_of(drops);
  if (has(drops, kAll)) return mask_of(adds);
  return (default_capabilities() & ~mask_of(drops)) | mask_of(adds);
}

}  // namespace berth::runtime
