#include "core/engine/piece_stream.h"

#include <memory>

namespace berth::engine {

namespace {

constexpr size_t kPieceBytes = 1 << 20;

// One stream in progress, owned by the closures that continue it (the next
// job, or the `more` handed to the receiver). `producer_` is used by one job
// at a time and by nothing else; `piece_` only on the reactor thread.
class PieceRun : public std::enable_shared_from_this<PieceRun> {
 public:
  PieceRun(reactor::Reactor& r, OpenProducer open, ExportPiece piece, std::string what)
      : r_(r), open_(std::move(open)), piece_(std::move(piece)), what_(std::move(what)) {}

  void next() {
    auto self = shared_from_this();
    if (!r_.run_bulk([self] { self->make(); }, [self] { self->deliver(); }))
      piece_(Error(Code::kSystem, fmt::format("{}: berthd is too busy (job backlog full); try again", what_)), true, {});
  }

 private:
  void make() {  // job pool
    out_.clear();
    if (!producer_) {
      auto p = open_();
      if (!p) {
        result_ = std::move(p.error());
        return;
      }
      producer_ = std::move(*p);
    }
    result_ = producer_(&out_, kPieceBytes);
  }

  void deliver() {  // reactor
    if (!result_) return piece_(std::move(result_.error()), true, {});
    bool last = *result_;
    std::function<void()> more;
    if (!last) more = [self = shared_from_this()] { self->next(); };
    piece_(std::move(out_), last, std::move(more));
  }

  reactor::Reactor& r_;
  OpenProducer open_;
  ExportPiece piece_;
  std::string what_;
  PieceProducer producer_;
  std::string out_;
  Result<bool> result_ = false;
};

}  // namespace

void stream_pieces(reactor::Reactor& r, OpenProducer open, ExportPiece piece, std::string what) {
  std::make_shared<PieceRun>(r, std::move(open), std::move(piece), std::move(what))->next();
}

}  // namespace berth::engine
