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
#include "ipc/proto/progress_bar.h"  // the "progress" text, at dockerd's 200 columns

namespace berth::ipc {

// The line(s) for one event, each ending in '\n'.
std::string progress_json(const engine::RegistryProgress& e);
// {"errorDetail":{"message":m},"error":m} and '\n'.
std::string progress_error_json(std::string_view message);

}  // namespace berth::ipc
