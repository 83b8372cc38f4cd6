// libarchive for `berthctl cp`, loaded on first use with dlopen.
//
// Why not link it: berthctl runs once per command, often many times a
// second from scripts, and only cp makes or unpacks local tars. Linked,
// libarchive brings 14 more shared objects (libxml2, ICU, nettle, the
// compressors, ...) that the dynamic loader maps and relocates at every
// start of every command: about 0.8 ms of a `berthctl run` that should take
// a few (LD_DEBUG=statistics: 2.3 M cycles in the loader, 89% relocations).
//
// The declarations come from <archive.h>, so each pointer has the exact
// type of the function it stands for; a name missing from the library is an
// error at load, not a crash later.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include "core/base/result.h"

namespace berth::ctl {

#define BERTH_LIBARCHIVE_FUNCTIONS(X)                                                                   \
  X(archive_entry_filetype) X(archive_entry_free) X(archive_entry_hardlink) X(archive_entry_new)        \
  X(archive_entry_pathname) X(archive_entry_set_hardlink) X(archive_entry_set_pathname)                 \
  X(archive_entry_size) X(archive_entry_sourcepath) X(archive_error_string) X(archive_free)             \
  X(archive_read_data_block) X(archive_read_disk_descend) X(archive_read_disk_new)                      \
  X(archive_read_disk_open) X(archive_read_disk_set_standard_lookup)                                    \
  X(archive_read_disk_set_symlink_physical) X(archive_read_new) X(archive_read_next_header)             \
  X(archive_read_next_header2) X(archive_read_open_fd) X(archive_read_support_format_tar)               \
  X(archive_write_close) X(archive_write_data) X(archive_write_data_block) X(archive_write_disk_new)    \
  X(archive_write_disk_set_options) X(archive_write_disk_set_standard_lookup) X(archive_write_header)  \
  X(archive_write_new) X(archive_write_open_fd) X(archive_write_set_format_pax_restricted)

struct LibArchive {
#define BERTH_LIBARCHIVE_POINTER(name) decltype(&::name) name = nullptr;
  BERTH_LIBARCHIVE_FUNCTIONS(BERTH_LIBARCHIVE_POINTER)
#undef BERTH_LIBARCHIVE_POINTER
};

// The loaded library (once per process; it stays loaded), or why not.
Result<const LibArchive*> libarchive();

}  // namespace berth::ctl
