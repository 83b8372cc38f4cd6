// Docker's JSON progress stream for pull and push, as dockerd writes it
// (moby's streamformatter and jsonmessage.JSONMessage), so the docker CLI
// draws its bars from it. One JSON object per line, fields in Go's order
// and Go's HTML-safe escapes (">" is \u003e):
//
//   {"status":"Pulling from library/busybox","id":"latest"}          a message: no progressDetail
//   {"status":"Pulling fs layer","progressDetail":{},"id":"0123456789ab"}
//   {"status":"Downloading","progressDetail":{"current":1,"total":2},
//    "progress":"[=========================\u003e                         ]       1B/2B","id":"0123456789ab"}
//   {"status":"Digest: sha256:..."}
//   {"status":"latest: digest: sha256:... size: 527"}                push's end, then
//   {"progressDetail":{},"aux":{"Tag":"latest","Digest":"sha256:...","Size":527}}
//   {"errorDetail":{"message":"..."},"error":"..."}                  an error in the stream
//
// A layer event (an id, not "Pulling from") is an update: progressDetail
// always, {} without byte counts (Go's omitempty drops zero counts). Pure
// functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/engine/images.h"

namespace berth::ipc {

// The line(s) for one event, each ending in '\n'.
std::string progress_json(const engine::RegistryProgress& e);
// {"errorDetail":{"message":m},"error":m} and '\n'.
std::string progress_error_json(std::string_view message);
// jsonmessage.JSONProgress.String() at dockerd's width (200 columns): the
// 50-column bar, then "%8v/%v" of the sizes ("[==>   ]  1.049MB/5MB").
std::string progress_bar(int64_t current, int64_t total);
// go-units HumanSize: 4 significant digits, decimal units ("1.049MB", "512B").
std::string go_human_size(double bytes);

}  // namespace berth::ipc
