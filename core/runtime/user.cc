#include "core/runtime/user.h"

#include <cstring>

#include "core/base/strings.h"

namespace berth::runtime {

namespace {

constexpr uint32_t kMaxId = 2147483647;  // runc: ids must be in 0..2^31-1

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Sets *name or *id from one half of the user string.
Result<void> parse_part(std::string_view part, std::string_view what, std::string* name,
                        uint32_t* id) {
  if (part.empty()) return Error::invalid("invalid user spec: empty {}", what);
  if (!is_digits(part)) {
    *name = std::string(part);
    return ok();
  }
  auto v = parse_int(part);
  if (!v || *v > kMaxId) return Error::invalid("invalid {} {}: out of range 0-{}", what, part, kMaxId);
  *id = uint32_t(*v);
  return ok();
}

// ---- async-signal-safe scanning below: no allocation, no libc state ----

struct Span {
  const char* p = nullptr;
  size_t n = 0;
  bool equals(const char* s, size_t len) const { return n == len && std::memcmp(p, s, n) == 0; }
};

// Field `index` (0-based) of a ':'-separated line; false if the line is shorter.
bool field(Span line, int index, Span* out) {
  size_t start = 0;
  for (int f = 0;; f++) {
    size_t end = start;
    while (end < line.n && line.p[end] != ':') end++;
    if (f == index) {
      *out = {line.p + start, end - start};
      return true;
    }
    if (end >= line.n) return false;
    start = end + 1;
  }
}

bool parse_id(Span s, uint32_t* out) {
  if (s.n == 0 || s.n > 10) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return false;
    v = v * 10 + uint64_t(s.p[i] - '0');
  }
  if (v > kMaxId) return false;
  *out = uint32_t(v);
  return true;
}

// Calls fn(line) for each non-empty, non-comment line until fn returns true.
template <class Fn>
bool each_line(const char* buf, size_t len, Fn fn) {
  size_t i = 0;
  while (i < len) {
    size_t end = i;
    while (end < len && buf[end] != '\n') end++;
    Span line{buf + i, end - i};
    if (line.n > 0 && line.p[0] != '#' && fn(line)) return true;
    i = end + 1;
  }
  return false;
}

struct PasswdEntry {
  Span name;
  uint32_t uid = 0, gid = 0;
  Span home;
};

// By name when `name.n` > 0, else by uid. name:pw:uid:gid:gecos:home:shell
bool find_passwd(const char* buf, size_t len, Span name, uint32_t uid, PasswdEntry* out) {
  return each_line(buf, len, [&](Span line) {
    PasswdEntry e;
    Span uid_f, gid_f;
    if (!field(line, 0, &e.name) || !field(line, 2, &uid_f) || !field(line, 3, &gid_f)) return false;
    if (!parse_id(uid_f, &e.uid) || !parse_id(gid_f, &e.gid)) return false;
    if (!field(line, 5, &e.home)) e.home = {};
    if (name.n > 0 ? !e.name.equals(name.p, name.n) : e.uid != uid) return false;
    *out = e;
    return true;
  });
}

// name:pw:gid:member,member
bool find_group_gid(const char* buf, size_t len, Span name, uint32_t* gid) {
  return each_line(buf, len, [&](Span line) {
    Span n, gid_f;
    if (!field(line, 0, &n) || !field(line, 2, &gid_f) || !n.equals(name.p, name.n)) return false;
    return parse_id(gid_f, gid);
  });
}

bool has_member(Span members, Span user) {
  size_t start = 0;
  while (start <= members.n) {
    size_t end = start;
    while (end < members.n && members.p[end] != ',') end++;
    if (Span{members.p + start, end - start}.equals(user.p, user.n)) return true;
    start = end + 1;
  }
  return false;
}

void add_group(ResolvedUser* out, uint32_t gid) {
  for (size_t i = 0; i < out->group_count; i++)
    if (out->groups[i] == gid) return;
  if (out->group_count < kMaxGroups) out->groups[out->group_count++] = gid;
}

void add_member_groups(const char* buf, size_t len, Span user, ResolvedUser* out) {
  each_line(buf, len, [&](Span line) {
    Span gid_f, members;
    uint32_t gid;
    if (field(line, 2, &gid_f) && field(line, 3, &members) && parse_id(gid_f, &gid) &&
        has_member(members, user))
      add_group(out, gid);
    return false;
  });
}

void set_home(ResolvedUser* out, Span home) {
  if (home.n == 0 || home.n >= kMaxHome) home = {"/", 1};
  std::memcpy(out->home, home.p, home.n);
  out->home[home.n] = '\0';
}

}  // namespace

Result<UserRequest> parse_user_spec(std::string_view s) {
  UserRequest req;
  if (s.empty()) return req;
  auto colon = s.find(':');
  BERTH_TRY_VOID(parse_part(s.substr(0, colon), "user", &req.user, &req.uid));
  if (colon == std::string_view::npos) return req;
  std::string_view g = s.substr(colon + 1);
  if (g.find(':') != std::string_view::npos) return Error::invalid("invalid user spec {}: too many ':'", s);
  req.has_group = true;
  BERTH_TRY_VOID(parse_part(g, "group", &req.group, &req.gid));
  return req;
}

UserQuery query_of(const UserRequest& req) {
  return {.user = req.user.c_str(), .user_len = req.user.size(), .uid = req.uid, .has_group = req.has_group,
          .group = req.group.c_str(), .group_len = req.group.size(), .gid = req.gid};
}

UserLookup resolve_user(const UserQuery& req, const char* passwd, size_t passwd_len,
                        const char* group, size_t group_len, ResolvedUser* out) {
  out->group_count = 0;
  PasswdEntry pw;
  Span user_name{req.user, req.user_len};
  bool found = find_passwd(passwd, passwd_len, user_name, req.uid, &pw);
  if (!found && user_name.n > 0) return UserLookup::kUserNotFound;
  out->uid = found ? pw.uid : req.uid;
  out->gid = found ? pw.gid : 0;
  set_home(out, found ? pw.home : Span{});
  if (req.has_group && req.group_len > 0) {
    if (!find_group_gid(group, group_len, {req.group, req.group_len}, &out->gid))
      return UserLookup::kGroupNotFound;
  } else if (req.has_group) {
    out->gid = req.gid;
  }
  add_group(out, out->gid);
  if (found && pw.name.n > 0) add_member_groups(group, group_len, pw.name, out);
  for (size_t i = 0; i < req.extra_group_count; i++) {
    Span g{req.extra_groups[i], std::strlen(req.extra_groups[i])};
    uint32_t gid;
    if (!parse_id(g, &gid) && !find_group_gid(group, group_len, g, &gid)) {
      out->missing_extra = i;
      return UserLookup::kExtraGroupNotFound;
    }
    add_group(out, gid);
  }
  return UserLookup::kOk;
}

}  // namespace berth::runtime
