// Small synchronous file helpers used off the reactor (job pool, start-up) or
// for tiny state files. Every fd is O_CLOEXEC. Any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth {

Result<unique_fd> open_fd(const std::string& path, int flags, mode_t mode = 0);
Result<std::string> read_file(const std::string& path, size_t max_bytes = 64 << 20);
// Writes `data` to path.tmp and renames it over `path`: readers see the old
// or the new content, never a mix. With `durable`, the file and then its
// directory are fsynced, so the new content also survives a power loss.
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                               bool durable = true);
Result<void> write_all(int fd, std::string_view data);
// mkdir -p; existing directories are fine.
Result<void> make_dirs(const std::string& path, mode_t mode = 0755);
// rm -rf without following symlinks or crossing mount points.
Result<void> remove_tree(const std::string& path);
bool path_exists(const std::string& path);
// Open descriptors of this process (/proc/self/fd), or -1.
long count_open_fds();

}  // namespace berth
