#include "fs/digest.h"

#include <openssl/evp.h>

#include <utility>

#include "core/base/assert.h"
#include "core/base/strings.h"

namespace berth::fs {

namespace {
// EVP only fails here on allocation failure or a broken OpenSSL install;
// neither is an error berth can handle, so they are asserted.
void init(EVP_MD_CTX* ctx) {
  BERTH_ASSERT_MSG(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1, "EVP_DigestInit_ex(sha256)");
}
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  BERTH_ASSERT_MSG(ctx_ != nullptr, "EVP_MD_CTX_new");
  init(ctx_);
}

Sha256::~Sha256() {
  if (ctx_) EVP_MD_CTX_free(ctx_);
}

Sha256::Sha256(Sha256&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& o) noexcept {
  if (this != &o) {
    if (ctx_) EVP_MD_CTX_free(ctx_);
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}

void Sha256::update(const void* data, size_t n) {
  BERTH_ASSERT(ctx_ != nullptr);
  if (n == 0) return;
  BERTH_ASSERT_MSG(EVP_DigestUpdate(ctx_, data, n) == 1, "EVP_DigestUpdate");
}

std::string Sha256::digest() {
  BERTH_ASSERT(ctx_ != nullptr);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  BERTH_ASSERT_MSG(EVP_DigestFinal_ex(ctx_, md, &len) == 1, "EVP_DigestFinal_ex");
  init(ctx_);
  return std::string(kSha256Prefix) + to_hex(md, len);
}

std::string sha256_digest(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.digest();
}

bool is_sha256_digest(std::string_view s) {
  if (!starts_with(s, kSha256Prefix)) return false;
  s.remove_prefix(kSha256Prefix.size());
  return s.size() == 64 && is_hex(s);
}

std::string_view digest_hex(std::string_view digest) {
  BERTH_ASSERT(is_sha256_digest(digest));
  return digest.substr(kSha256Prefix.size());
}

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  out.reserve(diff_ids.size());
  for (const std::string& d : diff_ids) {
    if (out.empty())
      out.push_back(d);
    else
      out.push_back(sha256_digest(out.back() + " " + d));
  }
  return out;
}

std::string chain_id(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> all = chain_ids(diff_ids);
  return all.empty() ? std::string() : all.back();
}

}  // namespace berth::fs
