#include "core/runtime/mount_plan.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

namespace berth::runtime {

// Docker's defaults (moby oci/defaults.go): kernel interfaces that leak host
// information or allow host-wide changes.
const char* const kMaskedPaths[] = {
    "/proc/asound",       "/proc/acpi",       "/proc/interrupts",  "/proc/kcore",
    "/proc/keys",         "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug",  "/proc/scsi",       "/sys/firmware",     "/sys/devices/virtual/powercap",
};
const size_t kMaskedPathCount = std::size(kMaskedPaths);

const char* const kReadonlyPaths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};
const size_t kReadonlyPathCount = std::size(kReadonlyPaths);

namespace {

constexpr uint64_t kNoSuidExecDev = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV;

// Docker's default device nodes (moby oci/devices_linux.go), mode 0666 like
// the host's. mknod, not binds of the host's nodes: one syscall instead of
// five, and six mounts fewer to tear down when the container exits.
struct DefaultDevice {
  const char* name;
  uint32_t major, minor;
};
const DefaultDevice kDevices[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                           {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};

struct Link {
  const char* target;
  const char* source;
};
const Link kDevLinks[] = {
    {"/dev/fd", "/proc/self/fd"},
    {"/dev/stdin", "/proc/self/fd/0"},
    {"/dev/stdout", "/proc/self/fd/1"},
    {"/dev/stderr", "/proc/self/fd/2"},
    {"/dev/ptmx", "pts/ptmx"},
};

MountStep fs_step(std::string fstype, std::string target, uint64_t attrs,
                  std::vector<MountOption> options = {}) {
  MountStep s{.kind = MountKind::kFilesystem};
  s.fstype = std::move(fstype);
  s.target = std::move(target);
  s.attrs = attrs;
  s.options = std::move(options);
  return s;
}

MountStep overlay_step(const Spec& spec) {
  MountStep s{.kind = MountKind::kOverlay};
  s.fstype = "overlay";
  s.target = spec.rootfs_dir;
  std::vector<std::string> top_first(spec.lower_dirs.rbegin(), spec.lower_dirs.rend());
  for (const auto& dir : top_first) s.options.push_back({"lowerdir+", dir});
  s.options.push_back({"upperdir", spec.upper_dir});
  s.options.push_back({"workdir", spec.work_dir});
  s.fallback_lowerdir = classic_lowerdir(top_first);
  return s;
}

// A kernel filesystem: its mount point must not be reached through a symlink.
MountStep kernel_fs(std::string fstype, std::string target, uint64_t attrs, std::vector<MountOption> options = {}) {
  MountStep s = fs_step(std::move(fstype), std::move(target), attrs, std::move(options));
  s.no_symlinks = true;
  return s;
}

MountStep device_step(std::string target, std::string host, char type, uint32_t mode, uint32_t major, uint32_t minor) {
  MountStep s{.kind = MountKind::kDevice};
  s.target = std::move(target);
  s.source = std::move(host);  // the host's node, for the bind fallback
  s.mode = (type == 'b' ? S_IFBLK : S_IFCHR) | (mode & 07777);
  s.dev_major = major;
  s.dev_minor = minor;
  return s;
}

// /dev/shm: a tmpfs of its own (--shm-size), the host's (--ipc host), or a
// shareable container's host-side tmpfs (Security::shm_dir).
MountStep shm_step(const Security& sec) {
  if (sec.host_ipc || !sec.shm_dir.empty()) {
    MountStep s{.kind = MountKind::kBindTree};
    s.source = sec.host_ipc ? "/dev/shm" : sec.shm_dir;
    s.target = "/dev/shm";
    s.attrs = kNoSuidExecDev;
    s.no_symlinks = true;
    return s;
  }
  std::string size = sec.shm_size > 0 ? std::to_string(sec.shm_size) : "65536k";
  return kernel_fs("tmpfs", "/dev/shm", kNoSuidExecDev, {{"mode", "1777"}, {"size", size}});
}

void add_dev(MountPlan& plan, const Security& sec) {
  auto& st = plan.steps;
  st.push_back(kernel_fs("tmpfs", "/dev", MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME,
                         {{"mode", "755"}, {"size", "65536k"}}));
  for (const DefaultDevice& d : kDevices) {
    std::string path = fmt::format("/dev/{}", d.name);
    bool replaced = false;  // a --device at the same path is made instead
    for (const Device& u : sec.devices) replaced |= u.path == path;
    if (!replaced) st.push_back(device_step(path, path, 'c', 0666, d.major, d.minor));
  }
  for (const Device& d : sec.devices) {
    MountStep s = device_step(d.path, d.host_path, d.type, d.file_mode, d.major, d.minor);
    s.uid = d.uid;
    s.gid = d.gid;
    s.make_parents = true;
    st.push_back(std::move(s));
  }
  if (sec.privileged) {
    MountStep s{.kind = MountKind::kHostDevices};
    s.source = "/dev";
    s.target = "/dev";
    st.push_back(std::move(s));
  }
  for (const Link& l : kDevLinks) {
    MountStep s{.kind = MountKind::kSymlink};
    s.target = l.target;
    s.source = l.source;
    st.push_back(std::move(s));
  }
  st.push_back(kernel_fs("devpts", "/dev/pts", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                         {{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}, {"gid", "5"}}));
  st.push_back(shm_step(sec));
  st.push_back(kernel_fs("mqueue", "/dev/mqueue", kNoSuidExecDev));
}

// Read-only, except for a privileged container (as Docker).
void add_sys(MountPlan& plan, bool new_netns, bool privileged, bool template_netns) {
  // A fresh sysfs shows the network devices of the mounter's netns, so it is
  // only right with a new netns; with the host's, bind the host's /sys.
  // /sys/fs/cgroup's cgroup filesystems are mounted after release(), once
  // the cgroup namespace is made (child.cc, mount_cgroup_view); the plan
  // only binds the skeleton they go on.
  uint64_t attrs = kNoSuidExecDev | (privileged ? 0 : MOUNT_ATTR_RDONLY);
  if (new_netns) {
    plan.steps.push_back(kernel_fs("sysfs", "/sys", attrs));
    plan.steps.back().template_netns = template_netns;
    return;
  }
  MountStep s{.kind = MountKind::kBindTree};
  s.source = "/sys";
  s.target = "/sys";
  s.attrs = attrs;
  s.no_symlinks = true;
  plan.steps.push_back(std::move(s));
}

// Docker's masked and read-only paths, unless privileged or
// systempaths=unconfined.
void add_masks(MountPlan& plan, const Spec& spec) {
  const Security& sec = spec.security;
  if (sec.privileged || sec.unmasked_paths) return;
  for (size_t i = 0; i < kMaskedPathCount; i++) {
    MountStep s{.kind = MountKind::kMask, .target = kMaskedPaths[i]};
    if (shares_host_dirs(spec)) s.source = spec.empty_dir;
    s.no_symlinks = true;
    plan.steps.push_back(std::move(s));
  }
  for (size_t i = 0; i < kReadonlyPathCount; i++) {
    MountStep s{.kind = MountKind::kReadonly, .target = kReadonlyPaths[i]};
    s.no_symlinks = true;
    plan.steps.push_back(std::move(s));
  }
}

int depth(const std::string& path) {
  int n = 0;
  for (size_t i = 0; i < path.size(); i++)
    if (path[i] != '/' && (i == 0 || path[i - 1] == '/')) n++;
  return n;
}

// Spec::mounts as steps, shallowest target first (stable: equal depths keep
// the caller's order).
void add_user_mounts(MountPlan& plan, const Spec& spec) {
  std::vector<const Mount*> order;
  for (const Mount& m : spec.mounts) order.push_back(&m);
  std::stable_sort(order.begin(), order.end(),
                   [](const Mount* a, const Mount* b) { return depth(a->target) < depth(b->target); });
  for (const Mount* m : order) {
    if (m->kind == Mount::Kind::kTmpfs) {
      std::vector<MountOption> opts = {{"source", "tmpfs"}};  // what /proc/mounts shows, as with Docker
      for (const auto& [k, v] : m->options) opts.push_back({k, v});
      MountStep s = fs_step("tmpfs", m->target, m->attrs | (m->readonly ? MOUNT_ATTR_RDONLY : 0), std::move(opts));
      s.make_parents = true;
      plan.steps.push_back(std::move(s));
      continue;
    }
    if (m->populate) {
      MountStep p{.kind = MountKind::kPopulate};
      p.target = m->target;
      p.source = m->source;
      plan.steps.push_back(std::move(p));
    }
    MountStep s{.kind = MountKind::kBind};
    s.source = m->source;
    s.target = m->target;
    s.attrs = m->readonly ? MOUNT_ATTR_RDONLY : 0;
    s.recursive = m->recursive;
    s.file = m->file;
    plan.steps.push_back(std::move(s));
  }
}

// A user mount on /dev/shm or /dev/mqueue replaces the default one, as in
// Docker. (ipc refuses mounts under /proc; one on /dev or /sys itself
// stacks on the default.)
void drop_overridden(MountPlan& plan, const Spec& spec) {
  auto overridden = [&](const MountStep& s) {
    if (s.kind != MountKind::kFilesystem || (s.target != "/dev/shm" && s.target != "/dev/mqueue")) return false;
    for (const Mount& m : spec.mounts)
      if (m.target == s.target) return true;
    return false;
  };
  std::erase_if(plan.steps, overridden);
}

}  // namespace

std::string classic_lowerdir(const std::vector<std::string>& top_first) {
  std::string out;
  for (const auto& dir : top_first) {
    if (!out.empty()) out += ':';
    for (char c : dir) {
      if (c == ':' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out;
}

bool shares_host_dirs(const Spec& spec) {
  const Security& sec = spec.security;
  return !sec.privileged && !(sec.capabilities & (uint64_t(1) << CAP_SYS_ADMIN));
}

bool shares_sysfs(const Spec& spec) {
  return spec.sysfs_netns_fd >= 0 && spec.new_netns && !spec.userns && shares_host_dirs(spec);
}

bool binds_cgroup_skeleton(const Spec& spec) {
  const auto& v = spec.cgroup_view;
  bool v1 = !v.empty() && !(v.size() == 1 && v[0].name.empty());
  return v1 && !spec.cgroup_skeleton.empty() && shares_host_dirs(spec);
}

MountPlan make_mount_plan(const Spec& spec) {
  MountPlan plan;
  auto& st = plan.steps;
  st.push_back({.kind = MountKind::kMakePrivate, .target = "/"});
  st.push_back(overlay_step(spec));
  st.push_back(kernel_fs("proc", "/proc", kNoSuidExecDev));
  add_dev(plan, spec.security);
  add_sys(plan, spec.new_netns, spec.security.privileged, shares_sysfs(spec));
  if (binds_cgroup_skeleton(spec)) {
    // The cgroup filesystems go on its directories after the cgroup
    // namespace is made (child.cc, mount_cgroup_view).
    MountStep s{.kind = MountKind::kBindTree};
    s.source = spec.cgroup_skeleton;
    s.target = "/sys/fs/cgroup";
    s.attrs = kNoSuidExecDev | MOUNT_ATTR_RDONLY;
    s.no_symlinks = true;
    st.push_back(std::move(s));
  }
  drop_overridden(plan, spec);
  add_user_mounts(plan, spec);
  add_masks(plan, spec);
  st.push_back({.kind = MountKind::kPivotRoot, .target = spec.rootfs_dir});
  st.push_back({.kind = MountKind::kMakeDir, .target = spec.cwd.empty() ? "/" : spec.cwd});
  if (spec.readonly_rootfs) st.push_back({.kind = MountKind::kReadonlyRoot, .target = "/"});
  return plan;
}

std::string describe_step(const MountStep& s) {
  switch (s.kind) {
    case MountKind::kMakePrivate: return "make / private";
    case MountKind::kOverlay: return fmt::format("mount overlay on {}", s.target);
    case MountKind::kFilesystem:
      if (s.template_netns) return fmt::format("mount the shared {} on {}", s.fstype, s.target);
      return fmt::format("mount {} on {}", s.fstype, s.target);
    case MountKind::kDevice: return fmt::format("create device {}", s.target);
    case MountKind::kBindTree: return fmt::format("bind {} on {}", s.source, s.target);
    case MountKind::kSymlink: return fmt::format("symlink {} -> {}", s.target, s.source);
    case MountKind::kMask: return fmt::format("mask {}", s.target);
    case MountKind::kReadonly: return fmt::format("make {} read-only", s.target);
    case MountKind::kPivotRoot: return fmt::format("pivot_root to {}", s.target);
    case MountKind::kMakeDir: return fmt::format("mkdir {}", s.target);
    case MountKind::kReadonlyRoot: return "make the root filesystem read-only";
    case MountKind::kBind: return fmt::format("bind {} on {}", s.source, s.target);
    case MountKind::kPopulate: return fmt::format("copy {} into the volume {}", s.target, s.source);
    case MountKind::kHostDevices: return fmt::format("create the host's devices of {} in {}", s.source, s.target);
  }
  return "mount step";
}

}  // namespace berth::runtime
