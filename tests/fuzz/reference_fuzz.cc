// libFuzzer target for the image reference parser (fs/reference.h): any
// input is parsed as a reference and as a tag target. What parses must
// print back to a string that parses to the same reference (the full form
// and the familiar one), and the printed forms must be fixed points.
//
// Run by tools/fuzz (clang-16, ASan); see tests/fuzz/README.md.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fs/reference.h"

namespace {

void check_round_trip(const berth::fs::Reference& r, const char* what) {
  for (const std::string& text : {r.string(), r.familiar_string()}) {
    auto again = berth::fs::parse_reference(text);
    if (!again || !(*again == r)) {
      std::fprintf(stderr, "%s: \"%s\" does not parse back to the same reference (%s)\n", what, text.c_str(),
                   again ? again->string().c_str() : again.error().message().c_str());
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = berth::fs::parse_reference(in)) check_round_trip(*r, "parse_reference");
  if (auto r = berth::fs::parse_tag_reference(in)) {
    // A tag target has a tag and no digest; its printed form is a reference.
    auto again = berth::fs::parse_reference(r->string());
    if (!again) {
      std::fprintf(stderr, "parse_tag_reference: \"%s\" does not parse as a reference\n", r->string().c_str());
      std::abort();
    }
  }
  return 0;
}
