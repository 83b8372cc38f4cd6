// The pull and push progress stream drawn as the docker CLI draws it
// (moby's jsonmessage.DisplayJSONMessagesStream): on a terminal, one line
// per layer, each redrawn in place (cursor up to its line, clear, write,
// cursor back down) with a bar at the terminal's width; otherwise plain
// lines ("0123456789ab: Pull complete"), byte counts left out.
//
// Pure: feed() turns one JSON line of the daemon's stream into the bytes to
// write; no I/O. Thread: one owner.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace berth::ctl {

class ProgressDisplay {
 public:
  // `width`: the terminal's columns (the bar is drawn only past 110, as
  // the docker CLI does); ignored when not a terminal.
  ProgressDisplay(bool terminal, int width) : terminal_(terminal), width_(width) {}

  // One line of the stream. An {"errorDetail":...} line returns "" and sets
  // *error to its message; {"aux":...} lines (push's result) draw nothing.
  std::string feed(std::string_view json_line, std::string* error);

 private:
  bool terminal_;
  int width_;
  std::map<std::string, unsigned> lines_;  // layer id -> its line, counted from the first
};

}  // namespace berth::ctl
