#include "core/engine/log_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/engine/log_format.h"

namespace berth::engine {

namespace {
uint32_t entry_check(const IndexEntry& e) {
  uint64_t h = e.offset * 0x9E3779B97F4A7C15ull;
  h ^= uint64_t(e.ts_ns) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
  h ^= uint64_t(e.line_start) * 0xC2B2AE3D27D4EB4Full;
  return uint32_t(h ^ (h >> 32));
}
}  // namespace

void encode_index_entry(const IndexEntry& e, char* out) {
  std::memcpy(out, &e.offset, 8);
  std::memcpy(out + 8, &e.ts_ns, 8);
  out[16] = char(e.line_start);
  out[17] = 0;
  std::memcpy(out + 18, &kIndexMagic, 2);
  uint32_t check = entry_check(e);
  std::memcpy(out + 20, &check, 4);
}

bool decode_index_entry(const char* in, IndexEntry* e) {
  uint16_t magic;
  uint32_t check;
  std::memcpy(&magic, in + 18, 2);
  std::memcpy(&check, in + 20, 4);
  std::memcpy(&e->offset, in, 8);
  std::memcpy(&e->ts_ns, in + 8, 8);
  e->line_start = uint8_t(in[16]);
  return magic == kIndexMagic && in[17] == 0 && e->line_start <= 3 && check == entry_check(*e);
}

std::vector<IndexEntry> load_log_index(int idx_fd, uint64_t log_end, uint64_t* file_bytes) {
  std::vector<IndexEntry> out;
  struct stat st;
  if (idx_fd < 0 || ::fstat(idx_fd, &st) < 0) return out;
  if (file_bytes) *file_bytes = uint64_t(st.st_size);
  size_t n = size_t(st.st_size) / kIndexEntryBytes;
  std::string buf(n * kIndexEntryBytes, '\0');
  ssize_t got = ::pread(idx_fd, buf.data(), buf.size(), 0);
  if (got < 0) return out;
  n = size_t(got) / kIndexEntryBytes;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    IndexEntry e;
    if (!decode_index_entry(buf.data() + i * kIndexEntryBytes, &e)) break;
    if (e.offset + kRecordHeaderBytes > log_end) break;
    if (!out.empty() && e.offset <= out.back().offset) break;
    out.push_back(e);
  }
  return out;
}

bool index_entry_matches(int log_fd, const IndexEntry& e) {
  char buf[kRecordHeaderBytes];
  if (::pread(log_fd, buf, sizeof buf, off_t(e.offset)) != ssize_t(sizeof buf)) return false;
  RecordHeader h;
  return decode_record_header(buf, &h) && h.ts_ns == e.ts_ns;
}

IndexWriter::IndexWriter(reactor::Reactor& r) : r_(r) {
  write_c_.set_callback([this](int32_t res, uint32_t) { write_done(res); });
}

IndexWriter::~IndexWriter() { BERTH_ASSERT_MSG(!busy(), "IndexWriter destroyed while busy"); }

Result<std::pair<unique_fd, uint64_t>> IndexWriter::open_file(const std::string& path) {
  unique_fd fd = BERTH_TRY_CTX(open_fd(path, O_WRONLY | O_CREAT, 0600), "open log index");
  struct stat st;
  uint64_t size = ::fstat(fd.get(), &st) == 0 ? uint64_t(st.st_size) / kIndexEntryBytes * kIndexEntryBytes : 0;
  return std::pair{std::move(fd), size};
}

void IndexWriter::use(unique_fd fd, uint64_t size) {
  pending_n_ = 0;
  if (busy()) old_fd_ = std::move(fd_);
  fd_ = std::move(fd);
  size_ = fd_ ? size : 0;
}

void IndexWriter::add(const IndexEntry& e) {
  if (!fd_ || pending_n_ == kBatch) return;
  encode_index_entry(e, pending_ + pending_n_ * kIndexEntryBytes);
  pending_n_++;
  if (!busy()) write();
}

void IndexWriter::write() {
  if (!pending_n_ || !fd_) return;
  inflight_bytes_ = pending_n_ * kIndexEntryBytes;
  std::memcpy(inflight_, pending_, inflight_bytes_);
  pending_n_ = 0;
  r_.write(fd_.get(), inflight_, unsigned(inflight_bytes_), size_, write_c_);
}

void IndexWriter::write_done(int32_t res) {
  if (old_fd_) {
    old_fd_.reset();   // the write went to the rotated file's index
  } else if (res > 0) {
    // A short write leaves a torn entry that the next write overwrites.
    size_ += uint64_t(res) / kIndexEntryBytes * kIndexEntryBytes;
  }
  write();
  if (!busy() && on_idle_) on_idle_();
}

}  // namespace berth::engine
