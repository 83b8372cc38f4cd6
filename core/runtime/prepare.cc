#include "core/runtime/prepare.h"

#include <linux/capability.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "core/runtime/late.h"
#include "core/runtime/security.h"

namespace berth::runtime {

namespace {

constexpr size_t kHomeBufSize = 5 + kMaxHome;  // "HOME=" + path + NUL
constexpr size_t kHomeBufRoom = (kHomeBufSize + 15) & ~size_t(15);  // the late buffer after it stays aligned

// A wrong fd would only fail in the child (setns EINVAL), with a vaguer
// message; NS_GET_NSTYPE (Linux 4.11, ioctl_ns(2)) names the problem here.
Result<void> validate_netns_fd(const Spec& spec) {
  if (spec.netns_fd < 0) return ok();
  if (!spec.new_netns)
    return Error::invalid("container {}: a network namespace fd was given for the host network", spec.id);
  int type = ::ioctl(spec.netns_fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET)
    return Error::invalid("container {}: fd {} is not a network namespace", spec.id, spec.netns_fd);
  return ok();
}

Result<void> validate(const Spec& spec) {
  if (spec.args.empty() || spec.args[0].empty()) return Error::invalid("no command specified");
  if (!spec.cwd.empty() && spec.cwd[0] != '/')
    return Error::invalid("the working directory \"{}\" is invalid, it needs to be an absolute path", spec.cwd);
  for (const auto& a : spec.args)
    if (a.find('\0') != std::string::npos) return Error::invalid("argument contains a NUL byte");
  for (const auto& e : spec.env)
    if (e.find('\0') != std::string::npos) return Error::invalid("environment contains a NUL byte");
  if (auto r = validate_security(spec.security, spec.new_netns); !r)
    return std::move(r.error()).context("container {}", spec.id.substr(0, 12));
  if (spec.join_pidfd >= 0) {  // exec: nothing to mount, no namespace of its own
    if (spec.deferred) return Error::invalid("exec in container {}: an exec cannot be deferred", spec.id);
    if (spec.netns_fd >= 0)
      return Error::invalid("exec in container {}: a network namespace fd was given", spec.id);
    return ok();
  }
  if (spec.lower_dirs.empty()) return Error::invalid("container {}: no image layers", spec.id);
  if (spec.deferred && spec.readonly_rootfs)  // the working directory is made after release
    return Error::invalid("container {}: a deferred init cannot have a read-only root", spec.id);
  for (const std::string* p : {&spec.rootfs_dir, &spec.upper_dir, &spec.work_dir})
    if (p->empty() || (*p)[0] != '/') return Error::invalid("container {}: path \"{}\" is not absolute", spec.id, *p);
  return validate_netns_fd(spec);
}

bool has_key(const std::vector<std::string>& env, std::string_view key_eq) {
  for (const auto& e : env)
    if (starts_with(e, key_eq)) return true;
  return false;
}

// Capabilities, seccomp, no_new_privs, rlimits, sysctls, extra groups and
// namespace joins into ChildArgs. A deferred init gets capabilities,
// seccomp and no_new_privs with its release (late.h): none here.
Result<void> prepare_security(const Spec& spec, Prepared* out) {
  const Security& sec = spec.security;
  ChildArgs& a = out->args;
  bool exec = spec.join_pidfd >= 0;
  a.cap_keep = effective_capabilities(sec);
  a.cap_last = cap_last_cap();
  if (uint64_t missing = sec.capabilities & ~all_capabilities() & ~(~uint64_t(0) << (a.cap_last + 1));
      missing && !sec.privileged)
  {
    std::string names;
    for (const auto& n : capability_names(missing)) names += (names.empty() ? "" : ", ") + n;
    return Error::invalid("container {}: {} not in berthd's own bounding set, so it cannot be given",
                          spec.id.substr(0, 12), names);
  }
  a.no_new_privs = sec.no_new_privileges;
  bool filtered = !sec.privileged && sec.seccomp != Security::Seccomp::kUnconfined;
  if (filtered && !spec.deferred) {
    const auto& profile = sec.seccomp == Security::Seccomp::kProfile ? sec.seccomp_profile : default_seccomp_profile();
    uint64_t judged = sec.seccomp_capabilities == Security::kSameCapabilities ? a.cap_keep : sec.seccomp_capabilities;
    auto prog = compile_seccomp(profile, judged);
    if (!prog) return std::move(prog.error()).context("container {}", spec.id.substr(0, 12));
    out->seccomp = std::move(*prog);
    a.seccomp_filter = out->seccomp->filter.data();
    a.seccomp_len = static_cast<unsigned short>(out->seccomp->filter.size());
  }
  out->rlimits = sec.rlimits;
  a.rlimits = out->rlimits.data();
  a.rlimit_count = out->rlimits.size();
  out->group_add_strings = sec.group_add;
  for (const auto& g : out->group_add_strings) out->group_add.push_back(g.c_str());
  a.user.extra_groups = out->group_add.data();
  a.user.extra_group_count = out->group_add.size();
  if (exec) return ok();  // the container's namespaces, sysctls and hostname are there already
  for (const auto& [k, v] : sec.sysctls) {
    if (parent_writes_sysctl(spec, k)) continue;
    out->sysctl_path_strings.push_back(sysctl_proc_path(k));
    out->sysctl_value_strings.push_back(v);
  }
  for (size_t i = 0; i < out->sysctl_path_strings.size(); i++) {
    out->sysctl_paths.push_back(out->sysctl_path_strings[i].c_str());
    out->sysctl_values.push_back(out->sysctl_value_strings[i].c_str());
  }
  a.sysctl_paths = out->sysctl_paths.data();
  a.sysctl_values = out->sysctl_values.data();
  a.sysctl_count = out->sysctl_paths.size();
  a.join_ipc_pidfd = sec.join_ipc_pidfd;
  a.set_hostname = !sec.host_uts;
  return ok();
}

void prepare_argv_env(const Spec& spec, Prepared* out) {
  out->argv_strings = spec.args;
  for (auto& s : out->argv_strings) out->argv.push_back(s.data());
  out->argv.push_back(nullptr);

  out->env_strings = spec.env;
  for (auto& s : out->env_strings) out->envp.push_back(s.data());
  if (!has_key(spec.env, "HOME=")) {
    out->args.home_slot = int(out->envp.size());
    out->envp.push_back(nullptr);  // the child fills it from /etc/passwd
  }
  out->envp.push_back(nullptr);
  out->args.argv = out->argv.data();
  out->args.envp = out->envp.data();
}

}  // namespace

std::vector<std::string> exec_candidates(const std::string& arg0, const std::vector<std::string>& env) {
  if (arg0.find('/') != std::string::npos) return {arg0};
  std::string path = kDefaultPath;
  for (const auto& e : env)
    if (starts_with(e, "PATH=")) path = e.substr(5);
  std::vector<std::string> out;
  for (std::string dir : split(path, ':')) {
    // push_back/append, not `= "."` or operator+: g++ 12 gives a false
    // -Wrestrict on those (GCC PR 105329).
    if (dir.empty()) dir.push_back('.');
    if (dir.back() != '/') dir += '/';
    dir.append(arg0);
    out.push_back(std::move(dir));
  }
  return out;
}

uint64_t effective_capabilities(const Security& s) { return s.privileged ? all_capabilities() : s.capabilities; }

Result<void> prepare(const Spec& spec, Prepared* out, bool child_buffers) {
  BERTH_TRY_VOID(validate(spec));
  out->user = BERTH_TRY(parse_user_spec(spec.user));
  if (spec.join_pidfd < 0) out->plan = make_mount_plan(spec);
  if (spec.deferred) {
    // Its working directory comes with the release (late.h) and is made then.
    auto& st = out->plan.steps;
    std::erase_if(st, [](const MountStep& s) { return s.kind == MountKind::kMakeDir; });
  }
  out->cwd = spec.cwd.empty() ? "/" : spec.cwd;
  out->hostname = !spec.hostname.empty() ? spec.hostname : spec.id.substr(0, 12);
  if (out->hostname.size() > 64) return Error::invalid("hostname \"{}\" is longer than 64 bytes", out->hostname);
  prepare_argv_env(spec, out);
  out->exec_strings = exec_candidates(spec.args[0], spec.env);
  for (const auto& s : out->exec_strings) out->exec_paths.push_back(s.c_str());
  // new char[] leaves the memory untouched: the pages are only faulted in by
  // the child when it reads the files.
  if (child_buffers) out->buffers.reset(new char[2 * kUserFileMax + kHomeBufRoom + (spec.deferred ? kLateMax : 0)]);

  ChildArgs& a = out->args;
  bool exec = spec.join_pidfd >= 0;
  a.join_pidfd = spec.join_pidfd;
  a.unshare_cgroupns = !exec && spec.cgroup_fd < 0 && !spec.cgroupns_host;
  if (!exec) {
    for (const CgroupMount& m : spec.cgroup_view) {
      if (m.fstype != "cgroup" && m.fstype != "cgroup2") return Error::invalid("cgroup view: fstype {} is not cgroup or cgroup2", m.fstype);
      if (m.name.find('/') != std::string::npos || m.name == "." || m.name == "..")
        return Error::invalid("cgroup view: {} is not a directory name", m.name);
      out->cgroup_view_paths.push_back(m.name.empty() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/" + m.name);
    }
    for (size_t i = 0; i < spec.cgroup_view.size(); i++)
      out->cgroup_view.push_back({out->cgroup_view_paths[i].c_str(), spec.cgroup_view[i].fstype.c_str(),
                                  spec.cgroup_view[i].options.c_str()});
    a.cgroup_view = out->cgroup_view.data();
    a.cgroup_view_count = out->cgroup_view.size();
    a.cgroup_view_rw = spec.security.privileged;
    a.cgroup_skeleton = binds_cgroup_skeleton(spec);
  }
  // A remapped container's pre-made netns is entered by the parent around
  // clone3 (spawn.cc): the child may not setns into it.
  a.netns_fd = exec || spec.userns ? -1 : spec.netns_fd;
  a.sysfs_netns_fd = !exec && shares_sysfs(spec) ? spec.sysfs_netns_fd : -1;
  a.join_userns = exec && spec.userns;
  a.loopback_up = !exec && spec.new_netns && spec.netns_fd < 0;
  a.hostname = out->hostname.c_str();
  a.hostname_len = out->hostname.size();
  a.plan = exec ? nullptr : &out->plan;
  a.user = query_of(out->user);
  a.deferred = spec.deferred && !exec;
  BERTH_TRY_VOID(prepare_security(spec, out));
  if (out->buffers) {
    a.passwd_buf = out->buffers.get();
    a.group_buf = a.passwd_buf + kUserFileMax;
    a.home_buf = a.group_buf + kUserFileMax;
    if (a.deferred) a.late_buf = a.home_buf + kHomeBufRoom;
  }
  a.exec_paths = out->exec_paths.data();
  a.exec_path_count = out->exec_paths.size();
  a.path_lookup = spec.args[0].find('/') == std::string::npos;
  a.cwd = out->cwd.c_str();
  a.tty = spec.tty;
  a.signals_blocked = spec.signals_blocked;
  a.tty_rows = spec.tty_rows;
  a.tty_cols = spec.tty_cols;
  a.stdio[0] = spec.stdin_fd;
  a.stdio[1] = spec.stdout_fd;
  a.stdio[2] = spec.stderr_fd;
  return ok();
}

}  // namespace berth::runtime
