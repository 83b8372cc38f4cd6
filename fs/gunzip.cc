#include "fs/gunzip.h"

#include <isa-l/igzip_lib.h>

namespace berth::fs {

namespace {

constexpr size_t kOutBytes = 256 << 10;

}  // namespace

Gunzip::Gunzip(Source src) : src_(std::move(src)), st_(std::make_unique<inflate_state>()), out_(kOutBytes) {
  isal_inflate_init(st_.get());
  st_->crc_flag = ISAL_GZIP;  // parse the header, check the trailer
}

Gunzip::~Gunzip() = default;

Result<void> Gunzip::refill() {
  std::string_view piece = BERTH_TRY(src_());
  if (piece.empty()) {
    in_eof_ = true;
    return ok();
  }
  st_->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(piece.data()));
  st_->avail_in = static_cast<uint32_t>(piece.size());
  return ok();
}

Result<std::string_view> Gunzip::next() {
  inflate_state& st = *st_;
  while (!finished_) {
    if (st.block_state == ISAL_BLOCK_FINISH) {  // a member ended: another one, or the end
      if (st.avail_in == 0 && !in_eof_) {
        BERTH_TRY_VOID(refill());
        continue;
      }
      if (st.avail_in >= 2 && st.next_in[0] == 0x1f && st.next_in[1] == 0x8b) {
        uint8_t* in = st.next_in;
        uint32_t avail = st.avail_in;
        isal_inflate_reset(&st);
        st.crc_flag = ISAL_GZIP;
        st.next_in = in;
        st.avail_in = avail;
      } else {
        finished_ = true;
        break;
      }
    }
    if (st.avail_in == 0 && !in_eof_) BERTH_TRY_VOID(refill());
    st.next_out = out_.data();
    st.avail_out = static_cast<uint32_t>(out_.size());
    int r = isal_inflate(&st);
    if (r < 0) return Error::invalid("decompress layer: invalid gzip data (igzip error {})", r);
    size_t produced = out_.size() - st.avail_out;
    if (produced > 0) return std::string_view(reinterpret_cast<const char*>(out_.data()), produced);
    if (st.block_state != ISAL_BLOCK_FINISH && st.avail_in == 0 && in_eof_)
      return Error::invalid("decompress layer: truncated gzip stream");
  }
  return std::string_view();
}

}  // namespace berth::fs
