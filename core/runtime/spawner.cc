#include "core/runtime/spawner.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/runtime/child_fd.h"
#include "core/runtime/keeper.h"

namespace berth::runtime {

namespace {

using Json = nlohmann::json;

constexpr size_t kMaxMessage = 256 << 10;

Json mount_to_json(const Mount& m) {
  return {{"kind", m.kind == Mount::Kind::kBind ? "bind" : "tmpfs"},
          {"source", m.source},
          {"target", m.target},
          {"readonly", m.readonly},
          {"recursive", m.recursive},
          {"file", m.file},
          {"populate", m.populate},
          {"attrs", m.attrs},
          {"options", m.options}};
}

Mount mount_from_json(const Json& j) {
  Mount m;
  m.kind = j.at("kind") == "bind" ? Mount::Kind::kBind : Mount::Kind::kTmpfs;
  m.source = j.at("source");
  m.target = j.at("target");
  m.readonly = j.at("readonly");
  m.recursive = j.at("recursive");
  m.file = j.at("file");
  m.populate = j.at("populate");
  m.attrs = j.at("attrs");
  m.options = j.at("options").get<std::vector<std::pair<std::string, std::string>>>();
  return m;
}

Json condition_to_json(const SeccompFilterCondition& c) {
  return {{"caps", c.caps}, {"arches", c.arches}, {"kmaj", c.min_kernel_major}, {"kmin", c.min_kernel_minor}};
}
SeccompFilterCondition condition_from_json(const Json& j) {
  return {j.at("caps"), j.at("arches").get<std::vector<std::string>>(), j.at("kmaj"), j.at("kmin")};
}

Json profile_to_json(const SeccompProfile& p) {
  Json rules = Json::array();
  for (const SeccompRule& r : p.syscalls) {
    Json args = Json::array();
    for (const SeccompArg& a : r.args) args.push_back({a.index, a.value, a.value_two, int(a.op)});
    rules.push_back({{"names", r.names}, {"action", int(r.action)}, {"errno", r.errno_ret}, {"args", args},
                     {"includes", condition_to_json(r.includes)}, {"excludes", condition_to_json(r.excludes)}});
  }
  return {{"action", int(p.default_action)}, {"errno", p.default_errno}, {"arches", p.architectures},
          {"rules", rules}};
}
std::shared_ptr<const SeccompProfile> profile_from_json(const Json& j) {
  auto p = std::make_shared<SeccompProfile>();
  p->default_action = SeccompAction(j.at("action").get<int>());
  p->default_errno = j.at("errno");
  p->architectures = j.at("arches").get<std::vector<std::string>>();
  for (const Json& r : j.at("rules")) {
    SeccompRule rule;
    rule.names = r.at("names").get<std::vector<std::string>>();
    rule.action = SeccompAction(r.at("action").get<int>());
    rule.errno_ret = r.at("errno");
    for (const Json& a : r.at("args")) rule.args.push_back({a[0], a[1], a[2], SeccompOp(a[3].get<int>())});
    rule.includes = condition_from_json(r.at("includes"));
    rule.excludes = condition_from_json(r.at("excludes"));
    p->syscalls.push_back(std::move(rule));
  }
  return p;
}

// Security without its pidfds (they travel as SCM_RIGHTS); the default
// profile by name, a custom one whole (the spawner compiles and caches it,
// runtime/seccomp.h).
Json security_to_json(const Security& s) {
  Json devices = Json::array(), rlimits = Json::array();
  for (const Device& d : s.devices)
    devices.push_back({d.path, std::string(1, d.type), d.major, d.minor, d.file_mode, d.uid, d.gid, d.host_path,
                       d.permissions});
  for (const Rlimit& r : s.rlimits) rlimits.push_back({r.resource, r.soft, r.hard});
  return {{"caps", s.capabilities}, {"privileged", s.privileged}, {"nnp", s.no_new_privileges},
          {"seccomp", int(s.seccomp)}, {"seccomp_caps", s.seccomp_capabilities}, {"profile", s.seccomp_profile ? profile_to_json(*s.seccomp_profile) : Json()},
          {"unmasked", s.unmasked_paths}, {"devices", devices}, {"rlimits", rlimits}, {"sysctls", s.sysctls},
          {"shm_size", s.shm_size}, {"group_add", s.group_add}, {"host_pid", s.host_pid}, {"host_ipc", s.host_ipc},
          {"host_uts", s.host_uts}, {"shm_dir", s.shm_dir}};
}
Security security_from_json(const Json& j) {
  Security s;
  s.capabilities = j.at("caps");
  s.privileged = j.at("privileged");
  s.no_new_privileges = j.at("nnp");
  s.seccomp = Security::Seccomp(j.at("seccomp").get<int>());
  s.seccomp_capabilities = j.at("seccomp_caps");
  if (!j.at("profile").is_null()) s.seccomp_profile = profile_from_json(j.at("profile"));
  s.unmasked_paths = j.at("unmasked");
  for (const Json& d : j.at("devices"))
    s.devices.push_back({d[0], d[1].get<std::string>().at(0), d[2], d[3], d[4], d[5], d[6], d[7], d[8]});
  for (const Json& r : j.at("rlimits")) s.rlimits.push_back({r[0], r[1], r[2]});
  s.sysctls = j.at("sysctls").get<std::vector<std::pair<std::string, std::string>>>();
  s.shm_size = j.at("shm_size");
  s.group_add = j.at("group_add").get<std::vector<std::string>>();
  s.host_pid = j.at("host_pid");
  s.host_ipc = j.at("host_ipc");
  s.host_uts = j.at("host_uts");
  s.shm_dir = j.at("shm_dir");
  return s;
}

Json cgroup_view_json(const std::vector<CgroupMount>& view) {
  Json out = Json::array();
  for (const CgroupMount& m : view) out.push_back({m.name, m.fstype, m.options});
  return out;
}

// The Spec without its fds: those travel as SCM_RIGHTS.
Json spec_to_json(const Spec& s) {
  Json mounts = Json::array();
  for (const auto& m : s.mounts) mounts.push_back(mount_to_json(m));
  return {{"id", s.id},         {"lower_dirs", s.lower_dirs}, {"upper_dir", s.upper_dir},
          {"work_dir", s.work_dir}, {"rootfs_dir", s.rootfs_dir}, {"args", s.args},
          {"env", s.env},       {"cwd", s.cwd},               {"user", s.user},
          {"hostname", s.hostname}, {"new_netns", s.new_netns}, {"readonly_rootfs", s.readonly_rootfs},
          {"mounts", mounts},   {"tty", s.tty},               {"tty_rows", s.tty_rows},
          {"tty_cols", s.tty_cols}, {"deferred", s.deferred}, {"signals_blocked", s.signals_blocked},
          {"netns", s.netns_fd >= 0}, {"cgroup", s.cgroup_fd >= 0}, {"join", s.join_pidfd >= 0},
          {"stdin", s.stdin_fd >= 0}, {"stdout", s.stdout_fd >= 0}, {"stderr", s.stderr_fd >= 0},
          {"security", security_to_json(s.security)}, {"cgroupns_host", s.cgroupns_host},
          {"cgroup_view", cgroup_view_json(s.cgroup_view)}, {"join_pid", s.security.join_pid_pidfd >= 0},
          {"empty_dir", s.empty_dir}, {"cgroup_skeleton", s.cgroup_skeleton}, {"sysfs_netns", s.sysfs_netns_fd >= 0},
          {"join_ipc", s.security.join_ipc_pidfd >= 0},
          {"userns", {s.userns.uid, s.userns.gid, s.userns.size}}};
}

Spec spec_from_json(const Json& j) {
  Spec s;
  s.id = j.at("id");
  s.lower_dirs = j.at("lower_dirs").get<std::vector<std::string>>();
  s.upper_dir = j.at("upper_dir");
  s.work_dir = j.at("work_dir");
  s.rootfs_dir = j.at("rootfs_dir");
  s.args = j.at("args").get<std::vector<std::string>>();
  s.env = j.at("env").get<std::vector<std::string>>();
  s.cwd = j.at("cwd");
  s.user = j.at("user");
  s.hostname = j.at("hostname");
  s.new_netns = j.at("new_netns");
  s.readonly_rootfs = j.at("readonly_rootfs");
  for (const auto& m : j.at("mounts")) s.mounts.push_back(mount_from_json(m));
  s.tty = j.at("tty");
  s.tty_rows = j.at("tty_rows");
  s.tty_cols = j.at("tty_cols");
  s.deferred = j.at("deferred");
  s.signals_blocked = j.value("signals_blocked", false);
  s.security = security_from_json(j.at("security"));
  s.cgroupns_host = j.at("cgroupns_host");
  for (const Json& m : j.at("cgroup_view")) s.cgroup_view.push_back({m[0], m[1], m[2]});
  s.empty_dir = j.value("empty_dir", "");
  s.cgroup_skeleton = j.value("cgroup_skeleton", "");
  const Json& u = j.at("userns");
  s.userns.uid = u.at(0).get<uint32_t>();
  s.userns.gid = u.at(1).get<uint32_t>();
  s.userns.size = u.at(2).get<uint32_t>();
  return s;
}

// One message with up to FdMessage::kMaxFds fds. Blocking.
Result<void> send_message(int sock, const std::string& data, const std::vector<int>& fds) {
  FdMessage m(const_cast<char*>(data.data()), data.size());
  m.put_fds(fds.data(), int(fds.size()));
  for (;;) {
    if (::sendmsg(sock, &m.msg, MSG_NOSIGNAL) >= 0) return ok();
    if (errno != EINTR) return Error::sys(errno, "send to the spawner");
  }
}

// EOF is kNotFound (the other side is gone).
Result<void> receive_message(int sock, std::string* data, std::vector<unique_fd>* fds) {
  data->resize(kMaxMessage);
  FdMessage m(data->data(), data->size());
  ssize_t n;
  do {
    n = ::recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys(errno, "receive from the spawner");
  int got[FdMessage::kMaxFds];
  int k = m.take_fds(got, FdMessage::kMaxFds);
  for (int i = 0; i < k; i++) fds->emplace_back(got[i]);
  if (n == 0) return Error::not_found("the spawner is gone");
  if (m.msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return Error::invalid("spawner message too large");
  data->resize(size_t(n));
  return ok();
}

}  // namespace

// One request, in the keeper (keeper.h): the child is the keeper's own.
std::pair<std::string, std::vector<unique_fd>> serve_spawn(const std::string& request, std::vector<unique_fd> fds,
                                                           pid_t* pid, KeptKind* kind, std::string* id) {
  Json reply;
  std::vector<unique_fd> out;
  try {
    Json j = Json::parse(request);
    Spec spec = spec_from_json(j);
    size_t next = 0;
    auto take = [&](bool present) { return present && next < fds.size() ? fds[next++].get() : -1; };
    spec.netns_fd = take(j.at("netns"));
    spec.cgroup_fd = take(j.at("cgroup"));
    spec.join_pidfd = take(j.at("join"));
    spec.stdin_fd = take(j.at("stdin"));
    spec.stdout_fd = take(j.at("stdout"));
    spec.stderr_fd = take(j.at("stderr"));
    spec.security.join_pid_pidfd = take(j.at("join_pid"));
    spec.security.join_ipc_pidfd = take(j.at("join_ipc"));
    spec.sysfs_netns_fd = take(j.value("sysfs_netns", false));
    spec.sibling = false;
    auto p = spawn(spec);
    if (p) {
      *pid = p->pid;
      *kind = spec.join_pidfd >= 0 ? KeptKind::kExec : spec.deferred ? KeptKind::kWarm : KeptKind::kInit;
      *id = spec.id;
      reply = {{"pid", p->pid}};
      out.push_back(std::move(p->pidfd));
      out.push_back(std::move(p->sync_fd));
      out.push_back(std::move(p->error_fd));
    } else {
      reply = {{"error", p.error().message()}, {"code", int(p.error().code())}, {"errno", p.error().sys_errno()}};
    }
  } catch (const Json::exception& e) {
    reply = {{"error", std::string("bad spawner request: ") + e.what()}, {"code", int(Code::kInvalidArgument)},
             {"errno", 0}};
  }
  return {reply.dump(), std::move(out)};
}

namespace {

Result<unique_fd> connect_keeper(const std::string& path, bool nonblocking) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return Error::invalid("keeper socket path too long: {}", path);
  std::memcpy(a.sun_path, path.c_str(), path.size());
  unique_fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (!fd) return Error::sys(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return Error::sys(errno, "connect {}", path);
  return fd;
}

// A new keeper: berthd's own binary again (berthd --keeper), so that it
// holds none of berthd's memory; the listening socket is its fd 3.
Result<void> launch_keeper(const std::string& exec_root, const std::string& path) {
  ::unlink(path.c_str());
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return Error::invalid("keeper socket path too long: {}", path);
  std::memcpy(a.sun_path, path.c_str(), path.size());
  unique_fd l(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!l) return Error::sys(errno, "socket");
  if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return Error::sys(errno, "bind {}", path);
  ::chmod(path.c_str(), 0600);
  if (::listen(l.get(), 16) < 0) return Error::sys(errno, "listen {}", path);
  char exe[] = "/proc/self/exe";
  std::string root = exec_root;
  char* argv[] = {const_cast<char*>("berth:keeper"), const_cast<char*>("--keeper"), root.data(), nullptr};
  pid_t pid = ::fork();
  if (pid < 0) return Error::sys(errno, "fork the keeper");
  if (pid == 0) {
    // Async-signal-safe only until execve (berthd has threads).
    if (::dup2(l.get(), 3) < 0) ::_exit(127);
    ::close_range(4, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(exe, argv);
    ::_exit(127);
  }
  return ok();
}

}  // namespace

Result<std::unique_ptr<Spawner>> Spawner::start(const std::string& exec_root, bool* found, reactor::FdVault* vault) {
  std::string path = exec_root + "/keeper.sock";
  auto ctl = connect_keeper(path, false);
  *found = bool(ctl);
  if (!ctl) {
    BERTH_TRY_VOID(launch_keeper(exec_root, path));
    ctl = connect_keeper(path, false);  // the backlog takes it before the keeper runs
    if (!ctl) return std::move(ctl.error()).context("the new keeper");
  }
  // A keeper that accepts no more (dying, or wedged) must not hold a job
  // lane for ever: its answers come within seconds or not at all.
  timeval tv{30, 0};
  (void)::setsockopt(ctl->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  unique_fd events = BERTH_TRY(connect_keeper(path, true));
  std::unique_ptr<Spawner> s(new Spawner(0, std::move(*ctl), std::move(events)));
  KeeperMsg watch;
  watch.type = KeeperType::kWatch;
  BERTH_TRY_VOID(s->notify(watch, {}));
  // Exits from now on are pushed; what came before is in hello's answer.
  s->kept_ = BERTH_TRY(s->hello(vault));
  return s;
}

Spawner::~Spawner() = default;  // the keeper stays: it outlives berthd

Result<void> Spawner::notify(const KeeperMsg& m, const std::vector<int>& fds) {
  FdMessage fm(const_cast<KeeperMsg*>(&m), sizeof m);
  fm.put_fds(fds.data(), int(fds.size()));
  for (;;) {
    if (::sendmsg(events_.get(), &fm.msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return ok();
    if (errno != EINTR) return Error::sys(errno, "tell the keeper");
  }
}

Result<void> Spawner::hold(pid_t pid, const std::string& id, const std::vector<int>& fds) {
  KeeperMsg m;
  m.type = KeeperType::kHold;
  m.pid = pid;
  m.nfds = uint8_t(fds.size());
  std::snprintf(m.id, sizeof m.id, "%s", id.c_str());
  return notify(m, fds);
}

Result<void> Spawner::release(pid_t pid) {
  KeeperMsg m;
  m.type = KeeperType::kRelease;
  m.pid = pid;
  return notify(m, {});
}

Result<std::vector<KeptProcess>> Spawner::hello(reactor::FdVault* vault) {
  std::lock_guard lock(mu_);
  KeeperMsg m;
  m.type = KeeperType::kHello;
  if (::send(ctl_.get(), &m, sizeof m, MSG_NOSIGNAL) < 0) return Error::sys(errno, "ask the keeper");
  std::vector<KeptProcess> out;
  for (;;) {
    KeeperMsg got;
    FdMessage fm(&got, sizeof got);
    ssize_t n;
    do {
      n = ::recvmsg(ctl_.get(), &fm.msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    int fds[FdMessage::kMaxFds];
    int k = fm.take_fds(fds, FdMessage::kMaxFds);
    std::vector<unique_fd> owned;
    for (int i = 0; i < k; i++) owned.emplace_back(fds[i]);
    if (n < 0) return Error::sys(errno, "hear the keeper");
    if (n != sizeof got || got.tag != 'K') return Error(Code::kSystem, "the keeper's answer is broken");
    if (got.type == KeeperType::kEnd) {
      pid_ = got.pid;
      return out;
    }
    KeptProcess p;
    p.pid = got.pid;
    p.kind = got.kind;
    p.exited = got.exited;
    p.exit_code = got.exit_code;
    p.exit_ns = got.exit_ns;
    got.id[sizeof got.id - 1] = 0;
    p.id = got.id;
    // Into the vault as they come (all of a process's or none); the
    // descriptors close with `owned` then.
    std::vector<uint32_t> keys(owned.size());
    if (vault && vault->stash_all(fds, owned.size(), keys.data())) p.keys = std::move(keys);
    else p.fds = std::move(owned);
    out.push_back(std::move(p));
  }
}

Result<Process> Spawner::spawn(const Spec& spec) {
  std::lock_guard lock(mu_);
  std::vector<int> fds;
  for (int fd : {spec.netns_fd, spec.cgroup_fd, spec.join_pidfd, spec.stdin_fd, spec.stdout_fd, spec.stderr_fd,
                 spec.security.join_pid_pidfd, spec.security.join_ipc_pidfd, spec.sysfs_netns_fd})
    if (fd >= 0) fds.push_back(fd);
  if (auto sent = send_message(ctl_.get(), spec_to_json(spec).dump(), fds); !sent)
    return Error::not_found("the spawner is gone: {}", sent.error().message());
  std::string data;
  std::vector<unique_fd> got;
  BERTH_TRY_VOID(receive_message(ctl_.get(), &data, &got));
  Json reply = Json::parse(data, nullptr, false);
  if (reply.is_discarded()) return Error(Code::kSystem, "the spawner sent invalid JSON");
  if (reply.contains("error"))
    return Error(Code(reply.value("code", int(Code::kSystem))), reply.value("error", std::string()),
                 reply.value("errno", 0));
  if (got.size() != 3 || !reply.contains("pid")) return Error(Code::kSystem, "the spawner sent an incomplete answer");
  Process p;
  p.pid = reply.at("pid").get<pid_t>();
  p.pidfd = std::move(got[0]);
  p.sync_fd = std::move(got[1]);
  p.error_fd = std::move(got[2]);
  p.deferred = spec.deferred;
  p.tty = spec.tty;
  return p;
}

Result<Process> spawn_with(Spawner* s, const Spec& spec) {
  if (s) {
    auto p = s->spawn(spec);
    if (p || p.error().code() != Code::kNotFound) return p;  // kNotFound: the spawner is gone
  }
  return spawn(spec);
}

}  // namespace berth::runtime
