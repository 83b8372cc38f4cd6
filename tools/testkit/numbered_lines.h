// The output of `berth-testinit numbered N`: 16-byte lines (15 digits and a
// newline). NumberedSplitter cuts a byte stream that arrives in arbitrary
// pieces back into those lines; shared by the logs tests and berth-bench.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace berth::test {

inline constexpr size_t kNumberedLineBytes = 16;

class NumberedSplitter {
 public:
  // Calls line(view of 16 bytes) for every whole line in `data`, carrying a
  // partial line over to the next call.
  template <class F>
  void feed(std::string_view data, F&& line) {
    if (!partial_.empty()) {
      size_t need = kNumberedLineBytes - partial_.size();
      partial_.append(data.substr(0, need));
      data.remove_prefix(std::min(need, data.size()));
      if (partial_.size() < kNumberedLineBytes) return;
      line(std::string_view(partial_));
      partial_.clear();
    }
    for (; data.size() >= kNumberedLineBytes; data.remove_prefix(kNumberedLineBytes))
      line(data.substr(0, kNumberedLineBytes));
    partial_.assign(data);
  }
  // Bytes of an unfinished last line.
  size_t pending() const { return partial_.size(); }

 private:
  std::string partial_;
};

}  // namespace berth::test
