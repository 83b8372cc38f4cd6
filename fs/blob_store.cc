#include "fs/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "core/base/file.h"
#include "core/base/strings.h"

namespace berth::fs {

namespace {

Error corrupt(std::string_view digest, std::string_view actual) {
  return Error::make(Code::kCorrupt, "blob {} is corrupt: its content hashes to {}", digest, actual);
}

Result<void> fsync_dir(const std::string& dir) {
  unique_fd fd = BERTH_TRY(open_fd(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) < 0) return Error::sys(errno, "fsync {}", dir);
  return ok();
}

// Temp files from a crash are never referenced; remove them.
Result<void> clear_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Error::sys(errno, "open {}", dir);
  while (dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    ::unlinkat(::dirfd(d), e->d_name, 0);
  }
  ::closedir(d);
  return ok();
}

}  // namespace

BlobWriter::BlobWriter(std::string blobs_dir, std::string temp_path, unique_fd fd)
    : blobs_dir_(std::move(blobs_dir)), temp_path_(std::move(temp_path)), fd_(std::move(fd)) {}

BlobWriter::BlobWriter(BlobWriter&& o) noexcept
    : blobs_dir_(std::move(o.blobs_dir_)),
      temp_path_(std::move(o.temp_path_)),
      fd_(std::move(o.fd_)),
      hash_(std::move(o.hash_)),
      size_bytes_(o.size_bytes_) {
  o.temp_path_.clear();
}

BlobWriter::~BlobWriter() {
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

Result<void> BlobWriter::write(std::string_view data) {
  auto r = write_all(fd_.get(), data);
  if (!r) return std::move(r.error()).context("write blob {}", temp_path_);
  hash_.update(data);
  size_bytes_ += static_cast<int64_t>(data.size());
  return ok();
}

Result<void> BlobWriter::restart() {
  if (::ftruncate(fd_.get(), 0) < 0 || ::lseek(fd_.get(), 0, SEEK_SET) < 0)
    return Error::sys(errno, "truncate blob {}", temp_path_);
  hash_ = Sha256();
  size_bytes_ = 0;
  return ok();
}

Result<std::string> BlobWriter::commit(std::string_view expected) {
  std::string digest = hash_.digest();
  if (!expected.empty() && digest != expected) return corrupt(expected, digest);
  if (::fsync(fd_.get()) < 0) return Error::sys(errno, "fsync {}", temp_path_);
  fd_.reset();
  std::string final_path = blobs_dir_ + "/" + std::string(digest_hex(digest));
  if (::rename(temp_path_.c_str(), final_path.c_str()) < 0)
    return Error::sys(errno, "rename {} to {}", temp_path_, final_path);
  temp_path_.clear();
  BERTH_TRY_VOID(fsync_dir(blobs_dir_));
  return digest;
}

Result<BlobStore> BlobStore::open(const std::string& root) {
  BERTH_TRY_VOID(make_dirs(root + "/blobs/sha256", 0700));
  BERTH_TRY_VOID(make_dirs(root + "/ingest", 0700));
  BERTH_TRY_VOID(clear_dir(root + "/ingest"));
  return BlobStore(root);
}

std::string BlobStore::path(std::string_view digest) const {
  return root_ + "/blobs/sha256/" + std::string(digest_hex(digest));
}

bool BlobStore::contains(std::string_view digest) const {
  return is_sha256_digest(digest) && path_exists(path(digest));
}

Result<int64_t> BlobStore::size(std::string_view digest) const {
  if (!is_sha256_digest(digest)) return Error::invalid("invalid blob digest {}", digest);
  struct stat st;
  if (::stat(path(digest).c_str(), &st) < 0) return Error::sys(errno, "stat blob {}", digest);
  return static_cast<int64_t>(st.st_size);
}

Result<BlobWriter> BlobStore::begin_write() const {
  std::string temp = root_ + "/ingest/" + random_id().substr(0, 24);
  unique_fd fd = BERTH_TRY(open_fd(temp, O_WRONLY | O_CREAT | O_EXCL, 0644));
  return BlobWriter(root_ + "/blobs/sha256", std::move(temp), std::move(fd));
}

Result<std::string> BlobStore::put(std::string_view data) const {
  BlobWriter w = BERTH_TRY(begin_write());
  BERTH_TRY_VOID(w.write(data));
  return w.commit();
}

Result<std::string> BlobStore::read(std::string_view digest, size_t max_bytes) const {
  if (!is_sha256_digest(digest)) return Error::invalid("invalid blob digest {}", digest);
  std::string data = BERTH_TRY_CTX(read_file(path(digest), max_bytes), "read blob {}", digest);
  std::string actual = sha256_digest(data);
  if (actual != digest) return corrupt(digest, actual);
  return data;
}

Result<void> BlobStore::verify(std::string_view digest) const {
  if (!is_sha256_digest(digest)) return Error::invalid("invalid blob digest {}", digest);
  unique_fd fd = BERTH_TRY_CTX(open_fd(path(digest), O_RDONLY), "verify blob {}", digest);
  Sha256 h;
  std::string buf(256 << 10, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys(errno, "read blob {}", digest);
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  std::string actual = h.digest();
  if (actual != digest) return corrupt(digest, actual);
  return ok();
}

}  // namespace berth::fs
