// The changes of a container's root filesystem against its image (docker
// diff, GET /containers/{id}/changes), read from the container's overlay
// upper directory and the image's layer directories (fs/layer_stack.h).
//
// Rules, from overlayfs's on-disk format:
//   - a whiteout in the upper dir is a deletion (D) of what the image has
//     there (nothing is reported if the image has nothing there);
//   - any other upper entry is changed (C) if the image has that path, else
//     added (A); a directory of both is C only if its mode, owner or mtime
//     changed or something below it changed (Docker lists the parents of
//     changes as C);
//   - an opaque upper directory replaced the image's: each name the image
//     has there and the upper dir does not is D (and so on below it, since
//     nothing of the image's directory shows through).
// Order: depth first, names sorted bytewise within a directory, a directory
// before what is below it: the order of Docker's walk.
//
// Blocking (reads directories): job pool only. Any thread; no shared state.
#pragma once

#include <string>
#include <vector>

#include "core/base/result.h"

namespace berth::fs {

// Docker's archive.ChangeType values (the API's "Kind").
enum class ChangeKind { kModified = 0, kAdded = 1, kDeleted = 2 };

struct Change {
  std::string path;  // absolute in the container: "/etc/passwd"
  ChangeKind kind;
  bool operator==(const Change&) const = default;
};

// "C", "A" or "D", as `docker diff` prints them.
const char* change_letter(ChangeKind k);

// `upper` is the container's upper dir, `lowers_top_first` its image's
// layer dirs, the topmost first.
Result<std::vector<Change>> list_changes(const std::string& upper, const std::vector<std::string>& lowers_top_first);

}  // namespace berth::fs
