#include "core/runtime/child_error.h"

#include <cctype>
#include <cstring>
#include <string>

#include "core/runtime/mount_plan.h"
#include "core/runtime/security.h"

namespace berth::runtime {

namespace {

// Go's errno texts, which runc prints and the docker CLI matches
// ("no such file or directory", "permission denied"): glibc's strerror with
// a lowercase first letter.
std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = char(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

Error make(Code code, int err, std::string msg) { return Error(code, std::move(msg), err); }

Error sys(int err, std::string what) {
  return make(Error::code_for_errno(err), err, fmt::format("{}: {}", what, errno_text(err)));
}

Error exec_error(const ChildError& ce, const Spec& spec) {
  std::string arg0 = spec.args.empty() ? "" : spec.args[0];
  bool lookup = arg0.find('/') == std::string::npos;
  if (lookup && ce.err == ENOENT)
    return make(Code::kInvalidArgument, ce.err,
                fmt::format("exec: \"{}\": executable file not found in $PATH", arg0));
  if (lookup)
    return make(Code::kInvalidArgument, ce.err, fmt::format("exec: \"{}\": {}", arg0, errno_text(ce.err)));
  return make(Code::kInvalidArgument, ce.err, fmt::format("exec {}: {}", arg0, errno_text(ce.err)));
}

Error mount_error(const ChildError& ce, const Spec& spec) {
  size_t index = size_t(ce.stage - int32_t(Stage::kMountStep));
  MountPlan plan = make_mount_plan(spec);
  if (index >= plan.steps.size()) return sys(ce.err, fmt::format("mount step {}", index));
  const MountStep& step = plan.steps[index];
  if (step.kind == MountKind::kMakeDir)
    return make(Code::kInvalidArgument, ce.err,
                fmt::format("mkdir working directory \"{}\": {}", step.target, errno_text(ce.err)));
  return sys(ce.err, describe_step(step));
}

const char* stage_verb(Stage s) {
  switch (s) {
    case Stage::kKeepFds: return "close inherited file descriptors";
    case Stage::kDeathSignal: return "set parent death signal";
    case Stage::kSignals: return "reset signal handlers";
    case Stage::kSync: return "wait for the start signal";
    case Stage::kSetsid: return "setsid";
    case Stage::kCgroupns: return "unshare cgroup namespace";
    case Stage::kCgroupView: return "mount the cgroup filesystems at /sys/fs/cgroup";
    case Stage::kHostname: return "set hostname";
    case Stage::kLoopback: return "bring up lo";
    case Stage::kJoinNetns: return "join network namespace";
    case Stage::kJoinContainer: return "join the container's namespaces";
    case Stage::kPty: return "allocate a pseudo-terminal (/dev/ptmx)";
    case Stage::kPtySend: return "hand the pseudo-terminal to berthd";
    case Stage::kControllingTty: return "make the pseudo-terminal the controlling terminal";
    case Stage::kPriority: return "set the scheduling priority";
    case Stage::kReadPasswd: return "read /etc/passwd";
    case Stage::kReadGroup: return "read /etc/group";
    case Stage::kBoundingSet: return "drop capabilities from the bounding set";
    case Stage::kNoNewPrivs: return "set no_new_privs";
    case Stage::kSetgroups: return "setgroups";
    case Stage::kSetgid: return "setgid";
    case Stage::kSetuid: return "setuid";
    case Stage::kCapset: return "set capabilities";
    case Stage::kStdio: return "set up stdio";
    case Stage::kJoinIpc: return "join the IPC namespace of the container given (--ipc)";
    case Stage::kRlimit: return "set resource limits (--ulimit)";
    case Stage::kSeccomp: return "load the seccomp filter";
    case Stage::kUserns: return "enter the user namespace";
    default: return nullptr;
  }
}

}  // namespace

Error describe_child_error(const ChildError& ce, const Spec& spec) {
  if (ce.stage >= int32_t(Stage::kMountStep)) return mount_error(ce, spec);
  const Security& sec = spec.security;
  if (ce.stage >= int32_t(Stage::kGroupAddNotFound)) {
    size_t i = size_t(ce.stage - int32_t(Stage::kGroupAddNotFound));
    std::string g = i < sec.group_add.size() ? sec.group_add[i] : "?";
    return make(Code::kInvalidArgument, ce.err,
                fmt::format("unable to find group {}: no matching entries in group file", g));
  }
  if (ce.stage >= int32_t(Stage::kSysctl)) {
    size_t i = size_t(ce.stage - int32_t(Stage::kSysctl));   // among those the child writes
    std::string k = "?";
    for (const auto& [name, value] : sec.sysctls) {
      if (parent_writes_sysctl(spec, name)) continue;
      if (i-- == 0) {
        k = name;
        break;
      }
    }
    return sys(ce.err, fmt::format("write sysctl {}", k));
  }
  Stage stage = Stage(ce.stage);
  switch (stage) {
    case Stage::kExec: return exec_error(ce, spec);
    case Stage::kUserNotFound: {
      std::string name = spec.user.substr(0, spec.user.find(':'));
      return make(Code::kInvalidArgument, ce.err,
                  fmt::format("unable to find user {}: no matching entries in passwd file", name));
    }
    case Stage::kGroupNotFound: {
      auto colon = spec.user.find(':');
      std::string group = colon == std::string::npos ? "" : spec.user.substr(colon + 1);
      return make(Code::kInvalidArgument, ce.err,
                  fmt::format("unable to find group {}: no matching entries in group file", group));
    }
    case Stage::kChdir:
      return make(Code::kInvalidArgument, ce.err,
                  fmt::format("chdir to cwd (\"{}\") set in container config failed: {}",
                              spec.cwd.empty() ? "/" : spec.cwd, errno_text(ce.err)));
    default: break;
  }
  if (const char* verb = stage_verb(stage)) return sys(ce.err, verb);
  return sys(ce.err, fmt::format("container init setup stage {}", ce.stage));
}

}  // namespace berth::runtime
