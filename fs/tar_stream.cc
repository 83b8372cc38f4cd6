#include "fs/tar_stream.h"

#include <archive.h>
#include <archive_entry.h>

#include <optional>

#include "fs/utf8_locale.h"

namespace berth::fs {

namespace {

constexpr int kBlockBytes = 64 << 10;

}  // namespace

// Heap-allocated so libarchive's client-data pointer survives moves.
struct TarStream::State {
  archive* a = nullptr;
  Sink sink;
  std::optional<Error> err;  // the sink's first error
  ~State() {
    if (a) archive_write_free(a);
  }
};

namespace {

la_ssize_t write_cb(archive* a, void* data, const void* buf, size_t n) {
  auto* s = static_cast<TarStream::State*>(data);
  if (s->err) return -1;
  auto r = s->sink(std::string_view(static_cast<const char*>(buf), n));
  if (!r) {
    s->err = std::move(r.error());
    archive_set_error(a, EIO, "tar output failed");
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

}  // namespace

TarStream::TarStream(std::unique_ptr<State> s) : s_(std::move(s)) {}
TarStream::TarStream(TarStream&& o) noexcept = default;
TarStream::~TarStream() = default;

static Error stream_error(TarStream::State& s, std::string_view verb) {
  if (s.err) return *s.err;
  const char* why = archive_error_string(s.a);
  return Error::invalid("{}: {}", verb, why ? why : "archive error");
}

Result<TarStream> TarStream::open(Sink sink) {
  ScopedUtf8Ctype utf8;
  auto s = std::make_unique<State>();
  s->sink = std::move(sink);
  s->a = archive_write_new();
  if (archive_write_set_format_pax_restricted(s->a) != ARCHIVE_OK || archive_write_add_filter_none(s->a) != ARCHIVE_OK)
    return stream_error(*s, "set up tar stream");
  // Big blocks for few sink calls; the last one unpadded, so the stream
  // ends right after tar's end-of-archive blocks.
  archive_write_set_bytes_per_block(s->a, kBlockBytes);
  archive_write_set_bytes_in_last_block(s->a, 1);
  if (archive_write_open(s->a, s.get(), nullptr, write_cb, nullptr) != ARCHIVE_OK)
    return stream_error(*s, "open tar stream");
  return TarStream(std::move(s));
}

Result<void> TarStream::write_header(const TarEntry& e, int64_t size_bytes) {
  ScopedUtf8Ctype utf8;
  auto ent = make_archive_entry(e, size_bytes);
  archive_entry* x = ent.get();
  if (archive_write_header(s_->a, x) != ARCHIVE_OK) return stream_error(*s_, "write tar header for " + e.path);
  return ok();
}

Result<void> TarStream::write_data(std::string_view data) {
  ScopedUtf8Ctype utf8;
  while (!data.empty()) {
    la_ssize_t n = archive_write_data(s_->a, data.data(), data.size());
    if (n < 0) return stream_error(*s_, "write tar data");
    if (n == 0) break;  // past the entry's size: dropped
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

Result<void> TarStream::close() {
  ScopedUtf8Ctype utf8;
  if (archive_write_close(s_->a) != ARCHIVE_OK) return stream_error(*s_, "finish tar stream");
  return ok();
}

}  // namespace berth::fs
