#include "cgroups/control.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "cgroups/cgroups.h"
#include "core/base/strings.h"
#include "core/base/unique_fd.h"

namespace berth::cgroups {

std::string join_path(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  while (!b.empty() && b.back() == '/') b.remove_suffix(1);
  if (!b.empty()) {
    out += '/';
    out += b;
  }
  if (out.empty()) out.push_back('/');  // (not `= "/"`: g++ 12 -Wrestrict false positive)
  return out;
}

namespace {

bool valid_components(std::string_view p) {
  for (const std::string& c : split(p, '/')) {
    if (c == "..") return false;
  }
  return true;
}

}  // namespace

Result<std::string> cgroup_path(std::string_view self, std::string_view parent, std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return Error::invalid("invalid cgroup name '{}'", name);
  }
  return join_path(BERTH_TRY(cgroup_parent_path(self, parent)), name);
}

Result<std::string> cgroup_parent_path(std::string_view self, std::string_view parent) {
  if (!valid_components(parent)) return Error::invalid("invalid cgroup parent '{}'", parent);
  return join_path(creation_start(self, parent), parent);
}

std::string creation_start(std::string_view self, std::string_view parent) {
  if (!parent.empty() && parent.front() == '/') return "/";
  return join_path("/", self);
}

bool has_control(const std::string& dir, std::string_view file) {
  struct stat st;
  return ::stat(join_path(dir, file).c_str(), &st) == 0;
}

Result<std::optional<std::string>> read_control_if_exists(const std::string& dir, std::string_view file) {
  std::string path = join_path(dir, file);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Error::sys(errno, "read {} in {}", file, dir);
  }
  unique_fd owner(fd);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys(errno, "read {} in {}", file, dir);
    }
    if (n == 0) break;
    if (out.size() + n > (4u << 20)) return Error::make(Code::kTooLarge, "read {} in {}: too large", file, dir);
    out.append(buf, n);
  }
  return std::optional<std::string>(std::move(out));
}

Result<std::string> read_control(const std::string& dir, std::string_view file) {
  std::optional<std::string> s = BERTH_TRY(read_control_if_exists(dir, file));
  if (!s) return Error::sys(ENOENT, "read {} in {}", file, dir);
  return std::move(*s);
}

Result<void> write_control(const std::string& dir, std::string_view file, std::string_view value) {
  std::string path = join_path(dir, file);
  // O_TRUNC is a no-op on cgroupfs and keeps a fixture file exact.
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Error::sys(errno, "write {} in {}", file, dir);
  unique_fd owner(fd);
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys(errno, "write {} in {}", file, dir);
  if (static_cast<size_t>(n) != value.size()) {
    return Error::make(Code::kSystem, "write {} in {}: short write", file, dir);
  }
  return ok();
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<uint64_t> read_u64(const std::string& dir, std::string_view file) {
  std::string s = BERTH_TRY(read_control(dir, file));
  auto v = parse_u64(s);
  if (!v) return Error::make(Code::kCorrupt, "parse {} in {}: '{}' is not a number", file, dir, trim(s));
  return *v;
}

Result<uint64_t> read_limit(const std::string& dir, std::string_view file) {
  std::string s = BERTH_TRY(read_control(dir, file));
  if (trim(s) == "max") return uint64_t{0};
  auto v = parse_u64(s);
  if (!v) return Error::make(Code::kCorrupt, "parse {} in {}: '{}' is not a limit", file, dir, trim(s));
  return *v >= kUnlimitedFloor ? 0 : *v;
}

std::vector<std::pair<std::string, uint64_t>> parse_flat_keyed(std::string_view text) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const std::string& line : split(text, '\n')) {
    std::string_view l = trim(line);
    size_t sp = l.find(' ');
    if (sp == std::string_view::npos) continue;
    auto v = parse_u64(l.substr(sp + 1));
    if (!v) continue;
    out.emplace_back(std::string(l.substr(0, sp)), *v);
  }
  return out;
}

std::optional<uint64_t> keyed_value(std::string_view text, std::string_view key) {
  for (auto& [k, v] : parse_flat_keyed(text)) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t b = text.find_first_not_of(" \t\r\n", i);
    if (b == std::string_view::npos) break;
    size_t e = text.find_first_of(" \t\r\n", b);
    if (e == std::string_view::npos) e = text.size();
    std::string_view w = text.substr(b, e - b);
    if (w.front() == '+') w.remove_prefix(1);
    if (!w.empty()) out.emplace_back(w);
    i = e;
  }
  return out;
}

Result<std::vector<pid_t>> read_procs(const std::string& dir) {
  std::string s = BERTH_TRY(read_control(dir, "cgroup.procs"));
  std::vector<pid_t> out;
  for (const std::string& w : words(s)) {
    auto v = parse_u64(w);
    if (!v || *v == 0 || *v > INT32_MAX) {
      return Error::make(Code::kCorrupt, "parse cgroup.procs in {}: bad pid '{}'", dir, w);
    }
    out.push_back(static_cast<pid_t>(*v));
  }
  return out;
}

Result<void> kill_each(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    if (::kill(pid, SIGKILL) < 0 && errno != ESRCH) return Error::sys(errno, "kill {}", pid);
  }
  return ok();
}

Result<void> kill_in_rounds(const std::string& dir) {
  constexpr int kRounds = 10;
  std::vector<pid_t> done;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<pid_t> fresh;
    for (pid_t p : BERTH_TRY(read_procs(dir))) {
      if (std::find(done.begin(), done.end(), p) == done.end()) fresh.push_back(p);
    }
    if (fresh.empty()) break;
    BERTH_TRY_VOID(kill_each(fresh));
    done.insert(done.end(), fresh.begin(), fresh.end());
  }
  return ok();
}

Result<std::vector<std::string>> child_cgroups(const std::string& dir) {
  std::vector<std::string> children;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return children;
    return Error::sys(errno, "open cgroup {}", dir);
  }
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int err = errno;
    ::close(fd);
    return Error::sys(err, "open cgroup {}", dir);
  }
  while (dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) children.emplace_back(e->d_name);
  }
  ::closedir(d);
  return children;
}

Result<void> remove_cgroup_dir(const std::string& dir) {
  // Usually a leaf: one rmdir. EBUSY means child cgroups or tasks; the walk
  // below tells them apart.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return ok();
  if (errno != EBUSY && errno != ENOTEMPTY) return Error::sys(errno, "remove cgroup {}", dir);
  std::vector<std::string> children = BERTH_TRY(child_cgroups(dir));
  for (const std::string& c : children) BERTH_TRY_VOID(remove_cgroup_dir(join_path(dir, c)));
  if (::rmdir(dir.c_str()) < 0) {
    if (errno == ENOENT) return ok();
    int err = errno;
    Error e = Error::sys(err, "remove cgroup {}", dir);
    if (err == EBUSY) return Error(Code::kConflict, e.message(), err);
    return e;
  }
  return ok();
}

int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void sleep_ns(int64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  while (::nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

Result<void> destroy_retrying(Cgroup& cg) {
  Result<void> r = cg.destroy();
  for (int i = 1; i < 100 && !r && r.error().code() == Code::kConflict; i++) {
    ::usleep(10000);
    r = cg.destroy();
  }
  return r;
}

}  // namespace berth::cgroups
