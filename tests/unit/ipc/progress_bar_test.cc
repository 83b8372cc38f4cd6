// moby's JSONProgress.String() and go-units HumanSize (ipc/proto/progress_bar.h).
#include "ipc/proto/progress_bar.h"

#include <gtest/gtest.h>

namespace berth::ipc {
namespace {

TEST(ProgressBar, HumanSizeLikeGoUnits) {
  EXPECT_EQ(go_human_size(0), "0B");
  EXPECT_EQ(go_human_size(512), "512B");
  EXPECT_EQ(go_human_size(44815), "44.81kB");
  EXPECT_EQ(go_human_size(2153000), "2.153MB");
  EXPECT_EQ(go_human_size(1048576), "1.049MB");
  EXPECT_EQ(go_human_size(5e9), "5GB");
  EXPECT_EQ(go_human_size(999), "999B");
  EXPECT_EQ(go_human_size(1000), "1kB");
}

TEST(ProgressBar, BarAtDaemonWidth) {
  EXPECT_EQ(progress_bar(0, 0), "");
  EXPECT_EQ(progress_bar(1, 2), "[=========================>                         ]       1B/2B");
  EXPECT_EQ(progress_bar(2140160, 2140160),
            "[==================================================>]   2.14MB/2.14MB");
  // A count past the total shows the count alone; no total, the size alone.
  EXPECT_EQ(progress_bar(3, 2), "[==================================================>]       3B");
  EXPECT_EQ(progress_bar(1500, 0), "   1.5kB");
}

TEST(ProgressBar, NarrowTerminalShowsSizesOnly) {
  EXPECT_EQ(progress_bar(1, 2, 80), "      1B/2B");
  EXPECT_EQ(progress_bar(1, 2, 111), "[=========================>                         ]       1B/2B");
}

}  // namespace
}  // namespace berth::ipc
