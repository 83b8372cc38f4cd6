// The text of a progress bar in Docker's JSON progress stream: moby's
// jsonmessage.JSONProgress.String(), which dockerd puts in a message's
// "progress" field (at 200 columns) and the docker CLI draws again from
// "progressDetail" at its terminal's width. Pure; any thread.
#pragma once

#include <cstdint>
#include <string>

namespace berth::ipc {

// "[==>    ]  1.049MB/5MB": the 50-column bar only when `width` > 110, then
// "%8v/%v" of the sizes ("%8v" alone when current > total); "" when both
// are 0, and the size alone without a total.
std::string progress_bar(int64_t current, int64_t total, int width = 200);
// go-units HumanSize: 4 significant digits, decimal units ("1.049MB", "512B").
std::string go_human_size(double bytes);

}  // namespace berth::ipc
