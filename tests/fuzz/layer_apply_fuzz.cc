// libFuzzer target for the layer applier (fs/layer.h, fs/tree_writer.h):
// every input is offered as a layer tar (plain or compressed, whatever
// libarchive makes of it). Whether apply_layer accepts or refuses it, nothing
// may appear, change or vanish outside the target directory; a violation
// aborts, which libFuzzer reports with the input that caused it.
//
// Not part of CI (needs clang; run for a bounded time by hand):
//   cmake -S . -B build-fuzz -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF -DBERTH_BENCH=OFF \
//         -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
//   cmake --build build-fuzz --target fuzz_layer_apply
//   build-fuzz/bin/fuzz_layer_apply -max_total_time=300 -rss_limit_mb=4096
// As root it also exercises ownership, device nodes and overlay whiteouts.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "fs/layer.h"

namespace {

namespace stdfs = std::filesystem;

// The sandbox: <tmp>/target is the layer's root (made anew for each input);
// <tmp>/canary is what an escape would touch ("../canary/x", "/..",
// symlinks planted by earlier entries) and must stay exactly as made.
struct Sandbox {
  std::string dir, target, canary;
  Sandbox() {
    char tmpl[] = "/tmp/berth-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    dir = tmpl;
    target = dir + "/target";
    canary = dir + "/canary";
    stdfs::create_directory(canary);
    FILE* f = std::fopen((canary + "/file").c_str(), "w");
    if (!f) std::abort();
    std::fputs("canary\n", f);
    std::fclose(f);
  }
  ~Sandbox() {  // libFuzzer ends with exit(): leave nothing in /tmp
    std::error_code ec;
    stdfs::remove_all(dir, ec);
  }
};

Sandbox& sandbox() {
  static Sandbox s;
  return s;
}

void check_untouched(const Sandbox& s) {
  size_t entries = 0;
  for (const auto& e : stdfs::directory_iterator(s.dir)) {
    std::string name = e.path().filename();
    if (name != "target" && name != "canary") {
      std::fprintf(stderr, "escape: %s appeared next to the target\n", e.path().c_str());
      std::abort();
    }
    entries++;
  }
  size_t in_canary = 0;
  for (const auto& e : stdfs::directory_iterator(s.canary)) {
    (void)e;
    in_canary++;
  }
  struct stat st;
  if (in_canary != 1 || ::lstat((s.canary + "/file").c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 7) {
    std::fprintf(stderr, "escape: the canary directory changed\n");
    std::abort();
  }
  (void)entries;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Sandbox& s = sandbox();
  std::error_code ec;
  stdfs::remove_all(s.target, ec);   // does not follow symlinks
  stdfs::create_directory(s.target);
  int fd = ::memfd_create("layer", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  for (size_t off = 0; off < size;) {
    ssize_t n = ::write(fd, data + off, size - off);
    if (n <= 0) std::abort();
    off += size_t(n);
  }
  ::lseek(fd, 0, SEEK_SET);
  berth::fs::ApplyOptions opts;
  opts.preserve_owner = ::geteuid() == 0;
  (void)berth::fs::apply_layer(fd, s.target, opts);   // refusing is fine; escaping is not
  ::close(fd);
  check_untouched(s);
  return 0;
}
