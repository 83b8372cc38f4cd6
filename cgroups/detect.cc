// detect(): which cgroup layout the host has, from /proc/self/mountinfo
// (where each hierarchy is mounted, and which controllers it carries) and
// /proc/self/cgroup (where this process sits in each hierarchy).
//
// mountinfo, see proc(5):
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//   (1)(2)(3)  (4)   (5)   (6)        (7..)    sep (fs) (source) (super options)
// A v1 hierarchy is fstype "cgroup" with its controllers among the super
// options ("rw,cpu,cpuacct"); "name=systemd" marks a named hierarchy that has
// no controller. Field 4 is the part of the hierarchy mounted there ("/" for
// the whole), so a bind-mounted subtree turns /proc/self/cgroup paths into
// paths relative to the mount.
//
// /proc/self/cgroup: "ID:controllers:path"; "0::/path" is the unified (v2)
// hierarchy.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/cgroups.h"
#include "cgroups/control.h"
#include "core/base/file.h"
#include "core/base/strings.h"

namespace berth::cgroups {
namespace {

struct MountEntry {
  std::string root;
  std::string mount_point;
  std::string fstype;
  std::vector<std::string> super_options;
};

struct CgroupLine {
  std::string id;
  std::vector<std::string> controllers;  // "name=..." entries dropped
  bool named = false;                    // had a "name=..." entry
  std::string path;
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t j) { return s[j] >= '0' && s[j] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] <= '3' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  for (const std::string& line : split(text, '\n')) {
    std::vector<std::string> f = split(line, ' ');
    auto sep = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || sep == f.end() || f.end() - sep < 4) continue;
    std::string fstype = *(sep + 1);
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    out.push_back({unescape(f[3]), unescape(f[4]), fstype, split(*(sep + 3), ',')});
  }
  return out;
}

std::vector<CgroupLine> parse_proc_cgroup(std::string_view text) {
  std::vector<CgroupLine> out;
  for (const std::string& line : split(text, '\n')) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    CgroupLine l{line.substr(0, a), {}, false, line.substr(b + 1)};
    for (const std::string& c : split(std::string_view(line).substr(a + 1, b - a - 1), ',')) {
      if (c.empty()) continue;
      if (starts_with(c, "name=")) {
        l.named = true;
      } else {
        l.controllers.push_back(c);
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// `path` (from /proc/self/cgroup, relative to the hierarchy root) as seen
// under a mount of the hierarchy's `root`; nullopt if the mount does not
// contain it.
std::optional<std::string> relative_to_mount(const std::string& root, const std::string& path) {
  if (root == "/") return path;
  if (path == root) return std::string("/");
  if (starts_with(path, root + "/")) return path.substr(root.size());
  return std::nullopt;
}

std::vector<V1Hierarchy> find_v1(const std::vector<MountEntry>& mounts, const std::vector<CgroupLine>& lines,
                                 const std::string& prefix) {
  std::vector<V1Hierarchy> out;
  for (const CgroupLine& l : lines) {
    if (l.id == "0" || l.controllers.empty()) continue;  // unified, or a named hierarchy
    for (const MountEntry& m : mounts) {
      if (m.fstype != "cgroup") continue;
      bool all = std::all_of(l.controllers.begin(), l.controllers.end(),
                             [&](const std::string& c) { return contains(m.super_options, c); });
      auto self = relative_to_mount(m.root, l.path);
      if (!all || !self) continue;
      out.push_back({prefix + m.mount_point, *self, l.controllers});
      break;
    }
  }
  return out;
}

// The controllers whose presence on v1 decides for v1: a lone leftover such
// as net_cls or hugetlb next to a full cgroup2 mount does not.
bool has_usual_controller(const std::vector<V1Hierarchy>& hs) {
  static constexpr std::string_view kUsual[] = {"cpu", "cpuacct", "cpuset", "memory",
                                                "pids", "blkio", "freezer", "devices"};
  for (const V1Hierarchy& h : hs) {
    for (std::string_view u : kUsual) {
      if (contains(h.controllers, u)) return true;
    }
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<Driver>> detect(const DetectOptions& opts) {
  std::string mountinfo = BERTH_TRY_CTX(read_file(opts.mountinfo), "detect cgroups");
  std::string self_cgroup = BERTH_TRY_CTX(read_file(opts.proc_self_cgroup), "detect cgroups");
  std::vector<MountEntry> mounts = parse_mountinfo(mountinfo);
  std::vector<CgroupLine> lines = parse_proc_cgroup(self_cgroup);

  std::vector<V1Hierarchy> v1 = find_v1(mounts, lines, opts.root_prefix);
  if (has_usual_controller(v1)) return make_v1(std::move(v1), opts.driver);

  for (const CgroupLine& l : lines) {
    if (l.id != "0" || !l.controllers.empty() || l.named) continue;
    for (const MountEntry& m : mounts) {
      if (m.fstype != "cgroup2") continue;
      auto self = relative_to_mount(m.root, l.path);
      if (self) return make_v2(opts.root_prefix + m.mount_point, *self, opts.driver);
    }
  }
  if (!v1.empty()) return make_v1(std::move(v1), opts.driver);
  return Error::make(Code::kNotSupported,
                     "detect cgroups: no cgroup v1 controller hierarchy and no cgroup2 mount holding this "
                     "process (read {} and {}); is /sys/fs/cgroup mounted?",
                     opts.mountinfo, opts.proc_self_cgroup);
}

}  // namespace berth::cgroups
