// stream_pieces: hands a stream that is made on the job pool a piece at a
// time (about 1 MiB; a tar from fs::RootfsTar or fs::PathTar) from the bulk
// lane to the reactor thread, with back-pressure: the next piece is made only once the
// receiver calls `more`. Used by export and by cp out (GET archive).
//
// `open` runs on the job pool, once, before the first piece; the producer
// it returns then runs on the job pool, one call at a time, and is
// destroyed with the stream (after the last piece, an error, or once the
// receiver drops `more`). `piece` runs on the reactor thread. Neither may
// touch engine objects from the job pool.
//
// Thread: call from the reactor thread.
#pragma once

#include <functional>
#include <string>

#include "core/base/result.h"
#include "core/engine/options.h"
#include "core/reactor/reactor.h"

namespace berth::engine {

// Appends the next part to `*out` (until at least `budget_bytes` or the
// end); true once the stream is complete.
using PieceProducer = std::function<Result<bool>(std::string* out, size_t budget_bytes)>;
using OpenProducer = std::function<Result<PieceProducer>()>;

// `what` names the operation in the queue-full error ("export").
void stream_pieces(reactor::Reactor& r, OpenProducer open, ExportPiece piece, std::string what);

}  // namespace berth::engine
