#include "fs/gunzip.h"

#include <archive.h>
#include <archive_entry.h>

#include <gtest/gtest.h>

namespace berth::fs {
namespace {

// gzip of `data` (one member), made with libarchive's raw writer.
std::string gzip(const std::string& data) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_raw(a);
  std::vector<char> out(data.size() + 4096);
  size_t used = 0;
  archive_write_open_memory(a, out.data(), out.size(), &used);
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return std::string(out.data(), used);
}

// Feeds `in` in pieces of `step` bytes; returns all output or the error.
Result<std::string> gunzip_all(const std::string& in, size_t step) {
  size_t pos = 0;
  Gunzip g([&]() -> Result<std::string_view> {
    std::string_view piece = std::string_view(in).substr(pos, step);
    pos += piece.size();
    return piece;
  });
  std::string out;
  for (;;) {
    std::string_view p = BERTH_TRY(g.next());
    if (p.empty()) return out;
    out.append(p);
  }
}

std::string sample(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; i++) s += "line " + std::to_string(i * 7919 % 1000) + "\n";
  return s.substr(0, n);
}

TEST(FsGunzip, RoundTripsInAnyPieceSize) {
  std::string data = sample(1 << 20);
  std::string gz = gzip(data);
  for (size_t step : {size_t{1} << 20, size_t{4096}, size_t{7}}) EXPECT_EQ(gunzip_all(gz, step).value(), data) << step;
}

TEST(FsGunzip, ReadsConcatenatedMembers) {
  std::string a = sample(300000), b = "second member";
  EXPECT_EQ(gunzip_all(gzip(a) + gzip(b), 1000).value(), a + b);
}

TEST(FsGunzip, StopsBeforeTrailingBytes) {
  std::string a = sample(5000);
  EXPECT_EQ(gunzip_all(gzip(a) + std::string(1024, '\0'), 512).value(), a);
}

TEST(FsGunzip, RefusesTruncatedAndCorruptStreams) {
  std::string gz = gzip(sample(200000));
  auto cut = gunzip_all(gz.substr(0, gz.size() / 2), 4096);
  ASSERT_FALSE(cut.has_value());
  EXPECT_EQ(cut.error().code(), Code::kInvalidArgument);
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 1;  // in the CRC-32 of the trailer
  EXPECT_FALSE(gunzip_all(bad_crc, 4096).has_value());
  std::string bad_data = gz;
  bad_data[gz.size() / 2] ^= 0xff;
  EXPECT_FALSE(gunzip_all(bad_data, 4096).has_value());
}

}  // namespace
}  // namespace berth::fs
