#include "fs/digest.h"

#include <gtest/gtest.h>

namespace berth::fs {
namespace {

// Expected values computed independently with Python's hashlib.
const std::string kA = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
const std::string kB = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
const std::string kC = "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6";

TEST(FsDigest, KnownVectors) {
  EXPECT_EQ(sha256_digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_digest("a"), kA);
  Sha256 h;
  h.update("a");
  EXPECT_EQ(h.digest(), kA);
  h.update("b");  // digest() starts over
  EXPECT_EQ(h.digest(), kB);
}

TEST(FsDigest, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 7);
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 4093) h.update(std::string_view(data).substr(i, 4093));
  EXPECT_EQ(h.digest(), sha256_digest(data));
}

TEST(FsDigest, Validation) {
  EXPECT_TRUE(is_sha256_digest(kA));
  EXPECT_FALSE(is_sha256_digest(kA.substr(0, kA.size() - 1)));
  EXPECT_FALSE(is_sha256_digest("sha512:" + kA.substr(7)));
  EXPECT_FALSE(is_sha256_digest("sha256:" + std::string(64, 'A')));
  EXPECT_EQ(digest_hex(kA), kA.substr(7));
}

TEST(FsDigest, ChainIds) {
  EXPECT_TRUE(chain_ids({}).empty());
  EXPECT_EQ(chain_id({}), "");
  EXPECT_EQ(chain_id({kA}), kA);  // chain(L0) = diffid(L0)
  std::vector<std::string> chains = chain_ids({kA, kB, kC});
  ASSERT_EQ(chains.size(), 3u);
  EXPECT_EQ(chains[0], kA);
  EXPECT_EQ(chains[1], "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676");
  EXPECT_EQ(chains[2], "sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106");
  EXPECT_EQ(chain_id({kA, kB, kC}), chains[2]);
  EXPECT_NE(chain_id({kB, kA}), chain_id({kA, kB}));  // order matters
}

}  // namespace
}  // namespace berth::fs
