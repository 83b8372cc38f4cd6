#include "fs/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <vector>

#include "fs/digest.h"
#include "fs/gunzip.h"
#include "fs/tree_writer.h"
#include "fs/utf8_locale.h"

namespace berth::fs {

namespace {

constexpr size_t kReadChunkBytes = 256 << 10;

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// Client data of the outer archive: the source bytes, hashed as read.
struct SourceStream {
  int fd = -1;
  bool hash_on = true;
  Sha256 hash;
  int64_t bytes = 0;
  const std::function<Result<void>(std::string_view)>* tee = nullptr;
  std::vector<char> buf = std::vector<char>(kReadChunkBytes);
  std::optional<Error> err;
};

// Client data of the inner (tar) archive: the decompressed bytes, from the
// outer archive's filters or, for gzip, from ISA-L (fs/gunzip.h).
struct InnerTar {
  archive* outer = nullptr;
  Gunzip* gunzip = nullptr;
  Sha256 hash;
  int64_t bytes = 0;
  const std::function<Result<void>(std::string_view)>* tee = nullptr;
  std::optional<Error> err;
};

// The next piece of the source, hashed and teed; empty at EOF.
Result<std::string_view> pull_source(SourceStream* s) {
  ssize_t n;
  do n = ::read(s->fd, s->buf.data(), s->buf.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys(errno, "read layer");
  std::string_view piece(s->buf.data(), static_cast<size_t>(n));
  if (s->hash_on) s->hash.update(piece);
  s->bytes += n;
  if (n > 0 && s->tee) BERTH_TRY_VOID((*s->tee)(piece));
  return piece;
}

la_ssize_t read_source(archive* a, void* data, const void** out) {
  auto* s = static_cast<SourceStream*>(data);
  auto piece = pull_source(s);
  if (!piece) {
    archive_set_error(a, piece.error().sys_errno() ? piece.error().sys_errno() : EIO, "read layer");
    s->err = std::move(piece.error());
    return -1;
  }
  *out = piece->data();
  return static_cast<la_ssize_t>(piece->size());
}

// The raw format hands out the decompressed stream as one entry's data, in
// order; the block stays valid until the next call, as libarchive requires.
la_ssize_t read_tar(archive* a, void* data, const void** out) {
  auto* t = static_cast<InnerTar*>(data);
  const void* block = nullptr;
  size_t n = 0;
  la_int64_t off = 0;
  int r = ARCHIVE_OK;
  if (t->gunzip) {
    auto piece = t->gunzip->next();
    if (!piece) {
      t->err = std::move(piece.error());
      archive_set_error(a, EIO, "decompress layer");
      return -1;
    }
    block = piece->data();
    n = piece->size();
    if (n == 0) return 0;
  } else {
    r = archive_read_data_block(t->outer, &block, &n, &off);
  }
  if (r == ARCHIVE_EOF) return 0;
  if (r != ARCHIVE_OK) {
    const char* why = archive_error_string(t->outer);
    t->err = Error::invalid("decompress layer: {}", why ? why : "unknown error");
    archive_set_error(a, EIO, "decompress layer");
    return -1;
  }
  t->hash.update(block, n);
  t->bytes += static_cast<int64_t>(n);
  if (n > 0 && t->tee) {
    if (auto w = (*t->tee)(std::string_view(static_cast<const char*>(block), n)); !w) {
      t->err = std::move(w.error());
      archive_set_error(a, EIO, "copy layer");
      return -1;
    }
  }
  *out = block;
  return static_cast<la_ssize_t>(n);
}

// A callback's own error wins over libarchive's summary of it.
Error archive_failure(archive* a, std::optional<Error>& first, std::optional<Error>& second,
                      std::string_view verb) {
  if (first) return std::move(*first);
  if (second) return std::move(*second);
  const char* why = archive_error_string(a);
  return Error::invalid("{}: {}", verb, why ? why : "unknown error");
}

ArchivePtr new_outer() {
  ArchivePtr a(archive_read_new());
  // Only the compressions layers use; filter_all would also accept formats
  // that libarchive can only read by running an external program.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_format_raw(a.get());
  return a;
}

Result<void> write_entries(archive* inner, TreeWriter& tree, SourceStream& src, InnerTar& tar) {
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(inner, &e);
    if (r == ARCHIVE_EOF) return ok();
    // WARN covers names that do not convert to the C locale: the bytes are
    // kept as they are, which is what a Linux file name is.
    if (r < ARCHIVE_WARN) return archive_failure(inner, tar.err, src.err, "read layer tar");
    BERTH_TRY_VOID(tree.write_entry(inner, e));
  }
}

// The digests cover whole streams: the tar reader stops at the end-of-archive
// blocks, and a compressor may stop before trailing bytes of the source.
Result<void> drain(archive* inner, archive* outer, SourceStream& src, InnerTar& tar) {
  const void* ignored = nullptr;
  la_ssize_t n;
  while ((n = read_tar(inner, &tar, &ignored)) > 0) {
  }
  if (n < 0) return archive_failure(inner, tar.err, src.err, "read layer");
  if (!outer) {  // ISA-L path: no outer archive
    for (;;) {
      std::string_view piece = BERTH_TRY(pull_source(&src));
      if (piece.empty()) return ok();
    }
  }
  while ((n = read_source(outer, &src, &ignored)) > 0) {
  }
  if (n < 0) return archive_failure(outer, src.err, tar.err, "read layer");
  return ok();
}

}  // namespace

Compression sniff_compression(std::string_view h) {
  auto has = [&](std::string_view magic) { return h.substr(0, magic.size()) == magic; };
  if (has("\x1f\x8b")) return Compression::kGzip;
  if (has("\x28\xb5\x2f\xfd")) return Compression::kZstd;
  if (has(std::string_view("\xfd" "7zXZ\x00", 6))) return Compression::kXz;
  if (has("BZh")) return Compression::kBzip2;
  // An uncompressed tar has "ustar" at offset 257; a shorter or other stream
  // is left to libarchive and stored uncompressed.
  if (h.size() >= 262 && h.substr(257, 5) == "ustar") return Compression::kNone;
  return Compression::kUnknown;
}

Compression sniff_compression(int fd) {
  char buf[512];
  ssize_t n;
  do n = ::pread(fd, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return Compression::kUnknown;
  return sniff_compression(std::string_view(buf, static_cast<size_t>(n)));
}

const char* layer_media_type(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "application/vnd.oci.image.layer.v1.tar";
    case Compression::kGzip:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case Compression::kZstd:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
    default:
      return nullptr;
  }
}

Result<LayerStats> apply_layer(int src_fd, const std::string& target_dir, const ApplyOptions& opts) {
  ScopedUtf8Ctype utf8;  // outlives both archives below
  TreeWriter tree = BERTH_TRY(TreeWriter::open(target_dir, opts.preserve_owner));
  const auto* tee = opts.tee ? &opts.tee : nullptr;
  SourceStream src;
  src.fd = src_fd;
  src.hash_on = opts.hash_source;
  src.tee = opts.tee_stream == TeeStream::kSource ? tee : nullptr;
  InnerTar tar;
  ArchivePtr outer;
  std::optional<Gunzip> gunzip;
  // gzip, the common case, through ISA-L; the rest through libarchive.
  if (::lseek(src_fd, 0, SEEK_CUR) == 0 && sniff_compression(src_fd) == Compression::kGzip) {
    gunzip.emplace([&src] { return pull_source(&src); });
    tar.gunzip = &*gunzip;
  } else {
    outer = new_outer();
    if (archive_read_open(outer.get(), &src, nullptr, read_source, nullptr) != ARCHIVE_OK)
      return archive_failure(outer.get(), src.err, src.err, "open layer");
    archive_entry* stream = nullptr;
    int r = archive_read_next_header(outer.get(), &stream);
    if (r == ARCHIVE_EOF) return Error::invalid("read layer: the archive is empty");
    if (r != ARCHIVE_OK) return archive_failure(outer.get(), src.err, src.err, "read layer");
    tar.outer = outer.get();
  }
  tar.tee = opts.tee_stream == TeeStream::kUncompressed ? tee : nullptr;
  ArchivePtr inner(archive_read_new());
  archive_read_support_format_tar(inner.get());
  if (archive_read_open(inner.get(), &tar, nullptr, read_tar, nullptr) != ARCHIVE_OK)
    return archive_failure(inner.get(), tar.err, src.err, "open layer tar");
  BERTH_TRY_VOID(write_entries(inner.get(), tree, src, tar));
  BERTH_TRY_VOID(tree.finish());
  BERTH_TRY_VOID(drain(inner.get(), outer.get(), src, tar));

  LayerStats st;
  st.diff_id = tar.hash.digest();
  if (src.hash_on) st.blob_digest = src.hash.digest();
  st.blob_size_bytes = src.bytes;
  st.tar_size_bytes = tar.bytes;
  st.size_bytes = tree.size_bytes();
  return st;
}

bool can_chown() { return ::geteuid() == 0; }

}  // namespace berth::fs
