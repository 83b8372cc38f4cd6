// Resolving a Docker user string ("", "uid", "uid:gid", "name", "name:group")
// into uid, gid, supplementary groups and HOME, with the container's own
// /etc/passwd and /etc/group.
//
// Two halves:
//   - parse_user_spec(): the parent splits the string (pure, may allocate).
//   - resolve_user(): the post-clone child, after pivot_root, reads the two
//     files into buffers the parent allocated and calls this. It is
//     async-signal-safe: no allocation, no locale, no errno; it only scans
//     the given bytes and fills a fixed-size struct.
// Semantics follow runc's GetExecUser, which Docker uses:
//   - a numeric user works without /etc/passwd; if passwd has that uid, its
//     gid and home apply, else gid 0 and HOME "/";
//   - a name must be in /etc/passwd ("unable to find user NAME: no matching
//     entries in passwd file"); a group name must be in /etc/group;
//   - supplementary groups: the primary gid plus every group in /etc/group
//     that lists the user's name as a member, plus the --group-add ones
//     (a numeric gid as is, a name looked up in /etc/group).
// Missing files read as empty. Any thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::runtime {

struct UserRequest {
  std::string user;         // name, or empty when numeric
  uint32_t uid = 0;         // when user is empty
  bool has_group = false;
  std::string group;        // name, or empty when numeric
  uint32_t gid = 0;         // when has_group and group is empty
};

// "" is root. Rejects empty parts ("alice:", ":1") and more than one ':'.
Result<UserRequest> parse_user_spec(std::string_view s);

// A UserRequest as the child reads it: views, no std::string (a deferred
// child builds one from bytes berthd sent at release; late.h).
struct UserQuery {
  const char* user = "";    // name, or "" when numeric
  size_t user_len = 0;
  uint32_t uid = 0;
  bool has_group = false;
  const char* group = "";   // name, or "" when numeric
  size_t group_len = 0;
  uint32_t gid = 0;
  const char* const* extra_groups = nullptr;   // --group-add: names or gids, NUL-terminated
  size_t extra_group_count = 0;
};
// Views into `req`, which must outlive the result.
UserQuery query_of(const UserRequest& req);

constexpr size_t kMaxGroups = 64;
constexpr size_t kMaxHome = 4096;

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  gid_t groups[kMaxGroups];
  size_t group_count = 0;
  char home[kMaxHome];      // NUL-terminated; "/" when passwd has no entry
  size_t missing_extra = 0; // kExtraGroupNotFound: index into extra_groups
};

enum class UserLookup { kOk, kUserNotFound, kGroupNotFound, kExtraGroupNotFound };

// Async-signal-safe. `passwd`/`group` are file images (not NUL-terminated).
UserLookup resolve_user(const UserQuery& req, const char* passwd, size_t passwd_len,
                        const char* group, size_t group_len, ResolvedUser* out);

}  // namespace berth::runtime
