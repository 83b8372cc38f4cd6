// RootfsTar: a tar of a stack of layer directories, made piece by piece.
//
//   kLayer:  one overlay upper dir as an OCI image layer (commit): overlay
//            whiteouts become `.wh.<name>` entries, an opaque directory gets
//            a `<dir>/.wh..wh..opq` entry right after its own (OCI
//            image-spec layer.md); overlayfs's own xattrs are left out.
//   kMerged: the root filesystem the stack shows (export): names from the
//            topmost layer that has them, whiteouts and opaque directories
//            applied (fs/layer_stack.h), no whiteout files in the output.
//
// Entries go depth first, names sorted, a directory before its contents, no
// entry for the root; paths are relative ("etc/passwd"). Files keep mode,
// owner, mtime (seconds), xattrs; hard links within the output stay links;
// symlinks, devices and FIFOs are entries; sockets are skipped. A file or
// directory that vanishes while the tar is made (a running container) is
// skipped; a file that shrinks is padded with zeros and one that grows is
// cut at the size it had when its header was written.
//
// produce() does a bounded amount of work per call, so a caller can hand
// each piece on (export streams them to a client) without the whole tar in
// memory. Blocking: job pool only; one thread at a time may call it. It
// owns a LayerStack (one fd per layer) and at most one open file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "fs/id_shift.h"
#include "fs/layer_stack.h"
#include "fs/tar_stream.h"

namespace berth::fs {

enum class TarMode { kLayer, kMerged };

class RootfsTar {
 public:
  // `top_first`: for kLayer exactly one directory.
  // `top_shift`: the topmost directory is a remapped container's upper dir
  // (fs/id_shift.h), whose host ids become the container's.
  static Result<std::unique_ptr<RootfsTar>> open(const std::vector<std::string>& top_first, TarMode mode,
                                                 IdShift top_shift = {});

  RootfsTar(const RootfsTar&) = delete;
  RootfsTar& operator=(const RootfsTar&) = delete;

  // Appends the next part of the tar to `*out`, stopping once `*out` holds
  // at least `budget_bytes` or the tar is complete; true when complete.
  Result<bool> produce(std::string* out, size_t budget_bytes);

  int64_t entries() const { return entries_; }
  int64_t file_bytes() const { return file_bytes_; }  // regular files' data written

 private:
  struct Frame {
    std::string rel;
    StackDir dir;
    size_t next = 0;
  };

  RootfsTar(LayerStack stack, TarMode mode, TarStream tar);
  Result<void> step();
  Result<void> push(const std::string& rel, const std::vector<size_t>& layers);
  Result<void> emit(const std::string& rel, const StackEntry& e);
  Result<void> emit_file(const std::string& rel, const StackEntry& e, TarEntry& t);
  Result<void> copy_file_piece();

  LayerStack stack_;
  TarMode mode_;
  IdShift top_shift_;
  TarStream tar_;
  std::shared_ptr<std::string*> slot_;  // where the sink appends, during produce()
  std::vector<Frame> frames_;
  // A directory just emitted, to be read and entered at the next step.
  std::optional<std::pair<std::string, std::vector<size_t>>> descend_;
  unique_fd file_;              // the regular file whose data is being written
  int64_t file_left_ = 0;
  std::string buf_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;  // multiply linked inodes: first path
  bool started_ = false, done_ = false;
  int64_t entries_ = 0, file_bytes_ = 0;
};

}  // namespace berth::fs
