// SHA-256 content digests in OCI form ("sha256:<64 lowercase hex>") and layer
// chain IDs (OCI image-spec config.md, "Layer ChainID").
//
// Sha256 is a streaming hasher over OpenSSL EVP. One instance belongs to one
// thread at a time; it owns its EVP context for its whole life. The free
// functions are pure and may be called from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace berth::fs {

inline constexpr std::string_view kSha256Prefix = "sha256:";

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&& o) noexcept;
  Sha256& operator=(Sha256&& o) noexcept;

  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Returns "sha256:<hex>" of everything hashed so far and starts over.
  std::string digest();

 private:
  evp_md_ctx_st* ctx_ = nullptr;
};

// "sha256:<hex>" of `data`.
std::string sha256_digest(std::string_view data);
// True for "sha256:" followed by exactly 64 lowercase hex characters.
bool is_sha256_digest(std::string_view s);
// The hex part of a digest accepted by is_sha256_digest.
std::string_view digest_hex(std::string_view digest);

// chain(L0) = diffid(L0); chain(Ln) = sha256(chain(Ln-1) + " " + diffid(Ln)).
// `diff_ids` run lowest layer first; the result has one chain ID per layer.
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);
// The chain ID of the top layer; "" for no layers.
std::string chain_id(const std::vector<std::string>& diff_ids);

}  // namespace berth::fs
