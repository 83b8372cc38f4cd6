// copy_up: Docker's volume population ("copy the image's content at the
// mount point into an empty volume"), run by the post-clone child as the
// kPopulate step of the mount plan, after the overlay root is mounted and
// before the volume is bound over the target.
//
// Async-signal-safe (see child.h): syscalls, stack buffers and one static
// copy buffer only; no allocation. Internal to core/runtime; the unit tests
// call it on plain directories.
//
// What is copied: directories, regular files, symlinks (as links, never
// followed), fifos and device nodes, with owner, permission bits (set-id
// included, set after chown) and access/modification times. Not copied:
// extended attributes and hard links (each link becomes its own file), as
// a FIXME(issue 5) for when an image relies on them. Sockets are skipped.
//
// Safety: the source tree is opened under `root` with
// openat2(RESOLVE_IN_ROOT) and walked with O_NOFOLLOW relative fds, so a
// symlink in the image can never make the copy read host files; entries
// are created in the destination with O_EXCL/O_NOFOLLOW, so a symlink
// planted there by another container sharing the volume is never written
// through.
#pragma once

namespace berth::runtime {

// When the directory `dest` (an absolute host path) is empty, copies the
// tree at `target` (an absolute path inside the container, resolved under
// the directory fd `root`) into it, and gives `dest` the owner and mode of
// `target`. A non-empty `dest`, or a `target` that is missing or not a
// directory, copies nothing. Returns 0 or an errno.
int copy_up(int root, const char* target, const char* dest);

}  // namespace berth::runtime
